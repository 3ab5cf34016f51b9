using System;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>Which kernel runs a layout on an accelerator, and with what launch configuration.</summary>
internal enum GpuStrategy
{
    /// <summary>A thread per slice; consecutive threads own adjacent slices (the last axis is a batch axis).</summary>
    Lanes,

    /// <summary>As <see cref="Lanes"/>, each thread's slice kept in shared memory: read from device memory once.</summary>
    LanesCached,

    /// <summary>A warp per slice, the slice in registers (short slices).</summary>
    Warp,

    /// <summary>A group per slice, the slice in shared memory: read from device memory once.</summary>
    Cached,

    /// <summary>A group per slice too long for shared memory: an online max-and-sum pass, then the output pass.</summary>
    Streamed,
}

/// <summary>
/// The launch decision for one call: a strategy and, for the grouped ones, the grid and group sizes, and the shared
/// memory; for a cached backward pass, whether shared memory also holds the current cotangent's slice.
/// </summary>
internal readonly record struct GpuLaunch(GpuStrategy Strategy, int Groups, int GroupSize, int SharedElements, bool CotangentCached = false)
{
    /// <summary>Bytes of dynamic shared memory a group may ask for on any CUDA device without opting in.</summary>
    private const int SharedBudget = 48 * 1024;

    /// <summary>
    /// Picks the kernel for a layout. The cached kernels keep A's slice (forward) or B's slice (backward) in shared
    /// memory; a backward pass over slices also keeps the current cotangent's slice there when both fit.
    /// </summary>
    public static GpuLaunch Choose(Accelerator accelerator, ISoftmaxLayout layout, int accumulatorSize, bool backward)
    {
        int warp = accelerator.WarpSize;
        // Group sizes are whole warps, at most warp² threads (the reductions fold one value per warp in one warp).
        int maxGroup = Math.Min(Math.Min(accelerator.MaxNumThreadsPerGroup, warp * warp), 512) / warp * warp;
        int slices = layout.SliceCount;
        int length = layout.SliceLength;
        long budget = Math.Min(SharedBudget, accelerator.MaxSharedMemoryPerGroup) - GpuKernels.ScratchLength * accumulatorSize;

        if (layout.LanesInner)
        {
            // As many lanes as shared memory holds slices of, in whole warps; fewer than two warps' worth would leave
            // too few threads on a multiprocessor to keep memory busy: then each slice is read twice instead.
            long perLane = (long)length * accumulatorSize;
            int lanes = (int)Math.Min(maxGroup, budget / perLane) / warp * warp;
            return lanes >= 2 * warp
                ? new GpuLaunch(GpuStrategy.LanesCached, Grid(accelerator, (slices + lanes - 1) / lanes, lanes), lanes, length * lanes)
                : new GpuLaunch(GpuStrategy.Lanes, 0, 0, 0);
        }

        if (length <= GpuKernels.WarpElementsPerLane * warp)
        {
            int groupSize = Math.Min(maxGroup, 8 * warp);
            int warps = groupSize / warp;
            return new GpuLaunch(GpuStrategy.Warp, Grid(accelerator, (slices + warps - 1) / warps, groupSize), groupSize, 0);
        }

        // About eight elements a thread, from two warps up to the largest group.
        int threads = Math.Clamp((length / 8 + warp - 1) / warp * warp, Math.Min(2 * warp, maxGroup), maxGroup);
        long sliceBytes = (long)length * accumulatorSize;
        int groups = Grid(accelerator, slices, threads);
        if (backward && 2 * sliceBytes <= budget)
        {
            return new GpuLaunch(GpuStrategy.Cached, groups, threads, 2 * length, CotangentCached: true);
        }

        return sliceBytes <= budget
            ? new GpuLaunch(GpuStrategy.Cached, groups, threads, length)
            : new GpuLaunch(GpuStrategy.Streamed, groups, threads, 0);
    }

    /// <summary>Enough groups to fill the device a few times over; the kernels stride over the rest.</summary>
    private static int Grid(Accelerator accelerator, int groupsWanted, int groupSize)
    {
        long resident = (long)Math.Max(1, accelerator.NumMultiprocessors) * Math.Max(1, accelerator.MaxNumThreadsPerMultiprocessor / groupSize);
        return (int)Math.Max(1, Math.Min(groupsWanted, resident * 4));
    }
}

/// <summary>
/// When the row kernels (<see cref="GpuKernels.ForwardRowsCached"/>, <see cref="GpuKernels.ForwardRowsOnline"/>,
/// <see cref="GpuKernels.BackwardRows"/>) may run: their 16-byte loads and stores need every row to start on a 16-byte
/// boundary, so each slice must be one contiguous run (the last axis reduced, no other reduced axis: slice s then
/// starts at s · length), the row length a whole number of 16 bytes (4 floats, 2 doubles, 8 halves), and every view
/// start 16-byte aligned. Anything else takes the element kernels.
/// </summary>
internal static class GpuRows
{
    /// <summary>Bytes a row kernel moves per load or store.</summary>
    private const int Bytes = 16;

    /// <summary>Whether the layout's slices are aligned rows for elements of <paramref name="elementSize"/> bytes.</summary>
    public static bool Fit(IGpuSoftmaxLayout layout, int elementSize) =>
        !layout.LanesInner && layout.RunCount == 1 && layout.SliceLength > 0 && (long)layout.SliceLength * elementSize % Bytes == 0;

    /// <summary>Whether the view starts on a 16-byte boundary of device memory (an empty view always does).</summary>
    public static bool Aligned<T>(ArrayView<T> view)
        where T : unmanaged
        => view.Length == 0 || Address(view) % Bytes == 0;

    private static long Address<TView>(TView view)
        where TView : struct, IContiguousArrayView
        => (long)view.Buffer.NativePtr + view.IndexInBytes;
}
