using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

/// <summary>
/// exp over vectors with no data-dependent path: every lane is computed the same way whatever its neighbours hold.
/// </summary>
/// <remarks>
/// The library's <c>Vector.Exp</c> switches a whole vector to a slower path when one lane is out of range (a
/// masked -∞, a NaN), which changes the last bit of the other lanes. Lanes are independent slices here, so a
/// slice's result would depend on another slice's data. This version reduces x = k ln 2 + r with |r| ≤ ln 2 / 2,
/// evaluates a polynomial for e^r, and scales by 2^k in two halves so that results reach into the subnormals.
/// Out-of-range lanes are fixed afterwards by selection: NaN stays NaN, large x gives +∞, very negative x gives 0.
/// Accuracy is about 1 ulp in both precisions. The <see cref="Vector{T}"/> versions fuse their multiply-adds where the
/// hardware can (FMA, NEON) and round them twice where it cannot (x86 without FMA), rather than emulate them.
/// </remarks>
internal static class VectorExp
{
    // The reduction x = k ln 2 + r, |r| ≤ ln 2 / 2, in float: adding Shifter (1.5 · 2^23) rounds x · log2 e to the
    // integer k, held in the low mantissa bits (the bits of Shifter + k are ShifterBits + k); ln 2 is split so that
    // k · Ln2High is exact. Below Underflow e^x rounds to 0; above Overflow it is +∞.
    private const float FloatShifter = 12582912f;
    private const int FloatShifterBits = 0x4B400000;
    private const float FloatLog2E = 1.44269504088896341f;
    private const float FloatLn2High = 0.693359375f;
    private const float FloatLn2Low = -2.12194440e-4f;
    private const float FloatOverflow = 88.7228394f;
    private const float FloatUnderflow = -104f;

