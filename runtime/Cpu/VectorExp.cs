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
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
    {
        const float Shifter = 12582912f; // 1.5 · 2^23: adding it rounds to an integer held in the low mantissa bits
        const float Log2E = 1.44269504088896341f;
        const float Ln2High = 0.693359375f; // ln 2 split so that k · Ln2High is exact
        const float Ln2Low = -2.12194440e-4f;
        const float Overflow = 88.7228394f;
        const float Underflow = -104f; // below it e^x rounds to 0

        var clamped = Vector.MinNative(Vector.MaxNative(x, Vector.Create(Underflow)), Vector.Create(Overflow));
        var shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(Log2E), Vector.Create(Shifter));
        var k = shifted - Vector.Create(Shifter);
        var exponent = shifted.As<float, int>() - Vector.Create(Shifter).As<float, int>();

        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-Ln2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-Ln2Low), r);

        // e^r ≈ 1 + r + r² (1/2 + r (1/6 + r (1/24 + r (1/120 + r (1/720 + ...))))), minimax-adjusted coefficients.
        var p = Vector.Create(1.9875691500e-4f);
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.3981999507e-3f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(8.3334519073e-3f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(4.1665795894e-2f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.6666665459e-1f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(5.0000001201e-1f));
        p = Vector.MultiplyAddEstimate(p, r * r, r) + Vector<float>.One;

        var half = Vector.ShiftRightArithmetic(exponent, 1);
        var result = p * Pow2(half) * Pow2(exponent - half);

        result = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector.Create(Overflow)), Vector.Create(float.PositiveInfinity), result);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Exp(Vector<double> x)
    {
        const double Shifter = 6755399441055744.0; // 1.5 · 2^52
        const double Log2E = 1.4426950408889634;
        const double Ln2High = 6.93147180369123816490e-01;
        const double Ln2Low = 1.90821492927058770002e-10;
        const double Overflow = 709.782712893384;
        const double Underflow = -746.0;

        var clamped = Vector.MinNative(Vector.MaxNative(x, Vector.Create(Underflow)), Vector.Create(Overflow));
        var shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(Log2E), Vector.Create(Shifter));
        var k = shifted - Vector.Create(Shifter);
        var exponent = shifted.As<double, long>() - Vector.Create(Shifter).As<double, long>();

        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-Ln2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-Ln2Low), r);

        // Taylor series of e^r to r^13: with |r| ≤ 0.35 the first term left out is below 2^-57.
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
        p = Vector.MultiplyAddEstimate(p, r * r, r) + Vector<double>.One;

        var half = Vector.ShiftRightArithmetic(exponent, 1);
        var result = p * Pow2(half) * Pow2(exponent - half);

        result = Vector.ConditionalSelect(Vector.GreaterThan(x, Vector.Create(Overflow)), Vector.Create(double.PositiveInfinity), result);
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
        const float Shifter = 12582912f;
        const int ShifterBits = 0x4B400000; // the bits of Shifter: those of Shifter + k are ShifterBits + k
        const float Log2E = 1.44269504088896341f;
        const float Ln2High = 0.693359375f;
        const float Ln2Low = -2.12194440e-4f;
        const float Underflow = -104f;
        const int Bias = 64;

        var clamped = Vector.MaxNative(x, Vector.Create(Underflow));
        var shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(Log2E), Vector.Create(Shifter));
        var k = shifted - Vector.Create(Shifter);

        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-Ln2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-Ln2Low), r);

        var p = Vector.Create(1.9875691500e-4f);
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.3981999507e-3f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(8.3334519073e-3f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(4.1665795894e-2f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.6666665459e-1f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(5.0000001201e-1f));
        p = Vector.MultiplyAddEstimate(p, r * r, r) + Vector<float>.One;

        var biased = Vector.ShiftLeft(shifted.As<float, int>() - Vector.Create(ShifterBits - Bias), 23);
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
        const double Shifter = 6755399441055744.0;
        const long ShifterBits = 0x4338000000000000;
        const double Log2E = 1.4426950408889634;
        const double Ln2High = 6.93147180369123816490e-01;
        const double Ln2Low = 1.90821492927058770002e-10;
        const double Underflow = -746.0;
        const long Bias = 128;

        var clamped = Vector.MaxNative(x, Vector.Create(Underflow));
        var shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(Log2E), Vector.Create(Shifter));
        var k = shifted - Vector.Create(Shifter);

        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-Ln2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-Ln2Low), r);

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
        p = Vector.MultiplyAddEstimate(p, r * r, r) + Vector<double>.One;

        var biased = Vector.ShiftLeft(shifted.As<double, long>() - Vector.Create(ShifterBits - Bias), 52);
        var result = (p.As<double, long>() + biased).As<long, double>() * Vector.Create(BitConverter.Int64BitsToDouble((1023 - Bias) << 52));
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
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
        const float Shifter = 12582912f;
        const float Log2E = 1.44269504088896341f;
        const float Ln2High = 0.693359375f;
        const float Ln2Low = -2.12194440e-4f;
        const float Overflow = 88.7228394f;
        const float Underflow = -104f;
        const float Saturate = 89f; // k = 128 from here on: p · 2^128 overflows to +∞, as e^x does

        if (!Avx512F.IsSupported)
        {
            return Portable(x);
        }

        var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Underflow)), Vector512.Create(Saturate));
        var k = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(Log2E), Vector512.Create(Shifter)) - Vector512.Create(Shifter);

        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Low), r);

        var result = Avx512F.Scale(Polynomial(r), k);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);

        static Vector512<float> Portable(Vector512<float> x)
        {
            var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Underflow)), Vector512.Create(Overflow));
            var shifted = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(Log2E), Vector512.Create(Shifter));
            var k = shifted - Vector512.Create(Shifter);
            var exponent = shifted.AsInt32() - Vector512.Create(Shifter).AsInt32();

            var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2High), clamped);
            r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Low), r);

            var half = Vector512.ShiftRightArithmetic(exponent, 1);
            var result = Polynomial(r) * Pow2(half) * Pow2(exponent - half);

            result = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Overflow)), Vector512.Create(float.PositiveInfinity), result);
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
        const double Shifter = 6755399441055744.0;
        const double Log2E = 1.4426950408889634;
        const double Ln2High = 6.93147180369123816490e-01;
        const double Ln2Low = 1.90821492927058770002e-10;
        const double Overflow = 709.782712893384;
        const double Underflow = -746.0;
        const double Saturate = 710.0; // k = 1024 from here on: p · 2^1024 overflows to +∞

        if (!Avx512F.IsSupported)
        {
            return Portable(x);
        }

        var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Underflow)), Vector512.Create(Saturate));
        var k = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(Log2E), Vector512.Create(Shifter)) - Vector512.Create(Shifter);

        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Low), r);

        var result = Avx512F.Scale(Polynomial(r), k);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), result, x);

        static Vector512<double> Portable(Vector512<double> x)
        {
            var clamped = Vector512.MinNative(Vector512.MaxNative(x, Vector512.Create(Underflow)), Vector512.Create(Overflow));
            var shifted = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(Log2E), Vector512.Create(Shifter));
            var k = shifted - Vector512.Create(Shifter);
            var exponent = shifted.AsInt64() - Vector512.Create(Shifter).AsInt64();

            var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2High), clamped);
            r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Low), r);

            var half = Vector512.ShiftRightArithmetic(exponent, 1);
            var result = Polynomial(r) * Pow2(half) * Pow2(exponent - half);

            result = Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512.Create(Overflow)), Vector512.Create(double.PositiveInfinity), result);
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
