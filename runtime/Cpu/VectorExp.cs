using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

/// <summary>
/// exp over vectors for what softmax passes it: x ≤ 0, −∞ or NaN (an element less its slice's max). One algorithm per
/// precision for every CPU path and vector width, with no data-dependent path: every lane is computed the same way
/// whatever its neighbours hold (lanes may be independent slices).
/// </summary>
/// <remarks>
/// x is clamped at the underflow threshold (below it e^x rounds to 0; −∞ becomes that too), reduced to
/// x = k ln 2 + r with |r| ≤ ln 2 / 2 (k rounded to nearest by adding 1.5 · 2^mantissa bits, ln 2 split so that
/// k · ln 2 high is exact), e^r taken from a polynomial, and p · 2^k formed with one rounding: by <c>vscalef</c> on
/// 512-bit vectors, and by adding k + bias to p's exponent field and multiplying by 2^−bias on <see cref="Vector{T}"/>
/// (p · 2^(k + bias) is normal and exact for every k ≥ the clamp, so both round the same product once: the same bits).
/// A NaN lane stays NaN. About 1 ulp in both precisions. Positive x is outside the contract: the
/// <see cref="Vector{T}"/> forms overflow the exponent field from x ≈ 43 (float) or 620 (double).
/// </remarks>
internal static class VectorExp
{
    private const float FloatShifter = 12582912f; // 1.5 · 2^23
    private const float FloatLog2E = 1.44269504088896341f;
    private const float FloatLn2High = 0.693359375f;
    private const float FloatLn2Low = -2.12194440e-4f;
    private const float FloatUnderflow = -104f;
    private const int FloatBias = 64;

    private const double DoubleShifter = 6755399441055744.0; // 1.5 · 2^52
    private const double DoubleLog2E = 1.4426950408889634;
    private const double DoubleLn2High = 6.93147180369123816490e-01;
    private const double DoubleLn2Low = 1.90821492927058770002e-10;
    private const double DoubleUnderflow = -746.0;
    private const long DoubleBias = 128;

    /// <summary>exp of 16 floats (AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        // vmaxps returns its second operand when either is NaN: a NaN x survives the clamp.
        var clamped = Avx512F.Max(Vector512.Create(FloatUnderflow), x);
        var k = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(FloatLog2E), Vector512.Create(FloatShifter)) - Vector512.Create(FloatShifter);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-FloatLn2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-FloatLn2Low), r);

        var p = Vector512.Create(1.9875691500e-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        return Avx512F.Scale(p, k);
    }

    /// <summary>exp of 8 doubles (AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Exp(Vector512<double> x)
    {
        var clamped = Avx512F.Max(Vector512.Create(DoubleUnderflow), x);
        var k = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(DoubleLog2E), Vector512.Create(DoubleShifter)) - Vector512.Create(DoubleShifter);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-DoubleLn2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-DoubleLn2Low), r);
        return Avx512F.Scale(DoublePolynomial(r), k);
    }

    /// <summary>exp of <see cref="Vector{T}"/> of float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
    {
        var clamped = Vector.MaxNative(x, Vector.Create(FloatUnderflow));
        var shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(FloatLog2E), Vector.Create(FloatShifter));
        var k = shifted - Vector.Create(FloatShifter);
        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-FloatLn2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-FloatLn2Low), r);

        var p = Vector.Create(1.9875691500e-4f);
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.3981999507e-3f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(8.3334519073e-3f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(4.1665795894e-2f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(1.6666665459e-1f));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(5.0000001201e-1f));
        p = Vector.MultiplyAddEstimate(p, r * r, r) + Vector<float>.One;

        // The bits of shifted are those of the shifter plus k: shifting them into the exponent field drops the shifter's.
        var biased = Vector.ShiftLeft(shifted.As<float, int>() + Vector.Create(127 + FloatBias), 23);
        var result = p * biased.As<int, float>() * Vector.Create(BitConverter.Int32BitsToSingle((127 - FloatBias) << 23));
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    /// <summary>exp of <see cref="Vector{T}"/> of double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Exp(Vector<double> x)
    {
        var clamped = Vector.MaxNative(x, Vector.Create(DoubleUnderflow));
        var shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(DoubleLog2E), Vector.Create(DoubleShifter));
        var k = shifted - Vector.Create(DoubleShifter);
        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-DoubleLn2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-DoubleLn2Low), r);
        var p = DoublePolynomial(r);

        var biased = Vector.ShiftLeft(shifted.As<double, long>() + Vector.Create(1023 + DoubleBias), 52);
        var result = p * biased.As<long, double>() * Vector.Create(BitConverter.Int64BitsToDouble((1023 - DoubleBias) << 52));
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    /// <summary>e^r for |r| ≤ ln 2 / 2 in double: the Taylor series to r^13 (the first term left out is below 2^-57).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> DoublePolynomial(Vector512<double> r)
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

    /// <inheritdoc cref="DoublePolynomial(Vector512{double})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> DoublePolynomial(Vector<double> r)
    {
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
}
