using System.Numerics;
using System.Runtime.CompilerServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// What an operation of the softmax family computes from a slice, given the passes every engine runs: the slice's max
/// (the shift, 0 for a slice with nothing included) and the sum of exp(z − shift) over it. The engines own the walk
/// (tiles, runs, lanes, threads, stores); an operation owns only this arithmetic. One struct per operation serves the
/// CPU engine (the vector members, specialised per vector type) and the GPU kernels (the scalar members, compiled by
/// ILGPU through <c>default(TOperation)</c>).
/// </summary>
/// <remarks>
/// The forward of a slice, on every path: z = the logits after the input transform (<see cref="IInput"/>);
/// shift = max z (0 when it is −∞); sum = Σ exp(z − shift); B = <see cref="Output{T, TV, TS}"/>(value, parameter),
/// where value is <see cref="Value{T, TV, TS}"/>(z, shift) and parameter is <see cref="Parameter{T, TV, TS}"/>(shift, sum).
/// The backward of a cotangent dB of B: d is the sum that <see cref="Accumulate{T, TV, TS}"/> builds over B and dB, then
/// dA = <see cref="Pullback{T, TV, TS}"/>(B, dB, d).
/// </remarks>
internal interface IOperation
{
    /// <summary>
    /// What an engine with room keeps of an element between the sum pass and the output pass, from z − shift and its
    /// exp (both computed by the sum pass): the same as <see cref="Value{T, TV, TS}"/> would give. Keeping it in the
    /// output lets the sum pass's arithmetic hide the output's first writes.
    /// </summary>
    static abstract TV Kept<T, TV, TS>(TV centered, TV exp)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>;

    /// <summary>The per-slice number the output is made with, from the slice's shift and sum (per lane: one slice each).</summary>
    static abstract TV Parameter<T, TV, TS>(TV shift, TV sum)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>;

    /// <summary>What the output is made of, per element: exp(z − shift) or z − shift.</summary>
    static abstract TV Value<T, TV, TS>(TV z, TV shift)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>;

    /// <summary>The output B from a value and the slice's parameter.</summary>
    static abstract TV Output<T, TV, TS>(TV value, TV parameter)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>;

    /// <summary>Adds the backward's per-element terms of d for B and dB to <paramref name="sum"/>.</summary>
    static abstract TV Accumulate<T, TV, TS>(TV sum, TV b, TV dB)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>;

    /// <summary>dA from B, dB and the slice's d.</summary>
    static abstract TV Pullback<T, TV, TS>(TV b, TV dB, TV dot)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>;
}

/// <summary>
/// The scalar form of <see cref="IOperation"/> for the ILGPU kernels, which call it through <c>default(TOperation)</c> in
/// the kernels' accumulator type (float for float and Half, double for double) with its arithmetic
/// (<see cref="IGpuMath{T}"/>).
/// </summary>
internal interface IGpuOperation
{
    /// <summary>
    /// What a kernel that keeps the slice on chip keeps of an element between its sum and its output, from z − shift
    /// and its exp: the same as <see cref="Value{T, TMath}"/> would give.
    /// </summary>
    T Kept<T>(T centered, T exp)
        where T : unmanaged;

    /// <summary><see cref="IOperation.Value{T, TV, TS}"/> for one element.</summary>
    T Value<T, TMath>(T z, T shift, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>;

    /// <summary><see cref="IOperation.Parameter{T, TV, TS}"/> for one slice.</summary>
    T Parameter<T, TMath>(T shift, T sum, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>;

    /// <summary><see cref="IOperation.Output{T, TV, TS}"/> for one element.</summary>
    T Output<T, TMath>(T value, T parameter, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>;

    /// <summary>The backward's term of d for one element (d is their sum).</summary>
    T Term<T, TMath>(T b, T dB, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>;

    /// <summary><see cref="IOperation.Pullback{T, TV, TS}"/> for one element.</summary>
    T Pullback<T, TMath>(T b, T dB, T dot, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>;

    /// <summary>The Jacobian's entry ∂B_p/∂A_q for two elements of one slice (<paramref name="diagonal"/>: p = q).</summary>
    T Jacobian<T, TMath>(T bp, T bq, bool diagonal, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>;
}

/// <summary>
/// What happens to an element of A on its way into an operation: the logits z. The engines call
/// <see cref="Apply{T, TV, TS}"/> on every vector they load from A.
/// </summary>
internal interface IInput
{
    /// <summary>The logits z for the vector <paramref name="a"/> of A.</summary>
    TV Apply<T, TV, TS>(TV a)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>;
}

/// <summary>z = A: the plain operations.</summary>
internal readonly struct Logits : IInput
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<T, TV, TS>(TV a)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => a;
}

/// <summary>z = scale · A (a temperature: scale = 1 / T).</summary>
internal readonly struct Scaled(double scale) : IInput
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<T, TV, TS>(TV a)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        => TS.Multiply(a, TS.Create(T.CreateTruncating(scale)));
}
