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

    /// <summary>
    /// A run of lanes per aligned row, up to a warp, or several warps (a group a row), the row in registers and moved
    /// 16 bytes at a time (<see cref="GpuKernels.ForwardRowsWarp"/>): rows of up to 32 elements a lane.
    /// </summary>
    WarpRows,

    /// <summary>
    /// A warp per slice of several runs, too long for <see cref="Warp"/>, the slice in the warp's own region of shared
    /// memory (<see cref="GpuKernels.ForwardSlicesWarpCached"/>): read from device memory once, reduced with warp
    /// shuffles alone, no barrier.
    /// </summary>
    WarpCached,

    /// <summary>A group per slice, the slice in shared memory: read from device memory once.</summary>
    Cached,

    /// <summary>A group per slice too long for shared memory: an online max-and-sum pass, then the output pass.</summary>
    Streamed,

    /// <summary>
    /// Aligned lanes in whole groups of eight, eight adjacent slices a lane, the group's warps splitting the runs
    /// (<see cref="GpuKernels.ForwardLanesSplit"/>): the forward pass where <see cref="LanesCached"/> would give a
    /// group few lanes (<see cref="GpuLaunch.LanesSplit"/>).
    /// </summary>
    LanesSplit,
}

/// <summary>What the launch decision needs to know of an accelerator.</summary>
/// <param name="WarpSize">Threads a warp.</param>
/// <param name="MaxGroupSize">The most threads a group.</param>
/// <param name="SharedPerGroup">Bytes of shared memory a group may use without opting in (48 KB on CUDA devices).</param>
/// <param name="SharedOptIn">
/// Bytes of shared memory a group may use once its kernel opts in (<see cref="GpuSharedMemory"/>): about 227 KB on an
/// H100 or H200; 0 where no kernel can opt in (any accelerator other than CUDA).
/// </param>
/// <param name="Multiprocessors">Multiprocessors.</param>
/// <param name="ThreadsPerMultiprocessor">The most threads resident on a multiprocessor.</param>
internal readonly record struct GpuDevice(int WarpSize, int MaxGroupSize, int SharedPerGroup, int SharedOptIn, int Multiprocessors, int ThreadsPerMultiprocessor)
{
    public static GpuDevice Of(Accelerator accelerator) => new(
        accelerator.WarpSize, accelerator.MaxNumThreadsPerGroup, accelerator.MaxSharedMemoryPerGroup, GpuSharedMemory.OptInLimit(accelerator),
        accelerator.NumMultiprocessors, accelerator.MaxNumThreadsPerMultiprocessor);
}

