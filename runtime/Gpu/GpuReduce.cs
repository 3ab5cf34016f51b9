using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Deterministic reductions across a warp and across a group: a butterfly of warp shuffles, then one value per warp
/// through shared memory and a second butterfly. Every thread receives the result; the order of operations is fixed,
/// so results do not vary from run to run (ILGPU.Algorithms' group reductions use atomics and do).
/// </summary>
/// <remarks>Requires a group size that is a multiple of the warp size and at most warp size² threads.</remarks>
internal static class GpuReduce
{
    public static TAccumulator WarpMax<TAccumulator, TMath>(TAccumulator value)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        for (int distance = Warp.WarpSize / 2; distance > 0; distance >>= 1)
        {
            value = default(TMath).Max(value, Warp.ShuffleXor(value, distance));
        }

        return value;
    }

    public static TAccumulator WarpSum<TAccumulator, TMath>(TAccumulator value)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        for (int distance = Warp.WarpSize / 2; distance > 0; distance >>= 1)
        {
            value = default(TMath).Add(value, Warp.ShuffleXor(value, distance));
        }

        return value;
    }

    /// <summary>
    /// The maximum over each aligned run of <paramref name="lanes"/> lanes (a power of two, at most the warp size): a
    /// butterfly over the distances below <paramref name="lanes"/> never leaves its run. Every lane of the warp must
    /// take part, also those whose run has no work.
    /// </summary>
    public static TAccumulator SegmentMax<TAccumulator, TMath>(TAccumulator value, int lanes)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        for (int distance = lanes / 2; distance > 0; distance >>= 1)
        {
            value = default(TMath).Max(value, Warp.ShuffleXor(value, distance));
        }

        return value;
    }

    /// <summary>The sum over each aligned run of <paramref name="lanes"/> lanes, as <see cref="SegmentMax"/>.</summary>
    public static TAccumulator SegmentSum<TAccumulator, TMath>(TAccumulator value, int lanes)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        for (int distance = lanes / 2; distance > 0; distance >>= 1)
        {
            value = default(TMath).Add(value, Warp.ShuffleXor(value, distance));
        }

        return value;
    }

    /// <summary>
    /// The maximum over each row of <paramref name="lanes"/> lanes of a register row kernel
    /// (<see cref="GpuKernels.ForwardRowsWarp"/>): within a warp, <see cref="SegmentMax"/>; for a row of several warps
    /// (<paramref name="lanes"/> the group size, a power of two times the warp size), each warp's maximum through
    /// <paramref name="scratch"/>, one word a warp, one barrier, then a butterfly over those words, which every lane
    /// reads. Every thread of the group must take part. <paramref name="scratch"/> is free again once every warp
    /// passed the next barrier: the kernels alternate two of them.
    /// </summary>
    public static TAccumulator RowMax<TAccumulator, TMath>(TAccumulator value, int lanes, ArrayView<TAccumulator> scratch)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        value = SegmentMax<TAccumulator, TMath>(value, lanes < Warp.WarpSize ? lanes : Warp.WarpSize);
        if (lanes > Warp.WarpSize)
        {
            int warps = lanes / Warp.WarpSize;
            value = SegmentMax<TAccumulator, TMath>(AcrossWarps(value, warps, scratch), warps);
        }

        return value;
    }

    /// <summary>The sum over each row of <paramref name="lanes"/> lanes of a register row kernel, as <see cref="RowMax"/>.</summary>
    public static TAccumulator RowSum<TAccumulator, TMath>(TAccumulator value, int lanes, ArrayView<TAccumulator> scratch)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        value = SegmentSum<TAccumulator, TMath>(value, lanes < Warp.WarpSize ? lanes : Warp.WarpSize);
        if (lanes > Warp.WarpSize)
        {
            int warps = lanes / Warp.WarpSize;
            value = SegmentSum<TAccumulator, TMath>(AcrossWarps(value, warps, scratch), warps);
        }

        return value;
    }

    /// <summary>
    /// Each warp's value (the same on all its lanes) into <paramref name="scratch"/>, a barrier, and to lane l the
    /// value of warp l mod <paramref name="warps"/>: each run of <paramref name="warps"/> lanes then holds every warp's
    /// value in warp order.
    /// </summary>
    private static TAccumulator AcrossWarps<TAccumulator>(TAccumulator value, int warps, ArrayView<TAccumulator> scratch)
        where TAccumulator : unmanaged
    {
        if (Warp.IsFirstLane)
        {
            scratch[Warp.WarpIdx] = value;
        }

        Group.Barrier();
        return scratch[Warp.LaneIdx % warps];
    }

    /// <summary>Combines online (max, sum) pairs across the warp.</summary>
    public static void WarpCombine<TAccumulator, TMath>(ref TAccumulator max, ref TAccumulator sum)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        for (int distance = Warp.WarpSize / 2; distance > 0; distance >>= 1)
        {
            var otherMax = Warp.ShuffleXor(max, distance);
            var otherSum = Warp.ShuffleXor(sum, distance);
            default(TMath).Combine(ref max, ref sum, otherMax, otherSum);
        }
    }

    public static TAccumulator GroupMax<TAccumulator, TMath>(TAccumulator value, ArrayView<TAccumulator> scratch)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        value = WarpMax<TAccumulator, TMath>(value);
        if (Warp.IsFirstLane)
        {
            scratch[Warp.WarpIdx] = value;
        }

        Group.Barrier();
        value = Warp.LaneIdx < Group.DimX / Warp.WarpSize ? scratch[Warp.LaneIdx] : default(TMath).NegativeInfinity;
        value = WarpMax<TAccumulator, TMath>(value);
        Group.Barrier(); // the scratch is free again
        return value;
    }

    public static TAccumulator GroupSum<TAccumulator, TMath>(TAccumulator value, ArrayView<TAccumulator> scratch)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        value = WarpSum<TAccumulator, TMath>(value);
        if (Warp.IsFirstLane)
        {
            scratch[Warp.WarpIdx] = value;
        }

        Group.Barrier();
        value = Warp.LaneIdx < Group.DimX / Warp.WarpSize ? scratch[Warp.LaneIdx] : default(TMath).Zero;
        value = WarpSum<TAccumulator, TMath>(value);
        Group.Barrier();
        return value;
    }

    /// <summary>Combines online (max, sum) pairs across the group; <paramref name="scratch"/> holds two values per warp.</summary>
    public static void GroupCombine<TAccumulator, TMath>(ref TAccumulator max, ref TAccumulator sum, ArrayView<TAccumulator> scratch)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        WarpCombine<TAccumulator, TMath>(ref max, ref sum);
        if (Warp.IsFirstLane)
        {
            scratch[2 * Warp.WarpIdx] = max;
            scratch[2 * Warp.WarpIdx + 1] = sum;
        }

        Group.Barrier();
        bool holds = Warp.LaneIdx < Group.DimX / Warp.WarpSize;
        max = holds ? scratch[2 * Warp.LaneIdx] : default(TMath).NegativeInfinity;
        sum = holds ? scratch[2 * Warp.LaneIdx + 1] : default(TMath).Zero;
        WarpCombine<TAccumulator, TMath>(ref max, ref sum);
        Group.Barrier();
    }
}

