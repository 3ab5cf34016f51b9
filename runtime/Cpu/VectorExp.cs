using System.Numerics;
using System.Runtime.CompilerServices;

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
/// Accuracy is about 1 ulp in both precisions.
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

        var clamped = Vector.MinNative(Vector.MaxNative(x, new Vector<float>(Underflow)), new Vector<float>(Overflow));
        var shifted = Vector.FusedMultiplyAdd(clamped, new Vector<float>(Log2E), new Vector<float>(Shifter));
        var k = shifted - new Vector<float>(Shifter);
        var exponent = shifted.As<float, int>() - new Vector<float>(Shifter).As<float, int>();

        var r = Vector.FusedMultiplyAdd(k, new Vector<float>(-Ln2High), clamped);
        r = Vector.FusedMultiplyAdd(k, new Vector<float>(-Ln2Low), r);

        // e^r ≈ 1 + r + r² (1/2 + r (1/6 + r (1/24 + r (1/120 + r (1/720 + ...))))), minimax-adjusted coefficients.
        var p = new Vector<float>(1.9875691500e-4f);
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1.3981999507e-3f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(8.3334519073e-3f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(4.1665795894e-2f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(1.6666665459e-1f));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<float>(5.0000001201e-1f));
        p = Vector.FusedMultiplyAdd(p, r * r, r) + Vector<float>.One;

        var half = Vector.ShiftRightArithmetic(exponent, 1);
        var result = p * Pow2(half) * Pow2(exponent - half);

        result = Vector.ConditionalSelect(Vector.GreaterThan(x, new Vector<float>(Overflow)), new Vector<float>(float.PositiveInfinity), result);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);

        static Vector<float> Pow2(Vector<int> exponent) => Vector.ShiftLeft(exponent + new Vector<int>(127), 23).As<int, float>();
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

        var clamped = Vector.MinNative(Vector.MaxNative(x, new Vector<double>(Underflow)), new Vector<double>(Overflow));
        var shifted = Vector.FusedMultiplyAdd(clamped, new Vector<double>(Log2E), new Vector<double>(Shifter));
        var k = shifted - new Vector<double>(Shifter);
        var exponent = shifted.As<double, long>() - new Vector<double>(Shifter).As<double, long>();

        var r = Vector.FusedMultiplyAdd(k, new Vector<double>(-Ln2High), clamped);
        r = Vector.FusedMultiplyAdd(k, new Vector<double>(-Ln2Low), r);

        // Taylor series of e^r to r^13: with |r| ≤ 0.35 the first term left out is below 2^-57.
        var p = new Vector<double>(1.0 / 6227020800.0);
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 479001600.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 39916800.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 3628800.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 362880.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 40320.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 5040.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 720.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 120.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 24.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(1.0 / 6.0));
        p = Vector.FusedMultiplyAdd(p, r, new Vector<double>(0.5));
        p = Vector.FusedMultiplyAdd(p, r * r, r) + Vector<double>.One;

        var half = Vector.ShiftRightArithmetic(exponent, 1);
        var result = p * Pow2(half) * Pow2(exponent - half);

        result = Vector.ConditionalSelect(Vector.GreaterThan(x, new Vector<double>(Overflow)), new Vector<double>(double.PositiveInfinity), result);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);

        static Vector<double> Pow2(Vector<long> exponent) => Vector.ShiftLeft(exponent + new Vector<long>(1023), 52).As<long, double>();
    }
}
