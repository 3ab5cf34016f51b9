using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static SoftmaxGen.Runtime.ExpConstants;

namespace SoftmaxGen.Runtime;

/// <summary>
/// exp over vectors (<see cref="ExpConstants"/>) for what softmax passes it: x ≤ 0, −∞ or NaN (an element less its
/// slice's max). Every lane is computed the same way whatever its neighbours hold (lanes may be independent slices).
/// </summary>
/// <remarks>
/// x is clamped at the normal bound, so that no step makes a subnormal, and lanes below it are set to 0 at the end.
/// p · 2^k is formed by <c>vscalef</c> on 512-bit vectors and by building 2^k in the exponent field elsewhere: both are
/// exact, so every width gives the same bits. A NaN lane stays NaN. About 1 ulp in both precisions. Positive x is
/// outside the contract: the <see cref="Vector{T}"/> forms overflow the exponent field from x ≈ 88 (float) or 709 (double).
/// </remarks>
internal static class VectorExp
{
    /// <summary>exp of 16 floats (AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        // vmaxps returns its second operand when either is NaN: a NaN x survives the clamp.
        var clamped = Avx512F.Max(Vector512.Create(FloatNormalBound), x);
        var k = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(FloatLog2E), Vector512.Create(FloatShifter)) - Vector512.Create(FloatShifter);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-FloatLn2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-FloatLn2Low), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(FloatC6), r, Vector512.Create(FloatC5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(FloatC4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(FloatC3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(FloatC2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        // Not-less-than keeps NaN lanes (the comparison is true for them), and lets the JIT zero the others within vscalef.
        return Vector512.ConditionalSelect(Avx512F.CompareNotLessThan(x, Vector512.Create(FloatNormalBound)), Avx512F.Scale(p, k), Vector512<float>.Zero);
    }

    /// <summary>exp of 8 doubles (AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> Exp(Vector512<double> x)
    {
        var clamped = Avx512F.Max(Vector512.Create(DoubleNormalBound), x);
        var k = Vector512.FusedMultiplyAdd(clamped, Vector512.Create(DoubleLog2E), Vector512.Create(DoubleShifter)) - Vector512.Create(DoubleShifter);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-DoubleLn2High), clamped);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-DoubleLn2Low), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(DoubleC13), r, Vector512.Create(DoubleC12));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC11));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC10));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC9));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC8));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC7));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC6));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC5));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(DoubleC2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<double>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<double>.One);
        return Vector512.ConditionalSelect(Avx512F.CompareNotLessThan(x, Vector512.Create(DoubleNormalBound)), Avx512F.Scale(p, k), Vector512<double>.Zero);
    }

    /// <summary>exp of <see cref="Vector{T}"/> of float.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Exp(Vector<float> x)
    {
        var clamped = Vector.MaxNative(x, Vector.Create(FloatNormalBound));
        var shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(FloatLog2E), Vector.Create(FloatShifter));
        var k = shifted - Vector.Create(FloatShifter);
        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-FloatLn2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-FloatLn2Low), r);
        var p = Vector.MultiplyAddEstimate(Vector.Create(FloatC6), r, Vector.Create(FloatC5));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(FloatC4));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(FloatC3));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(FloatC2));
        p = Vector.MultiplyAddEstimate(p, r, Vector<float>.One);
        p = Vector.MultiplyAddEstimate(p, r, Vector<float>.One);

        // The bits of shifted are those of the shifter plus k: shifting them into the exponent field drops the shifter's.
        var power = Vector.ShiftLeft(shifted.As<float, int>() + Vector.Create(127), 23).As<int, float>();
        var result = Vector.ConditionalSelect(Vector.LessThan(x, Vector.Create(FloatNormalBound)), Vector<float>.Zero, p * power);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }

    /// <summary>exp of <see cref="Vector{T}"/> of double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> Exp(Vector<double> x)
    {
        var clamped = Vector.MaxNative(x, Vector.Create(DoubleNormalBound));
        var shifted = Vector.MultiplyAddEstimate(clamped, Vector.Create(DoubleLog2E), Vector.Create(DoubleShifter));
        var k = shifted - Vector.Create(DoubleShifter);
        var r = Vector.MultiplyAddEstimate(k, Vector.Create(-DoubleLn2High), clamped);
        r = Vector.MultiplyAddEstimate(k, Vector.Create(-DoubleLn2Low), r);
        var p = Vector.MultiplyAddEstimate(Vector.Create(DoubleC13), r, Vector.Create(DoubleC12));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC11));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC10));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC9));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC8));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC7));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC6));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC5));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC4));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC3));
        p = Vector.MultiplyAddEstimate(p, r, Vector.Create(DoubleC2));
        p = Vector.MultiplyAddEstimate(p, r, Vector<double>.One);
        p = Vector.MultiplyAddEstimate(p, r, Vector<double>.One);

        var power = Vector.ShiftLeft(shifted.As<double, long>() + Vector.Create(1023L), 52).As<long, double>();
        var result = Vector.ConditionalSelect(Vector.LessThan(x, Vector.Create(DoubleNormalBound)), Vector<double>.Zero, p * power);
        return Vector.ConditionalSelect(Vector.Equals(x, x), result, x);
    }
}
