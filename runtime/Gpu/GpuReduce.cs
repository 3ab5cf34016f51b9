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
    public static TAccumulator WarpMax<TStorage, TAccumulator, TElement>(TAccumulator value)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
    {
        for (int distance = Warp.WarpSize / 2; distance > 0; distance >>= 1)
        {
            value = default(TElement).Max(value, Warp.ShuffleXor(value, distance));
        }

        return value;
    }

    public static TAccumulator WarpSum<TStorage, TAccumulator, TElement>(TAccumulator value)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
    {
        for (int distance = Warp.WarpSize / 2; distance > 0; distance >>= 1)
        {
            value = default(TElement).Add(value, Warp.ShuffleXor(value, distance));
        }

        return value;
    }

    /// <summary>Combines online (max, sum) pairs across the warp.</summary>
    public static void WarpCombine<TStorage, TAccumulator, TElement>(ref TAccumulator max, ref TAccumulator sum)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
    {
        for (int distance = Warp.WarpSize / 2; distance > 0; distance >>= 1)
        {
            var otherMax = Warp.ShuffleXor(max, distance);
            var otherSum = Warp.ShuffleXor(sum, distance);
            default(TElement).Combine(ref max, ref sum, otherMax, otherSum);
        }
    }

    public static TAccumulator GroupMax<TStorage, TAccumulator, TElement>(TAccumulator value, ArrayView<TAccumulator> scratch)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
    {
        value = WarpMax<TStorage, TAccumulator, TElement>(value);
        if (Warp.IsFirstLane)
        {
            scratch[Warp.WarpIdx] = value;
        }

        Group.Barrier();
        value = Warp.LaneIdx < Group.DimX / Warp.WarpSize ? scratch[Warp.LaneIdx] : default(TElement).NegativeInfinity;
        value = WarpMax<TStorage, TAccumulator, TElement>(value);
        Group.Barrier(); // the scratch is free again
        return value;
    }

    public static TAccumulator GroupSum<TStorage, TAccumulator, TElement>(TAccumulator value, ArrayView<TAccumulator> scratch)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
    {
        value = WarpSum<TStorage, TAccumulator, TElement>(value);
        if (Warp.IsFirstLane)
        {
            scratch[Warp.WarpIdx] = value;
        }

        Group.Barrier();
        value = Warp.LaneIdx < Group.DimX / Warp.WarpSize ? scratch[Warp.LaneIdx] : default(TElement).Zero;
        value = WarpSum<TStorage, TAccumulator, TElement>(value);
        Group.Barrier();
        return value;
    }

    /// <summary>Combines online (max, sum) pairs across the group; <paramref name="scratch"/> holds two values per warp.</summary>
    public static void GroupCombine<TStorage, TAccumulator, TElement>(ref TAccumulator max, ref TAccumulator sum, ArrayView<TAccumulator> scratch)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
    {
        WarpCombine<TStorage, TAccumulator, TElement>(ref max, ref sum);
        if (Warp.IsFirstLane)
        {
            scratch[2 * Warp.WarpIdx] = max;
            scratch[2 * Warp.WarpIdx + 1] = sum;
        }

        Group.Barrier();
        bool holds = Warp.LaneIdx < Group.DimX / Warp.WarpSize;
        max = holds ? scratch[2 * Warp.LaneIdx] : default(TElement).NegativeInfinity;
        sum = holds ? scratch[2 * Warp.LaneIdx + 1] : default(TElement).Zero;
        WarpCombine<TStorage, TAccumulator, TElement>(ref max, ref sum);
        Group.Barrier();
    }
}
