using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Log-softmax: B = (z − shift) − log Σ exp(z − shift), the shift subtracted first so that large logits keep their
/// digits; backward dA = dB − exp(B) · Σ dB over the elements with B &gt; −∞, and 0 where B = −∞. Excluded elements
/// (−∞) stay −∞; a slice with nothing included (its sum 0) gets parameter +∞, so that every output is −∞.
/// </summary>
internal readonly struct LogSoftmax : IOperation, IGpuOperation
{
    public static bool CostlyParameter => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Kept<T, TV, TS>(TV centered, TV exp)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => centered;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Parameter<T, TV, TS>(TV shift, TV sum)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
    {
        // log sees sums of at least 1 only (the max element adds exp(0)): an empty slice's 0 and a NaN are set aside.
        var empty = TS.Equal(sum, TS.Create(T.Zero));
        var number = TS.Equal(sum, sum);
        var log = TS.Log(TS.Select(number, TS.Select(empty, TS.Create(T.One), sum), TS.Create(T.One)));
        return TS.Select(empty, TS.Create(T.PositiveInfinity), TS.Select(number, log, sum));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Value<T, TV, TS>(TV z, TV shift)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Subtract(z, shift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Output<T, TV, TS>(TV value, TV parameter)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Subtract(value, parameter);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Accumulate<T, TV, TS>(TV sum, TV b, TV dB)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Add(sum, TS.Select(TS.Equal(b, TS.Create(T.NegativeInfinity)), TS.Create(T.Zero), dB));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Pullback<T, TV, TS>(TV b, TV dB, TV dot)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Select(TS.Equal(b, TS.Create(T.NegativeInfinity)), TS.Create(T.Zero), TS.Subtract(dB, TS.Multiply(TS.Exp(b), dot)));

    public T Kept<T>(T centered, T exp)
        where T : unmanaged
        => centered;

    public T Value<T, TMath>(T z, T shift, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Subtract(z, shift);

    public T Parameter<T, TMath>(T shift, T sum, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.IsZero(sum) ? math.PositiveInfinity : math.Log(sum);

    public T Output<T, TMath>(T value, T parameter, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Subtract(value, parameter);

    public T Term<T, TMath>(T b, T dB, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.IsNegativeInfinity(b) ? math.Zero : dB;

    public T Pullback<T, TMath>(T b, T dB, T dot, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.IsNegativeInfinity(b) ? math.Zero : math.Subtract(dB, math.Multiply(math.Exp(b), dot));

    /// <summary>∂B_p/∂A_q = δ_pq − exp(B_q) where both are above −∞, else 0.</summary>
    public T Jacobian<T, TMath>(T bp, T bq, bool diagonal, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.IsNegativeInfinity(bp) || math.IsNegativeInfinity(bq) ? math.Zero : math.Subtract(diagonal ? math.One : math.Zero, math.Exp(bq));
}