/// <summary>
/// The launch decision for one call: a strategy and, for the grouped ones, the grid and group sizes, and the shared
/// memory; for a cached backward pass, whether shared memory also holds the current cotangent's slice; for
/// <see cref="GpuStrategy.WarpRows"/>, the lanes per row; whether the shared memory is past what a group may use
/// without opting in (<see cref="GpuSharedMemory"/>); for a cached forward pass, whether shared memory holds A as
/// stored (<see cref="CacheStored"/>).
/// </summary>
internal readonly record struct GpuLaunch(GpuStrategy Strategy, int Groups, int GroupSize, int SharedElements, bool CotangentCached = false, int Lanes = 0, bool SharedOptIn = false, bool CacheStored = false)
{
    /// <summary>Bytes of dynamic shared memory a group may ask for on any CUDA device without opting in.</summary>
    public const int SharedBudget = 48 * 1024;

    /// <summary>
    /// Picks the kernel for a layout whose elements take <paramref name="storageSize"/> bytes in device memory and
    /// <paramref name="accumulatorSize"/> in arithmetic. The cached kernels keep A's slice (forward) or B's slice
    /// (backward) in shared memory; a backward pass over slices also keeps the current cotangent's slice there when
    /// both fit.
    /// </summary>
    public static GpuLaunch Choose(Accelerator accelerator, IGpuSoftmaxLayout layout, int accumulatorSize, int storageSize, bool backward) =>
        Choose(GpuDevice.Of(accelerator), layout.LanesInner, layout.SliceCount, layout.SliceLength, accumulatorSize, storageSize, backward, layout.RunCount);

    /// <summary>
    /// <see cref="Choose(GpuDevice, bool, int, int, int, int, bool, int)"/> for slices that are one contiguous run each
    /// (rows; the lanes choice does not look at runs) of elements stored as their accumulators (float, double).
    /// </summary>
    public static GpuLaunch Choose(GpuDevice device, bool lanesInner, int slices, int length, int accumulatorSize, bool backward) =>
        Choose(device, lanesInner, slices, length, accumulatorSize, accumulatorSize, backward, runs: 1);

    /// <summary>
    /// <see cref="Choose(Accelerator, IGpuSoftmaxLayout, int, int, bool)"/> for <paramref name="slices"/> slices of
    /// <paramref name="length"/> elements in <paramref name="runs"/> runs (<paramref name="lanesInner"/>: the last axis
    /// is a batch axis). A slice of several runs that fits a warp's share of a group's shared memory takes
    /// <see cref="GpuStrategy.WarpCached"/>; one longer, or one of a single run, a group. A slice that
    /// does not fit the shared memory a group may use without opting in, but fits what it may use once its kernel
    /// opts in, takes the cached kernel with <see cref="SharedOptIn"/> (B's slice alone, for a backward pass). A
    /// forward row too long for that as accumulators, whose stored elements fit (a Half row up to twice as long),
    /// takes the cached row kernel with <see cref="CacheStored"/>, within 48 KB or opted in; longer slices the streamed
    /// kernel.
    /// </summary>
    /// <remarks>
    /// What a cached element takes in shared memory: the forward slice and row kernels keep logits and then
    /// exponentials, computed values, as accumulators (<paramref name="accumulatorSize"/>), or, with
    /// <see cref="CacheStored"/>, A as stored (<paramref name="storageSize"/>), recomputing each logit and exp from it;
    /// the backward slice and row kernels keep B and the cotangent as stored (a Half slice twice as long as a float one
    /// fits); the lanes kernels keep accumulators both ways. <see cref="SharedElements"/> counts elements of that size.
    /// The reductions' scratch is accumulators.
    /// </remarks>
    public static GpuLaunch Choose(GpuDevice device, bool lanesInner, int slices, int length, int accumulatorSize, int storageSize, bool backward, int runs)
    {
        int warp = device.WarpSize;
        int maxGroup = MaxGroup(device);
        long scratch = GpuKernels.ScratchLength * accumulatorSize;
        long budget = Math.Min(SharedBudget, device.SharedPerGroup) - scratch;
        int cachedSize = backward ? storageSize : accumulatorSize; // the slice and row kernels' cached element

        if (lanesInner)
        {
            // As many lanes as shared memory holds slices of, in whole warps; fewer than two warps' worth would leave
            // too few threads on a multiprocessor to keep memory busy: then each slice is read twice instead.
            long perLane = (long)length * accumulatorSize;
            int lanes = (int)Math.Min(maxGroup, budget / perLane) / warp * warp;
            return lanes >= 2 * warp
                ? new GpuLaunch(GpuStrategy.LanesCached, Grid(device, (slices + lanes - 1) / lanes, lanes), lanes, length * lanes)
                : new GpuLaunch(GpuStrategy.Lanes, 0, 0, 0);
        }

        if (length <= GpuKernels.WarpElementsPerLane * warp)
        {
            int groupSize = Math.Min(maxGroup, 8 * warp);
            int warps = groupSize / warp;
            return new GpuLaunch(GpuStrategy.Warp, Grid(device, (slices + warps - 1) / warps, groupSize), groupSize, 0);
        }

        // A slice of several runs (on a 32-wide warp, [B, 32, M, 32] with s1 = {1, 3}: 32 runs of 32) is reduced by one
        // warp where the slice fits the warp's share of the shared memory a group may use without opting in: the
        // group of the warp kernel, eight warps, splits 48 KB into 6 KB a warp (1 536 floats, 768 doubles; the
        // reductions are shuffles, so no scratch). A full share leaves four such groups on a multiprocessor of 228 KB
        // (half its threads); 32 runs of 32 floats, 4 KB a warp, seven. Longer slices take a group: its threads
        // then have several elements each. A slice of one run stays with the group kernels (and the row kernels with
        // their 16-byte moves, where aligned). The backward pass keeps the cotangent's slice beside B's where both fit.
        int warpGroup = Math.Min(maxGroup, 8 * warp);
        int groupWarps = warpGroup / warp;
        long share = Math.Min(SharedBudget, device.SharedPerGroup) / groupWarps;
        long warpSliceBytes = (long)length * cachedSize;
        if (runs > 1 && warpSliceBytes <= share)
        {
            bool both = backward && 2 * warpSliceBytes <= share;
            return new GpuLaunch(
                GpuStrategy.WarpCached, Grid(device, (slices + groupWarps - 1) / groupWarps, warpGroup), warpGroup, groupWarps * length * (both ? 2 : 1), CotangentCached: both);
        }

        // About eight elements a thread, from two warps up to the largest group.
        int threads = Math.Clamp((length / 8 + warp - 1) / warp * warp, Math.Min(2 * warp, maxGroup), maxGroup);
        long sliceBytes = (long)length * cachedSize;
        int groups = Grid(device, slices, threads);
        if (backward && 2 * sliceBytes <= budget)
        {
            return new GpuLaunch(GpuStrategy.Cached, groups, threads, 2 * length, CotangentCached: true);
        }

        if (sliceBytes <= budget)
        {
            return new GpuLaunch(GpuStrategy.Cached, groups, threads, length);
        }

        long optInBudget = device.SharedOptIn > SharedBudget ? device.SharedOptIn - scratch : 0;
        if (sliceBytes <= optInBudget)
        {
            return new GpuLaunch(GpuStrategy.Cached, groups, threads, length, SharedOptIn: true);
        }

        // A forward slice kept as stored costs an exp more an element than one kept as accumulators, and saves A's
        // second read from device memory against the streamed kernel.
        long storedBytes = (long)length * storageSize;
        if (!backward && storageSize < accumulatorSize && (storedBytes <= budget || storedBytes <= optInBudget))
        {
            return new GpuLaunch(GpuStrategy.Cached, groups, threads, length, SharedOptIn: storedBytes > budget, CacheStored: true);
        }

        return new GpuLaunch(GpuStrategy.Streamed, groups, threads, 0);
    }

    /// <summary>
    /// This launch once its kernel was asked to opt in to shared memory past 48 KB (<see cref="GpuSharedMemory.Raise"/>):
    /// unchanged where the kernel may use it (<paramref name="raised"/>) or where the launch does not need it; the
    /// streamed kernel on the same grid and groups, which needs no shared memory for the slice, where the driver
    /// refused.
    /// </summary>
    public GpuLaunch OptedIn(bool raised) => SharedOptIn && !raised ? Streaming() : this;

    /// <summary>The streamed kernel on this launch's grid and groups.</summary>
    public GpuLaunch Streaming() => new(GpuStrategy.Streamed, Groups, GroupSize, 0);

    /// <summary>
    /// The launch of the register row kernels (<see cref="GpuStrategy.WarpRows"/>) for <paramref name="slices"/>
    /// aligned rows of <paramref name="length"/> elements (<see cref="GpuRows.Fit"/>), or null where a row does not fit
    /// their registers: the lanes per row are the fewest, a power of two from 4 up, that hold
    /// <see cref="GpuKernels.WarpRowUnits"/> units of eight elements each. Up to a warp, a group of eight warps takes
    /// several rows at a time; past it, a group of as many threads as the row has lanes takes one, up to
    /// <see cref="GpuKernels.WarpRowWarps"/> warps (and the largest group). A row needing more lanes takes the other
    /// kernels: on a 32-wide warp, rows of more than 1 024 whole units, 8 192 elements, plus a tail of fewer than eight.
    /// </summary>
    /// <remarks>
    /// Why eight warps: a lane of the register row kernels holds 32 values of its row, with no launch bound to cap
    /// the registers the driver's compiler gives it. A group of 256 threads can be launched whatever that allocation
    /// is (255 registers · 256 threads fit the 64 K registers of a multiprocessor); a group of 512 only at 128
    /// registers a thread or fewer, which the backward pass of a double row does not leave (B's 32 values and a
    /// cotangent's take 128 registers alone): it would fail to launch, not merely run slower. Longer rows keep the
    /// row kernels with shared memory.
    /// </remarks>
    public static GpuLaunch? WarpRows(GpuDevice device, int slices, int length)
    {
        int warp = device.WarpSize;
        if (warp < 4 || (warp & (warp - 1)) != 0 || length <= 0)
        {
            return null;
        }

        int groupSize = Math.Min(MaxGroup(device), GpuKernels.WarpRowWarps * warp);
        int units = length / GpuKernels.RowUnit;
        int needed = (units + GpuKernels.WarpRowUnits - 1) / GpuKernels.WarpRowUnits;
        int lanes = 4;
        while (lanes < needed && (lanes < warp || 2 * lanes <= groupSize))
        {
            lanes *= 2;
        }

        if (lanes < needed)
        {
            return null;
        }

        // A row of several warps is a group's alone, so that all its warps reach the same barriers.
        groupSize = lanes > warp ? lanes : groupSize;
        int rows = groupSize / lanes;
        return new GpuLaunch(GpuStrategy.WarpRows, Grid(device, (slices + rows - 1) / rows, groupSize), groupSize, 0, Lanes: lanes);
    }

    /// <summary>The most warps of <see cref="GpuKernels.ForwardLanesSplit"/> that split a block of lanes' runs.</summary>
    public const int LanesSplitWarps = 8;

    /// <summary>
    /// The launch of <see cref="GpuKernels.ForwardLanesSplit"/> in place of <paramref name="lanes"/>, the choice for a
    /// forward lanes layout of <paramref name="slices"/> slices in <paramref name="runs"/> runs whose lanes come in whole
    /// groups of eight with A and B on 16-byte boundaries (<see cref="GpuLanes"/>), or null where
    /// <paramref name="lanes"/> stays. The rule: where <see cref="GpuStrategy.LanesCached"/> gives a group fewer than
    /// <see cref="LanesSplitWarps"/> warps of lanes (on an H100, float slices of 48 to 191 elements: 48 KB holds fewer
    /// than 256 of them, at least 64), shared memory and not threads bounds each multiprocessor: its 228 KB hold about
    /// 57 000 / C float slices, a thread each, at most some 1 200 of its 2 048 threads (384 for 128 channels, six
    /// groups of 64); the split kernel's groups hold warp × 8 lanes whatever the slice length, 16 KB of
    /// partial pairs for float (32 KB double), eight groups of 256 threads a multiprocessor. It reads A twice, the second
    /// time mostly from the L2 cache. Where even two warps of slices do not fit (<see cref="GpuStrategy.Lanes"/>) the
    /// eight-wide kernel stays; slices of one run have nothing to split.
    /// </summary>
    /// <remarks>
    /// Why eight warps: each warp takes every eighth run, so channel counts of 48 to 191 leave each warp 6 to 24 runs to
    /// fold before the one combine, and 256 threads a group, as the warp and register row kernels use, launch whatever
    /// registers a lane is given. Fewer runs than warps take one warp a run.
    /// </remarks>
    public static GpuLaunch? LanesSplit(GpuDevice device, GpuLaunch lanes, int slices, int runs)
    {
        int warp = device.WarpSize;
        if (lanes.Strategy != GpuStrategy.LanesCached || lanes.GroupSize >= LanesSplitWarps * warp)
        {
            return null;
        }

        int warps = Math.Min(Math.Min(LanesSplitWarps, MaxGroup(device) / warp), runs);
        if (warps < 2)
        {
            return null;
        }

        // One group per block of warp × 8 slices (the kernel has no grid-stride loop); a partial pair per slice and warp.
        int block = warp * GpuKernels.LanesPerThread;
        return new GpuLaunch(GpuStrategy.LanesSplit, (slices + block - 1) / block, warps * warp, 2 * warps * block);
    }

    /// <summary>Group sizes are whole warps, at most warp² threads (the reductions fold one value per warp in one warp).</summary>
    private static int MaxGroup(GpuDevice device) =>
        Math.Min(Math.Min(device.MaxGroupSize, device.WarpSize * device.WarpSize), 512) / device.WarpSize * device.WarpSize;

    /// <summary>Enough groups to fill the device a few times over; the kernels stride over the rest.</summary>
    private static int Grid(GpuDevice device, int groupsWanted, int groupSize)
    {
        long resident = (long)Math.Max(1, device.Multiprocessors) * Math.Max(1, device.ThreadsPerMultiprocessor / groupSize);
        return (int)Math.Max(1, Math.Min(groupsWanted, resident * 4));
    }
}