    // The same in double (Shifter 1.5 · 2^52).
    private const double DoubleShifter = 6755399441055744.0;
    private const long DoubleShifterBits = 0x4338000000000000;
    private const double DoubleLog2E = 1.4426950408889634;
    private const double DoubleLn2High = 6.93147180369123816490e-01;
    private const double DoubleLn2Low = 1.90821492927058770002e-10;
    private const double DoubleOverflow = 709.782712893384;
    private const double DoubleUnderflow = -746.0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
    {
        var clamped = Vector.MinNative(Vector.MaxNative(x, Vector.Create(FloatUnderflow)), Vector.Create(FloatOverflow));
        var p = Reduced(clamped, out var shifted);
        var exponent = shifted.As<float, int>() - Vector.Create(FloatShifterBits);
        var half = Vector.ShiftRightArithmetic(exponent, 1);
        var result = p * Pow2(half) * Pow2(exponent - half);

        result = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector.Create(FloatOverflow)), Vector.Create(float.PositiveInfinity), result);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Exp(Vector<double> x)
    {
        var clamped = Vector.MinNative(Vector.MaxNative(x, Vector.Create(DoubleUnderflow)), Vector.Create(DoubleOverflow));
        var p = Reduced(clamped, out var shifted);
        var exponent = shifted.As<double, long>() - Vector.Create(DoubleShifterBits);
        var half = Vector.ShiftRightArithmetic(exponent, 1);
        var result = p * Pow2(half) * Pow2(exponent - half);

        result = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector.Create(DoubleOverflow)), Vector.Create(double.PositiveInfinity), result);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    /// <summary>
    /// exp of a softmax's shifted logits x - max (≤ 0 wherever the result counts; see <see cref="ISimd{TV, T}.Exp"/>): the same bits as
    /// <see cref="Exp(Vector{float})"/> wherever x ≤ 43, in 20 operations instead of 27. No result overflows there,
    /// so the clamp from above and the overflow selection go, and 2^k is applied without building powers of two:
    /// k + 64 is added to the exponent field of p (p · 2^(k+64) is a normal number for every k from the clamp at -104
    /// up to 63, so the add is exact), and one multiply by 2^-64 gives p · 2^k, exact where it is normal and rounded
    /// once where it is subnormal, as the two-step scaling does. Above 43 the exponent field overflows: not for x ≤ 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> ExpShifted(Vector<float> x)
    {
        const int Bias = 64;
        var p = Reduced(Vector.MaxNative(x, Vector.Create(FloatUnderflow)), out var shifted);
        var biased = Vector.ShiftLeft(shifted.As<float, int>() - Vector.Create(FloatShifterBits - Bias), 23);
        var result = (p.As<float, int>() + biased).As<int, float>() * Vector.Create(BitConverter.Int32BitsToSingle((127 - Bias) << 23));
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    /// <summary>
    /// exp of a softmax's shifted logits in double: the same bits as <see cref="Exp(Vector{double})"/> wherever
    /// x ≤ 620 (see <see cref="ExpShifted(Vector{float})"/>; here k + 128 goes into the exponent field, then 2^-128).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> ExpShifted(Vector<double> x)
    {
        const long Bias = 128;
        var p = Reduced(Vector.MaxNative(x, Vector.Create(DoubleUnderflow)), out var shifted);
        var biased = Vector.ShiftLeft(shifted.As<double, long>() - Vector.Create(DoubleShifterBits - Bias), 52);
        var result = (p.As<double, long>() + biased).As<long, double>() * Vector.Create(BitConverter.Int64BitsToDouble((1023 - Bias) << 52));
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    /// <summary>
    /// e^r for <paramref name="clamped"/> = k ln 2 + r (float); <paramref name="shifted"/> is Shifter + k, whose bits
    /// hold k. e^r ≈ 1 + r + r² (1/2 + r (1/6 + r (1/24 + r (1/120 + r (1/720 + ...))))), minimax-adjusted coefficients.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Reduced(Vector<float> clamped, out Vector<float> shifted)
    {
        shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(FloatLog2E), Vector.Create(FloatShifter));
        var k = shifted - Vector.Create(FloatShifter);
        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-FloatLn2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-FloatLn2Low), r);

        var p = Vector.Create(1.9875691500e-4f);
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.3981999507e-3f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(8.3334519073e-3f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(4.1665795894e-2f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.6666665459e-1f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(5.0000001201e-1f));
        return Vector.MultiplyAddEstimate(p, r * r, r) + Vector<float>.One;
    }

    /// <summary>
    /// e^r for <paramref name="clamped"/> = k ln 2 + r (double; see <see cref="Reduced(Vector{float}, out Vector{float})"/>):
    /// the Taylor series to r^13, whose first term left out is below 2^-57 for |r| ≤ 0.35.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Reduced(Vector<double> clamped, out Vector<double> shifted)
    {
        shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(DoubleLog2E), Vector.Create(DoubleShifter));
        var k = shifted - Vector.Create(DoubleShifter);
        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-DoubleLn2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-DoubleLn2Low), r);

        var p = Vector.Create(1.0 / 6227020800.0);
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 479001600.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 39916800.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 3628800.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 362880.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 40320.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 5040.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 720.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 120.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 24.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.0 / 6.0));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(0.5));
        return Vector.MultiplyAddEstimate(p, r * r, r) + Vector<double>.One;
    }

    /// <summary>
    /// exp on 512-bit vectors of float: the same reduction and polynomial as <see cref="Exp(Vector{float})"/>, but
    /// the scaling by 2^k is one <c>vscalefps</c> where AVX-512 is present. It rounds p · 2^k once, gives +∞ past
    /// the overflow threshold and 0 (or the correctly rounded subnormal) below the normal range by itself, so the
    /// integer exponent arithmetic, the two-step scaling and the overflow selection all go: 17 operations instead of 27.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        const float Saturate = 89f; // k = 128 from here on: p · 2^128 overflows to +∞, as e^x does

        if (!Avx512F.IsSupported)
        {
            return Portable(x);
        }

        var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(FloatUnderflow)), Vector512.Create(Saturate));
        var k = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(FloatLog2E), Vector512.Create(FloatShifter)) - Vector512.Create(FloatShifter);

        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-FloatLn2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-FloatLn2Low), r);

        var result = Avx512F.Scale(Polynomial(r), k);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);

        static Vector512<float> Portable(Vector512<float> x)
        {
            var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(FloatUnderflow)), Vector512.Create(FloatOverflow));
            var shifted = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(FloatLog2E), Vector512.Create(FloatShifter));
            var k = shifted - Vector512.Create(FloatShifter);
            var exponent = shifted.AsInt32() - Vector512.Create(FloatShifter).AsInt32();

            var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-FloatLn2High), clamped);
            r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-FloatLn2Low), r);

            var half = Vector512.ShiftRightArithmetic(exponent, 1);
            var result = Polynomial(r) * Pow2(half) * Pow2(exponent - half);

            result = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(FloatOverflow)), Vector512.Create(float.PositiveInfinity), result);
            return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
        }

        // e^r ≈ 1 + r + r² (1/2 + r (1/6 + ...)), the coefficients of the Vector<float> version.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<float> Polynomial(Vector512<float> r)
        {
            var p = Vector512.Create(1.9875691500e-4f);
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
            return Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        }
    }

    /// <summary>
    /// exp on 512-bit vectors of double: the reduction and polynomial of <see cref="Exp(Vector{double})"/>, scaled by
    /// one <c>vscalefpd</c> where AVX-512 is present (see <see cref="Exp(Vector512{float})"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Exp(Vector512<double> x)
    {
        const double Saturate = 710.0; // k = 1024 from here on: p · 2^1024 overflows to +∞

        if (!Avx512F.IsSupported)
        {
            return Portable(x);
        }

        var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(DoubleUnderflow)), Vector512.Create(Saturate));
        var k = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(DoubleLog2E), Vector512.Create(DoubleShifter)) - Vector512.Create(DoubleShifter);

        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-DoubleLn2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-DoubleLn2Low), r);

        var result = Avx512F.Scale(Polynomial(r), k);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);

        static Vector512<double> Portable(Vector512<double> x)
        {
            var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(DoubleUnderflow)), Vector512.Create(DoubleOverflow));
            var shifted = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(DoubleLog2E), Vector512.Create(DoubleShifter));
            var k = shifted - Vector512.Create(DoubleShifter);
            var exponent = shifted.AsInt64() - Vector512.Create(DoubleShifter).AsInt64();

            var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-DoubleLn2High), clamped);
            r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-DoubleLn2Low), r);

            var half = Vector512.ShiftRightArithmetic(exponent, 1);
            var result = Polynomial(r) * Pow2(half) * Pow2(exponent - half);

            result = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(DoubleOverflow)), Vector512.Create(double.PositiveInfinity), result);
            return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static Vector512<double> Polynomial(Vector512<double> r)
        {
            var p = Vector512.Create(1.0 / 6227020800.0);
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 479001600.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 39916800.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 3628800.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 362880.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 40320.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 5040.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 720.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 120.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 24.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.0 / 6.0));
            p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5));
            return Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<double>.One;
        }
    }

    /// <summary>2^exponent for exponents in the normal range (float).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Pow2(Vector<int> exponent) => Vector.ShiftLeft(exponent + Vector.Create(127), 23).As<int, float>();

    /// <summary>2^exponent for exponents in the normal range (double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> Pow2(Vector<long> exponent) => Vector.ShiftLeft(exponent + Vector.Create(1023L), 52).As<long, double>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pow2(Vector512<int> exponent) => Vector512.ShiftLeft(exponent + Vector512.Create(127), 23).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> Pow2(Vector512<long> exponent) => Vector512.ShiftLeft(exponent + Vector512.Create(1023L), 52).AsDouble();
}
