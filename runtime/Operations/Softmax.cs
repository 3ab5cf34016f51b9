using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Softmax: B = exp(z − shift) / sum; backward dA = B ∘ (dB − Σ dB ∘ B). A slice that sums to 0 (nothing included, or
/// all −∞) gets parameter 0, so all its outputs are 0, and so is its backward (B = 0 everywhere).
/// </summary>
internal readonly struct Softmax : IOperation, IGpuOperation
{
    public static bool CostlyParameter => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Kept<T, TV, TS>(TV centered, TV exp)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => exp;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Parameter<T, TV, TS>(TV shift, TV sum)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Select(TS.Equal(sum, TS.Create(T.Zero)), TS.Create(T.Zero), TS.Divide(TS.Create(T.One), sum));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Value<T, TV, TS>(TV z, TV shift)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Exp(TS.Subtract(z, shift));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Output<T, TV, TS>(TV value, TV parameter)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Multiply(value, parameter);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Accumulate<T, TV, TS>(TV sum, TV b, TV dB)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.MultiplyAdd(b, dB, sum);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Pullback<T, TV, TS>(TV b, TV dB, TV dot)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Multiply(b, TS.Subtract(dB, dot));

    public T Kept<T>(T centered, T exp)
        where T : unmanaged
        => exp;

    public T Value<T, TMath>(T z, T shift, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Exp(math.Subtract(z, shift));

    public T Parameter<T, TMath>(T shift, T sum, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Reciprocal(sum);

    public T Output<T, TMath>(T value, T parameter, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Multiply(value, parameter);

    public T Term<T, TMath>(T b, T dB, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Multiply(dB, b);

    public T Pullback<T, TMath>(T b, T dB, T dot, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Multiply(b, math.Subtract(dB, dot));

    /// <summary>∂B_p/∂A_q = B_p (δ_pq − B_q).</summary>
    public T Jacobian<T, TMath>(T bp, T bq, bool diagonal, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Multiply(bp, math.Subtract(diagonal ? math.One : math.Zero, bq));
}