/// <summary>
/// When the row kernels (<see cref="GpuKernels.ForwardRowsCached"/>, <see cref="GpuKernels.ForwardRowsOnline"/>,
/// <see cref="GpuKernels.BackwardRows"/>) may run: their 16-byte loads and stores need every row to start on a 16-byte
/// boundary, so each slice must be one contiguous run (the last axis reduced, no other reduced axis: slice s then
/// starts at s · length), the row length a whole number of 16 bytes (4 floats, 2 doubles, 8 halves), and every view
/// start 16-byte aligned. Anything else takes the element kernels. The forward kernels take layouts with a mask, a bias
/// or a causal mask too, applying them to each eight elements in registers
/// (<see cref="GpuInputLoads{TStorage, TAccumulator, TElement, TMath, TLayout}.LoadEight"/>); the mask and bias views
/// need no alignment for that.
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
        => AlignedTo(view, Bytes);

    /// <summary>Whether the view starts on a boundary of <paramref name="bytes"/> bytes of device memory (an empty view always does).</summary>
    public static bool AlignedTo<T>(ArrayView<T> view, int bytes)
        where T : unmanaged
        => view.Length == 0 || Address(view) % bytes == 0;

    private static long Address<TView>(TView view)
        where TView : struct, IContiguousArrayView
        => (long)view.Buffer.NativePtr + view.IndexInBytes;
}
