using System;
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

    /// <summary>
    /// Whether <see cref="Parameter{T, TV, TS}"/> costs enough (a log) that short rows compute theirs a vector's width at
    /// a time, one lane each, rather than one row at a time.
    /// </summary>
    static abstract bool CostlyParameter { get; }

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
/// What happens to an element of A on its way into an operation: the logits z. The engines visit A run by run (a
/// contiguous stretch of the last group); for each run they ask the input for its <see cref="Place"/>, then call
/// <see cref="Apply"/> on every vector they load from it.
/// </summary>
internal unsafe interface IInput
{
    /// <summary>
    /// True where <see cref="Apply"/> is a few instructions, false where it is long (a mask, a bias, the causal mask).
    /// The row kernels compile their loop over a run on its own for a long Apply (see CpuKernels.Slices).
    /// </summary>
    static abstract bool Light { get; }

    /// <summary>What the input needs to know of the run that starts at element <paramref name="offset"/> of A.</summary>
    RunPlace Place(int offset);

    /// <summary>
    /// The logits z of <paramref name="a"/>, the vector of A whose first lane is element <paramref name="first"/> of the run at
    /// <paramref name="place"/>; only its first <paramref name="count"/> lanes are used (a full vector where count is
    /// a vector's length). <paramref name="pad"/> is room for one vector.
    /// </summary>
    TV Apply<TStorage, T, TV, TS, TIO>(TV a, in RunPlace place, nuint first, nuint count, T* pad)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        where TIO : struct, IStorage<TStorage, T, TV>;

    /// <summary>
    /// <see cref="Apply"/> without the rules that exclude by index ([From, To) of the place: the causal mask, a mask
    /// entry shared by the whole run), for callers that read only that stretch of a run.
    /// </summary>
    TV ApplyInside<TStorage, T, TV, TS, TIO>(TV a, in RunPlace place, nuint first, nuint count, T* pad)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        where TIO : struct, IStorage<TStorage, T, TV>;
}

/// <summary>
/// A run of A as the options see it: where its mask and bias entries start, and the elements [From, To) of it that
/// the causal mask (or a mask entry shared by the whole run) leaves included.
/// </summary>
internal readonly struct RunPlace(int mask, int bias, int from, int to)
{
    public readonly int Mask = mask;

    public readonly int Bias = bias;

    public readonly int From = from;

    public readonly int To = to;

    /// <summary>A run with nothing excluded by index.</summary>
    public static RunPlace Whole => new(0, 0, int.MinValue, int.MaxValue);

    /// <summary>The included stretch [lo, hi) of a run of <paramref name="length"/> elements (empty: lo = hi).</summary>
    public void Clip(nuint length, out nuint lo, out nuint hi)
    {
        lo = From <= 0 ? 0 : Math.Min((nuint)From, length);
        hi = To <= 0 ? 0 : Math.Min((nuint)To, length);
        hi = Math.Max(hi, lo);
    }
}

/// <summary>z = A: the plain operations.</summary>
internal readonly unsafe struct Logits : IInput
{
    public static bool Light => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RunPlace Place(int offset) => RunPlace.Whole;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<TStorage, T, TV, TS, TIO>(TV a, in RunPlace place, nuint first, nuint count, T* pad)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        where TIO : struct, IStorage<TStorage, T, TV>
        => ApplyInside<TStorage, T, TV, TS, TIO>(a, place, first, count, pad);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV ApplyInside<TStorage, T, TV, TS, TIO>(TV a, in RunPlace place, nuint first, nuint count, T* pad)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        where TIO : struct, IStorage<TStorage, T, TV>
        => a;
}

/// <summary>z = scale · A (a temperature: scale = 1 / T).</summary>
internal readonly unsafe struct Scaled(double scale) : IInput
{
    public static bool Light => true;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RunPlace Place(int offset) => RunPlace.Whole;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<TStorage, T, TV, TS, TIO>(TV a, in RunPlace place, nuint first, nuint count, T* pad)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        where TIO : struct, IStorage<TStorage, T, TV>
        => ApplyInside<TStorage, T, TV, TS, TIO>(a, place, first, count, pad);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV ApplyInside<TStorage, T, TV, TS, TIO>(TV a, in RunPlace place, nuint first, nuint count, T* pad)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        where TIO : struct, IStorage<TStorage, T, TV>
        => TS.Multiply(a, TS.Create(T.CreateTruncating(scale)));
}

/// <summary>
/// z = scale · A + bias, −∞ where the mask or the causal mask excludes the element (whatever A holds there), for a
/// layout with options. The layout says where each run lies (<see cref="ISoftmaxLayout.Locate"/>) and how the mask
/// and the bias move along it; the mask is one byte per entry, 0 excluding.
/// </summary>
internal readonly unsafe struct Placed<TLayout>(double scale, byte* mask, void* bias, TLayout layout) : IInput
    where TLayout : struct, ISoftmaxLayout
{
    private readonly float single = (float)scale;

    public static bool Light => false;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public RunPlace Place(int offset)
    {
        var at = layout.Locate(offset);
        int from = int.MinValue, to = int.MaxValue;
        if (layout.HasCausal)
        {
            // Key index k is included while k ≤ q + K − Q.
            int limit = at.Query + layout.CausalShift;
            switch (layout.CausalRun)
            {
                case CausalRun.Key:
                    to = (int)Math.Clamp((long)limit - at.Key + 1, int.MinValue, int.MaxValue);
                    break;
                case CausalRun.Query:
                    from = (int)Math.Clamp((long)at.Key - layout.CausalShift - at.Query, int.MinValue, int.MaxValue);
                    break;
                default:
                    to = at.Key <= limit ? to : int.MinValue;
                    break;
            }
        }

        if (layout.HasMask && layout.MaskRunStride == 0 && mask[at.Mask] == 0)
        {
            to = int.MinValue; // the whole run shares one mask entry, and it excludes
        }

        return new RunPlace(at.Mask, at.Bias, from, to);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV Apply<TStorage, T, TV, TS, TIO>(TV a, in RunPlace place, nuint first, nuint count, T* pad)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        where TIO : struct, IStorage<TStorage, T, TV>
    {
        var z = ApplyInside<TStorage, T, TV, TS, TIO>(a, place, first, count, pad);
        return layout.HasCausal || (layout.HasMask && layout.MaskRunStride == 0)
            ? TS.Select(TS.Within(first, place.From, place.To), z, TS.Create(T.NegativeInfinity))
            : z;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public TV ApplyInside<TStorage, T, TV, TS, TIO>(TV a, in RunPlace place, nuint first, nuint count, T* pad)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TV : unmanaged
        where TS : struct, ISimd<TV, T>
        where TIO : struct, IStorage<TStorage, T, TV>
    {
        // The scale as T: float's conversion is done once, not per vector.
        var z = TS.Multiply(a, TS.Create(typeof(T) == typeof(float) ? (T)(object)single : T.CreateTruncating(scale)));
        if (layout.HasBias)
        {
            var entries = (TStorage*)bias + place.Bias;
            var added = layout.BiasRunStride == 0 ? TS.Create(TIO.ToCompute(*entries))
                : count >= (nuint)TS.Count ? TIO.Load(entries + first)
                : TIO.LoadPartial(entries + first, count, pad);
            z = TS.Add(z, added);
        }

        return layout.HasMask && layout.MaskRunStride == 1
            ? TS.Select(TS.NonZero(mask + place.Mask + first, count, pad), z, TS.Create(T.NegativeInfinity))
            : z;
    }
}