/// <summary>How the threads that share a slice in a cached slice kernel reduce over it: every one receives the result.</summary>
internal interface IGpuSliceReduction<T>
    where T : unmanaged
{
    T Max(T value);

    T Sum(T value);
}

/// <summary>Over the group (<see cref="GpuReduce.GroupMax"/>, <see cref="GpuReduce.GroupSum"/>): barriers and a scratch in shared memory.</summary>
internal readonly struct GroupReduction<T, TMath> : IGpuSliceReduction<T>
    where T : unmanaged
    where TMath : struct, IGpuMath<T>
{
    private readonly ArrayView<T> _scratch;

    public GroupReduction(ArrayView<T> scratch) => _scratch = scratch;

    public T Max(T value) => GpuReduce.GroupMax<T, TMath>(value, _scratch);

    public T Sum(T value) => GpuReduce.GroupSum<T, TMath>(value, _scratch);
}

/// <summary>Over the warp (<see cref="GpuReduce.WarpMax"/>, <see cref="GpuReduce.WarpSum"/>): shuffles only.</summary>
internal readonly struct WarpReduction<T, TMath> : IGpuSliceReduction<T>
    where T : unmanaged
    where TMath : struct, IGpuMath<T>
{
    public T Max(T value) => GpuReduce.WarpMax<T, TMath>(value);

    public T Sum(T value) => GpuReduce.WarpSum<T, TMath>(value);
}
