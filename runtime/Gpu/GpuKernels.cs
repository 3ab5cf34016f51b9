using System;
using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The ILGPU kernels, generic over the element type and the generated layout: ILGPU compiles one kernel per layout
/// with its index arithmetic (<see cref="ISoftmaxLayout.Origin"/>, <see cref="IGpuSoftmaxLayout.RunOffset"/>) inlined.
/// </summary>
/// <remarks>
/// Three shapes of work, chosen by <see cref="GpuLaunch"/>:
/// <list type="bullet">
/// <item>Slices (the last axis reduced): a group owns a slice, or a warp owns a short one (an aligned row, a run of
/// lanes within a warp, or up to eight warps a group a row: <see cref="ForwardRowsWarp"/>; a slice of several runs within the warp's share of shared
/// memory: <see cref="ForwardSlicesWarpCached"/>). A slice that fits in shared memory (or, for a warp, in registers)
/// is read from device memory once; a longer one is read twice, the first pass finding max and sum together (online
/// softmax).</item>
/// <item>Lanes (the last axis a batch axis): a thread owns a slice, and consecutive threads own adjacent slices, so
/// that each step of every thread's walk is one coalesced load across the group. Where a group's slices fit in shared
/// memory they are read once (each thread keeps its own slice there); otherwise twice, max and sum found together.</item>
/// </list>
/// Within a group every thread only reads back the shared-memory entries it wrote itself; barriers are needed only
/// inside the reductions (<see cref="GpuReduce"/>).
/// <para>Every loop that reads device memory takes four elements a step (eight in the forward slice kernels and where
/// the lanes kernels fill shared memory), issuing the loads before it uses any (<see cref="Unroll"/>): with one load
/// in flight a thread, even a full device keeps too few bytes in flight to cover the memory's latency (on an H100, a
/// group per 2 048-float slice ran at 0.71 of a copy's bandwidth, against 0.91 for the warp kernel, which loads its
/// four values up front; eight took rows of 8 192 floats on an H200 from 0.73 to 0.78). Sums and online
/// accumulations still take the elements in the same order, and a maximum of numbers is exact however it is grouped
/// (with a NaN among them, the grouping decides which elements the NaN hides, but the sum of exponentials is NaN
/// either way, and so is every output of the slice), so the results are those of the one-at-a-time loops, bit for
/// bit. Loop bounds are written as <c>e &lt; length - 7 · stride</c>, not <c>e + 7 · stride &lt; length</c>, which
/// would overflow for long slices; the steps themselves could still wrap within 8 · stride of int.MaxValue, so the
/// launcher refuses slices longer than <see cref="MaxSliceLength"/>.</para>
/// </remarks>
internal static partial class GpuKernels
{
    /// <summary>Values a warp-per-slice kernel keeps in registers per lane: slices of up to this many warps' width.</summary>
    public const int WarpElementsPerLane = 4;

    /// <summary>Shared memory (in accumulators) the reductions use: two per warp, for up to 32 warps.</summary>
    public const int ScratchLength = 64;

    /// <summary>
    /// The longest slice the kernels take: their int indices step by up to eight group widths (at most 8 · 1 024
    /// elements), which must not wrap past int.MaxValue.
    /// </summary>
    public const int MaxSliceLength = int.MaxValue - 8 * 1024;

    /// <summary>Elements a thread loads per step of a loop over device memory, before it uses any of them.</summary>
    private const int Unroll = 4;

    /// <summary>A group per slice, the slice in shared memory: read from device memory once.</summary>
    /// <remarks>
    /// Shared memory holds accumulators (a float for a Half element), unlike the backward kernels' copies of stored
    /// values: each entry holds a logit, then its exponential, both computed. A Half slice too long for floats but
    /// short enough as halves streams instead, reading A twice, unless it is an aligned row: the row kernel keeps A as
    /// stored and recomputes each logit from it (<see cref="ForwardRowsCachedAsStored"/>).
    /// </remarks>
    public static void ForwardSlicesCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var cache = SharedMemory.GetDynamic<TAccumulator>();
        var reduction = new GroupReduction<TAccumulator, TMath>(SharedMemory.Allocate<TAccumulator>(ScratchLength));
        int stride = Group.DimX;
        var begin = Locate(layout, Group.IdxX); // this thread's first element of a slice
        var step = Locate(layout, stride);
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            ForwardSliceCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, GroupReduction<TAccumulator, TMath>>(
                a, b, layout, element, cache, layout.Origin(slice), Group.IdxX, stride, begin, step, reduction);
        }
    }

    /// <summary>
    /// A warp per slice, the slice in the warp's own region of shared memory (<see cref="GpuStrategy.WarpCached"/>):
    /// for slices of several runs too long for <see cref="ForwardSlicesWarp"/>'s registers. Lane l takes elements l,
    /// l + warp, ... in row-major order, so each step of the warp loads consecutive elements of a run (one run a step
    /// where a run is a warp long); each lane reads back only what it wrote, and the reductions are warp shuffles: no
    /// barrier. The arithmetic is <see cref="ForwardSlicesCached"/>'s with the warp as the group: on a group of one
    /// warp (whose second reduction step adds only zeros, or takes the larger of the value and −∞) both give the same
    /// bits.
    /// </summary>
    public static void ForwardSlicesWarpCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        int length = layout.SliceLength;
        int width = Warp.WarpSize;
        int warps = Group.DimX / width;
        int lane = Warp.LaneIdx;
        var cache = SharedMemory.GetDynamic<TAccumulator>().SubView(Warp.WarpIdx * length, length);
        var begin = Locate(layout, lane);
        var step = Locate(layout, width);
        for (int slice = Grid.IdxX * warps + Warp.WarpIdx; slice < layout.SliceCount; slice += Grid.DimX * warps)
        {
            ForwardSliceCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, WarpReduction<TAccumulator, TMath>>(
                a, b, layout, element, cache, layout.Origin(slice), lane, width, begin, step, default);
        }
    }

    /// <summary>
    /// One slice (at <paramref name="origin"/>) of the cached forward pass, shared by the threads that reduce through
    /// <paramref name="reduction"/>: this thread takes elements <paramref name="first"/>, first + stride, ... (located
    /// at <paramref name="begin"/>, <paramref name="step"/> apart) and keeps element e at <c>cache[e]</c>.
    /// </summary>
    private static void ForwardSliceCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, TReduction>(
        ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TElement element, ArrayView<TAccumulator> cache,
        int origin, int first, int stride, RunPosition begin, RunPosition step, TReduction reduction)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
        where TReduction : struct, IGpuSliceReduction<TAccumulator>
    {
        var math = default(TMath);
        var op = default(TOp);
        int length = layout.SliceLength;
        var max = math.NegativeInfinity;
        int e = first;
        var walk = begin;
        for (; e < length - (2 * Unroll - 1) * stride; e += 2 * Unroll * stride)
        {
            var x = LoadFour<TStorage, TAccumulator, TElement>(a, TakeFour(layout, origin, ref walk, step), element);
            var y = LoadFour<TStorage, TAccumulator, TElement>(a, TakeFour(layout, origin, ref walk, step), element);
            CacheFour(cache, e, stride, x);
            CacheFour(cache, e + Unroll * stride, stride, y);
            max = math.Max(MaxFour(max, x, math), math.Max(math.Max(y.A, y.B), math.Max(y.C, y.D)));
        }

        for (; e < length - (Unroll - 1) * stride; e += Unroll * stride)
        {
            var x = LoadFour<TStorage, TAccumulator, TElement>(a, TakeFour(layout, origin, ref walk, step), element);
            CacheFour(cache, e, stride, x);
            max = MaxFour(max, x, math);
        }

        for (; e < length; e += stride)
        {
            var x = element.Load(a, OffsetAt(layout, origin, walk));
            cache[e] = x;
            max = math.Max(max, x);
            walk = Next(layout, walk, step);
        }

        var shift = math.Shift(reduction.Max(max));
        var sum = math.Zero;
        for (int i = first; i < length; i += stride)
        {
            var centered = math.Subtract(cache[i], shift);
            var exp = math.Exp(centered);
            cache[i] = op.Kept(centered, exp);
            sum = math.Add(sum, exp);
        }

        var parameter = op.Parameter(shift, reduction.Sum(sum), math);
        walk = begin;
        for (int i = first; i < length; i += stride)
        {
            element.Store(b, OffsetAt(layout, origin, walk), op.Output(cache[i], parameter, math));
            walk = Next(layout, walk, step);
        }
    }

    public static void ForwardSlicesOnline<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int stride = Group.DimX;
        var begin = Locate(layout, Group.IdxX); // this thread's first element of a slice
        var step = Locate(layout, stride);
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = math.NegativeInfinity;
            var sum = math.Zero;
            int e = Group.IdxX;
            var walk = begin;
            for (; e < length - (2 * Unroll - 1) * stride; e += 2 * Unroll * stride)
            {
                var x = LoadFour<TStorage, TAccumulator, TElement>(a, TakeFour(layout, origin, ref walk, step), element);
                var y = LoadFour<TStorage, TAccumulator, TElement>(a, TakeFour(layout, origin, ref walk, step), element);
                AccumulateFour(ref max, ref sum, x, math);
                AccumulateFour(ref max, ref sum, y, math);
            }

            for (; e < length - (Unroll - 1) * stride; e += Unroll * stride)
            {
                var x = LoadFour<TStorage, TAccumulator, TElement>(a, TakeFour(layout, origin, ref walk, step), element);
                AccumulateFour(ref max, ref sum, x, math);
            }

            for (; e < length; e += stride)
            {
                math.Accumulate(ref max, ref sum, element.Load(a, OffsetAt(layout, origin, walk)));
                walk = Next(layout, walk, step);
            }

            GpuReduce.GroupCombine<TAccumulator, TMath>(ref max, ref sum, scratch);
            var shift = math.Shift(max);
            var parameter = op.Parameter(shift, math.PoisonIfInfinite(max, sum), math);
            e = Group.IdxX;
            walk = begin;
            for (; e < length - (2 * Unroll - 1) * stride; e += 2 * Unroll * stride)
            {
                var at = TakeFour(layout, origin, ref walk, step);
                var next = TakeFour(layout, origin, ref walk, step);
                var x = LoadFour<TStorage, TAccumulator, TElement>(a, at, element);
                var y = LoadFour<TStorage, TAccumulator, TElement>(a, next, element);
                StoreOutputFour(b, at, x, shift, parameter, element, math, op);
                StoreOutputFour(b, next, y, shift, parameter, element, math, op);
            }

            for (; e < length - (Unroll - 1) * stride; e += Unroll * stride)
            {
                var at = TakeFour(layout, origin, ref walk, step);
                StoreOutputFour(b, at, LoadFour<TStorage, TAccumulator, TElement>(a, at, element), shift, parameter, element, math, op);
            }

            for (; e < length; e += stride)
            {
                int offset = OffsetAt(layout, origin, walk);
                element.Store(b, offset, op.Output(op.Value(element.Load(a, offset), shift, math), parameter, math));
                walk = Next(layout, walk, step);
            }
        }
    }

    public static void ForwardSlicesWarp<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        int length = layout.SliceLength;
        int width = Warp.WarpSize;
        int warps = Group.DimX / width;
        int lane = Warp.LaneIdx;
        // This lane's four elements of any slice: lane, lane + width, ...
        var at0 = Locate(layout, lane);
        var step = Locate(layout, width);
        var at1 = Next(layout, at0, step);
        var at2 = Next(layout, at1, step);
        var at3 = Next(layout, at2, step);
        for (int slice = Grid.IdxX * warps + Warp.WarpIdx; slice < layout.SliceCount; slice += Grid.DimX * warps)
        {
            int origin = layout.Origin(slice);
            var x0 = lane < length ? element.Load(a, OffsetAt(layout, origin, at0)) : math.NegativeInfinity;
            var x1 = lane + width < length ? element.Load(a, OffsetAt(layout, origin, at1)) : math.NegativeInfinity;
            var x2 = lane + 2 * width < length ? element.Load(a, OffsetAt(layout, origin, at2)) : math.NegativeInfinity;
            var x3 = lane + 3 * width < length ? element.Load(a, OffsetAt(layout, origin, at3)) : math.NegativeInfinity;

            var max = math.Max(math.Max(x0, x1), math.Max(x2, x3));
            var shift = math.Shift(GpuReduce.WarpMax<TAccumulator, TMath>(max));
            // Lanes past the slice hold -∞, whose exp is 0: they add nothing.
            var e0 = math.Exp(math.Subtract(x0, shift));
            var e1 = math.Exp(math.Subtract(x1, shift));
            var e2 = math.Exp(math.Subtract(x2, shift));
            var e3 = math.Exp(math.Subtract(x3, shift));
            var sum = math.Add(math.Add(e0, e1), math.Add(e2, e3));
            var parameter = op.Parameter(shift, GpuReduce.WarpSum<TAccumulator, TMath>(sum), math);

            if (lane < length) element.Store(b, OffsetAt(layout, origin, at0), op.Output(op.Kept(math.Subtract(x0, shift), e0), parameter, math));
            if (lane + width < length) element.Store(b, OffsetAt(layout, origin, at1), op.Output(op.Kept(math.Subtract(x1, shift), e1), parameter, math));
            if (lane + 2 * width < length) element.Store(b, OffsetAt(layout, origin, at2), op.Output(op.Kept(math.Subtract(x2, shift), e2), parameter, math));
            if (lane + 3 * width < length) element.Store(b, OffsetAt(layout, origin, at3), op.Output(op.Kept(math.Subtract(x3, shift), e3), parameter, math));
        }
    }

    public static void ForwardLanes<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(Index1D index, ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        int origin = LaneOrigin(layout, index.X);
        int runs = layout.RunCount;

        var max = math.NegativeInfinity;
        var sum = math.Zero;
        int run = 0;
        for (; run + Unroll - 1 < runs; run += Unroll)
        {
            AccumulateFour(ref max, ref sum, LoadFour<TStorage, TAccumulator, TElement>(a, RunsFour(layout, origin, run), element), math);
        }

        for (; run < runs; run++)
        {
            math.Accumulate(ref max, ref sum, element.Load(a, origin + layout.RunOffset(run)));
        }

        var shift = math.Shift(max);
        var parameter = op.Parameter(shift, math.PoisonIfInfinite(max, sum), math);
        run = 0;
        for (; run + Unroll - 1 < runs; run += Unroll)
        {
            var at = RunsFour(layout, origin, run);
            StoreOutputFour(b, at, LoadFour<TStorage, TAccumulator, TElement>(a, at, element), shift, parameter, element, math, op);
        }

        for (; run < runs; run++)
        {
            int offset = origin + layout.RunOffset(run);
            element.Store(b, offset, op.Output(op.Value(element.Load(a, offset), shift, math), parameter, math));
        }
    }

    public static void ForwardLanesCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var cache = SharedMemory.GetDynamic<TAccumulator>(); // element r of this thread's slice at cache[r * lanes + thread]
        int lanes = Group.DimX;
        int thread = Group.IdxX;
        int runs = layout.RunCount;
        // No barrier anywhere: each thread reads back only what it wrote, so threads past the last slice just stop.
        for (int slice = Grid.IdxX * lanes + thread; slice < layout.SliceCount; slice += Grid.DimX * lanes)
        {
            int origin = LaneOrigin(layout, slice);
            var shift = math.Shift(CacheLane(a, cache, layout, origin, lanes, thread, element, math));
            var sum = math.Zero;
            for (int r = 0; r < runs; r++)
            {
                var centered = math.Subtract(cache[r * lanes + thread], shift);
                var exp = math.Exp(centered);
                cache[r * lanes + thread] = op.Kept(centered, exp);
                sum = math.Add(sum, exp);
            }

            var parameter = op.Parameter(shift, sum, math);
            for (int r = 0; r < runs; r++)
            {
                element.Store(b, origin + layout.RunOffset(r), op.Output(cache[r * lanes + thread], parameter, math));
            }
        }
    }

    /// <summary>
    /// A group per slice, B's slice in shared memory for all cotangents. With <paramref name="cotangentCached"/> = 1 (room
    /// for both; an int, as kernel parameters must be blittable) the current cotangent's slice is kept there too;
    /// otherwise the output pass reads it again, just after the dot product read it, mostly from the L2 cache. Shared
    /// memory holds both as stored (<typeparamref name="TStorage"/>): B and dB are read, never computed, so a Half slice
    /// takes 2 bytes an element there, not a float's 4, and twice the length fits (<see cref="GpuLaunch.Choose(GpuDevice, bool, int, int, int, int, bool, int)"/>).
    /// </summary>
    public static void BackwardSlicesCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, int cotangentCached, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var cache = SharedMemory.GetDynamic<TStorage>(); // B's slice, then (if cotangentCached) one cotangent's slice
        var reduction = new GroupReduction<TAccumulator, TMath>(SharedMemory.Allocate<TAccumulator>(ScratchLength));
        int stride = Group.DimX;
        var begin = Locate(layout, Group.IdxX); // this thread's first element of a slice
        var step = Locate(layout, stride);
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            BackwardSliceCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, GroupReduction<TAccumulator, TMath>>(
                b, dB, dA, layout, cotangents, cotangentCached, element, cache, layout.Origin(slice), Group.IdxX, stride, begin, step, reduction);
        }
    }

    /// <summary>
    /// The backward pass a warp per slice (<see cref="GpuStrategy.WarpCached"/>), as <see cref="ForwardSlicesWarpCached"/>:
    /// B's slice in the warp's own region of shared memory for all cotangents, and with <paramref name="cotangentCached"/>
    /// = 1 the current cotangent's slice beside it (each warp's region then twice the slice); the arithmetic of
    /// <see cref="BackwardSlicesCached"/> with the warp as the group, no barrier.
    /// </summary>
    public static void BackwardSlicesWarpCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, int cotangentCached, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        int region = (cotangentCached != 0 ? 2 : 1) * layout.SliceLength;
        int width = Warp.WarpSize;
        int warps = Group.DimX / width;
        int lane = Warp.LaneIdx;
        var cache = SharedMemory.GetDynamic<TStorage>().SubView(Warp.WarpIdx * region, region);
        var begin = Locate(layout, lane);
        var step = Locate(layout, width);
        for (int slice = Grid.IdxX * warps + Warp.WarpIdx; slice < layout.SliceCount; slice += Grid.DimX * warps)
        {
            BackwardSliceCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, WarpReduction<TAccumulator, TMath>>(
                b, dB, dA, layout, cotangents, cotangentCached, element, cache, layout.Origin(slice), lane, width, begin, step, default);
        }
    }

    /// <summary>
    /// One slice (at <paramref name="origin"/>) of the cached backward pass, for every cotangent, shared by the threads
    /// that reduce through <paramref name="reduction"/>, as <see cref="ForwardSliceCached"/> shares the forward one:
    /// B's element e at <c>cache[e]</c>, the cotangent's (with <paramref name="cotangentCached"/>) at
    /// <c>cache[length + e]</c>, each copied as stored and converted to the accumulator as it is read back
    /// (<paramref name="element"/>'s loads; its stores may scale, as dA's do, so they never write the cache): the values
    /// the kernel computes with are those it would load from device memory, bit for bit.
    /// </summary>
    private static void BackwardSliceCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, TReduction>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, int cotangentCached, TElement element,
        ArrayView<TStorage> cache, int origin, int first, int stride, RunPosition begin, RunPosition step, TReduction reduction)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
        where TReduction : struct, IGpuSliceReduction<TAccumulator>
    {
        var math = default(TMath);
        var op = default(TOp);
        int length = layout.SliceLength;
        int count = layout.SliceCount * length;
        int e = first;
        var walk = begin;
        for (; e < length - (Unroll - 1) * stride; e += Unroll * stride)
        {
            CacheFour(cache, e, stride, StoredFour(b, TakeFour(layout, origin, ref walk, step)));
        }

        for (; e < length; e += stride)
        {
            cache[e] = b[OffsetAt(layout, origin, walk)];
            walk = Next(layout, walk, step);
        }

        for (int k = 0; k < cotangents; k++)
        {
            int start = k * count; // where cotangent k starts
            var dot = math.Zero;
            e = first;
            walk = begin;
            for (; e < length - (Unroll - 1) * stride; e += Unroll * stride)
            {
                var at = TakeFour(layout, origin, ref walk, step).Plus(start);
                Four<TAccumulator> d;
                if (cotangentCached != 0)
                {
                    // Copied as stored, then read back converted: four loads in flight either way.
                    CacheFour(cache, length + e, stride, StoredFour(dB, at));
                    d = CachedFour<TStorage, TAccumulator, TElement>(cache, length + e, stride, element);
                }
                else
                {
                    d = LoadFour<TStorage, TAccumulator, TElement>(dB, at, element);
                }

                var bx = CachedFour<TStorage, TAccumulator, TElement>(cache, e, stride, element);
                dot = math.Add(dot, op.Term(bx.A, d.A, math));
                dot = math.Add(dot, op.Term(bx.B, d.B, math));
                dot = math.Add(dot, op.Term(bx.C, d.C, math));
                dot = math.Add(dot, op.Term(bx.D, d.D, math));
            }

            for (; e < length; e += stride)
            {
                int offset = start + OffsetAt(layout, origin, walk);
                if (cotangentCached != 0)
                {
                    cache[length + e] = dB[offset];
                }

                var d = cotangentCached != 0 ? element.Load(cache, length + e) : element.Load(dB, offset);
                dot = math.Add(dot, op.Term(element.Load(cache, e), d, math));
                walk = Next(layout, walk, step);
            }

            dot = reduction.Sum(dot);
            if (cotangentCached != 0)
            {
                walk = begin;
                for (int i = first; i < length; i += stride)
                {
                    element.Store(dA, start + OffsetAt(layout, origin, walk), op.Pullback(element.Load(cache, i), element.Load(cache, length + i), dot, math));
                    walk = Next(layout, walk, step);
                }

                continue;
            }

            e = first;
            walk = begin;
            for (; e < length - (Unroll - 1) * stride; e += Unroll * stride)
            {
                var (o0, o1, o2, o3) = TakeFour(layout, origin, ref walk, step);
                var d0 = element.Load(dB, start + o0);
                var d1 = element.Load(dB, start + o1);
                var d2 = element.Load(dB, start + o2);
                var d3 = element.Load(dB, start + o3);
                var bx = CachedFour<TStorage, TAccumulator, TElement>(cache, e, stride, element);
                element.Store(dA, start + o0, op.Pullback(bx.A, d0, dot, math));
                element.Store(dA, start + o1, op.Pullback(bx.B, d1, dot, math));
                element.Store(dA, start + o2, op.Pullback(bx.C, d2, dot, math));
                element.Store(dA, start + o3, op.Pullback(bx.D, d3, dot, math));
            }

            for (; e < length; e += stride)
            {
                int offset = OffsetAt(layout, origin, walk);
                element.Store(dA, start + offset, op.Pullback(element.Load(cache, e), element.Load(dB, start + offset), dot, math));
                walk = Next(layout, walk, step);
            }
        }
    }

    /// <summary>
    /// A group per slice too long for shared memory: a dot pass, then the output pass, each reading B from device memory.
    /// The cotangents go four at a time, so that each pass reads B once for four of them (four cotangents: B read twice
    /// rather than eight times). Each cotangent's dot still adds its terms in the same order.
    /// </summary>
    public static void BackwardSlicesGlobal<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int stride = Group.DimX;
        var begin = Locate(layout, Group.IdxX); // this thread's first element of a slice
        var step = Locate(layout, stride);
        int count = layout.SliceCount * length;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            for (int k = 0; k < cotangents; k += 4)
            {
                int block = Math.Min(4, cotangents - k); // cotangents k .. k + block - 1, at first, first + count, ...
                int first = k * count;
                var dot0 = math.Zero;
                var dot1 = math.Zero;
                var dot2 = math.Zero;
                var dot3 = math.Zero;
                int e = Group.IdxX;
                var walk = begin;
                for (; e < length - (Unroll - 1) * stride; e += Unroll * stride)
                {
                    var at = TakeFour(layout, origin, ref walk, step);
                    var bx = LoadFour<TStorage, TAccumulator, TElement>(b, at, element);
                    dot0 = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, first, at, bx, dot0, element, math);
                    if (block > 1) dot1 = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, first + count, at, bx, dot1, element, math);
                    if (block > 2) dot2 = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, first + 2 * count, at, bx, dot2, element, math);
                    if (block > 3) dot3 = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, first + 3 * count, at, bx, dot3, element, math);
                }

                for (; e < length; e += stride)
                {
                    int offset = OffsetAt(layout, origin, walk);
                    var bx = element.Load(b, offset);
                    dot0 = math.Add(dot0, op.Term(bx, element.Load(dB, first + offset), math));
                    if (block > 1) dot1 = math.Add(dot1, op.Term(bx, element.Load(dB, first + count + offset), math));
                    if (block > 2) dot2 = math.Add(dot2, op.Term(bx, element.Load(dB, first + 2 * count + offset), math));
                    if (block > 3) dot3 = math.Add(dot3, op.Term(bx, element.Load(dB, first + 3 * count + offset), math));
                    walk = Next(layout, walk, step);
                }

                dot0 = GpuReduce.GroupSum<TAccumulator, TMath>(dot0, scratch);
                if (block > 1) dot1 = GpuReduce.GroupSum<TAccumulator, TMath>(dot1, scratch);
                if (block > 2) dot2 = GpuReduce.GroupSum<TAccumulator, TMath>(dot2, scratch);
                if (block > 3) dot3 = GpuReduce.GroupSum<TAccumulator, TMath>(dot3, scratch);
                e = Group.IdxX;
                walk = begin;
                for (; e < length - (Unroll - 1) * stride; e += Unroll * stride)
                {
                    var at = TakeFour(layout, origin, ref walk, step);
                    var bx = LoadFour<TStorage, TAccumulator, TElement>(b, at, element);
                    StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, first, at, bx, dot0, element, math);
                    if (block > 1) StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, first + count, at, bx, dot1, element, math);
                    if (block > 2) StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, first + 2 * count, at, bx, dot2, element, math);
                    if (block > 3) StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, first + 3 * count, at, bx, dot3, element, math);
                }

                for (; e < length; e += stride)
                {
                    int offset = OffsetAt(layout, origin, walk);
                    var bx = element.Load(b, offset);
                    element.Store(dA, first + offset, op.Pullback(bx, element.Load(dB, first + offset), dot0, math));
                    if (block > 1) element.Store(dA, first + count + offset, op.Pullback(bx, element.Load(dB, first + count + offset), dot1, math));
                    if (block > 2) element.Store(dA, first + 2 * count + offset, op.Pullback(bx, element.Load(dB, first + 2 * count + offset), dot2, math));
                    if (block > 3) element.Store(dA, first + 3 * count + offset, op.Pullback(bx, element.Load(dB, first + 3 * count + offset), dot3, math));
                    walk = Next(layout, walk, step);
                }
            }
        }
    }

    /// <summary>
    /// Copies this thread's slice of <paramref name="source"/> (the one whose row of lanes starts at
    /// <paramref name="origin"/>) into shared memory, element r at <c>cache[r · lanes + thread]</c>, and returns its
    /// maximum. Eight loads in flight, not four: shared memory holds fewer threads on a multiprocessor than the other
    /// kernels run (64-float slices: 160 lanes a group, five groups, 800 threads), so each keeps more in flight.
    /// </summary>
    private static TAccumulator CacheLane<TStorage, TAccumulator, TElement, TMath, TLayout>(
        ArrayView<TStorage> source, ArrayView<TAccumulator> cache, TLayout layout, int origin, int lanes, int thread, TElement element, TMath math)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        int runs = layout.RunCount;
        var max = math.NegativeInfinity;
        int run = 0;
        for (; run + 2 * Unroll - 1 < runs; run += 2 * Unroll)
        {
            var x = LoadFour<TStorage, TAccumulator, TElement>(source, RunsFour(layout, origin, run), element);
            var y = LoadFour<TStorage, TAccumulator, TElement>(source, RunsFour(layout, origin, run + Unroll), element);
            CacheFour(cache, run * lanes + thread, lanes, x);
            CacheFour(cache, (run + Unroll) * lanes + thread, lanes, y);
            max = math.Max(MaxFour(max, x, math), math.Max(math.Max(y.A, y.B), math.Max(y.C, y.D)));
        }

        for (; run < runs; run++)
        {
            var x = element.Load(source, origin + layout.RunOffset(run));
            cache[run * lanes + thread] = x;
            max = math.Max(max, x);
        }

        return max;
    }

    /// <summary>The elements at four offsets, all loaded before any is used.</summary>
    private static Four<TAccumulator> LoadFour<TStorage, TAccumulator, TElement>(ArrayView<TStorage> view, Offsets at, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
    {
        var (o0, o1, o2, o3) = at;
        return new Four<TAccumulator>(element.Load(view, o0), element.Load(view, o1), element.Load(view, o2), element.Load(view, o3));
    }

    /// <summary>The values at four offsets as stored, unconverted (for a cache of <typeparamref name="T"/>), all loaded before any is used.</summary>
    private static Four<T> StoredFour<T>(ArrayView<T> view, Offsets at)
        where T : unmanaged
    {
        var (o0, o1, o2, o3) = at;
        return new Four<T>(view[o0], view[o1], view[o2], view[o3]);
    }

    /// <summary>Four values into shared memory at <paramref name="first"/>, then <paramref name="spacing"/> apart.</summary>
    private static void CacheFour<T>(ArrayView<T> cache, int first, int spacing, Four<T> x)
        where T : unmanaged
    {
        cache[first] = x.A;
        cache[first + spacing] = x.B;
        cache[first + 2 * spacing] = x.C;
        cache[first + 3 * spacing] = x.D;
    }

    /// <summary>Four values from shared memory at <paramref name="first"/>, then <paramref name="spacing"/> apart (as <see cref="CacheFour"/> put them).</summary>
    private static Four<T> CachedFour<T>(ArrayView<T> cache, int first, int spacing)
        where T : unmanaged
        => new(cache[first], cache[first + spacing], cache[first + 2 * spacing], cache[first + 3 * spacing]);

    /// <summary>Four stored values from shared memory (as <see cref="CachedFour{T}"/> takes them), converted by <paramref name="element"/>'s loads.</summary>
    private static Four<TAccumulator> CachedFour<TStorage, TAccumulator, TElement>(ArrayView<TStorage> cache, int first, int spacing, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        => new(element.Load(cache, first), element.Load(cache, first + spacing), element.Load(cache, first + 2 * spacing), element.Load(cache, first + 3 * spacing));

    /// <summary>The larger of <paramref name="max"/> and four values, grouped as max(max(max, max(a, b)), max(c, d)).</summary>
    private static T MaxFour<T, TMath>(T max, Four<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Max(math.Max(max, math.Max(x.A, x.B)), math.Max(x.C, x.D));

    /// <summary>Folds four values into an online (max, sum), in order.</summary>
    private static void AccumulateFour<T, TMath>(ref T max, ref T sum, Four<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
    {
        math.Accumulate(ref max, ref sum, x.A);
        math.Accumulate(ref max, ref sum, x.B);
        math.Accumulate(ref max, ref sum, x.C);
        math.Accumulate(ref max, ref sum, x.D);
    }

    /// <summary>B = output(value(x, shift), parameter) at four offsets.</summary>
    private static void StoreOutputFour<TStorage, TAccumulator, TElement, TMath, TOp>(
        ArrayView<TStorage> b, Offsets at, Four<TAccumulator> x, TAccumulator shift, TAccumulator parameter, TElement element, TMath math, TOp op)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TOp : struct, IGpuOperation
    {
        var (o0, o1, o2, o3) = at;
        element.Store(b, o0, op.Output(op.Value(x.A, shift, math), parameter, math));
        element.Store(b, o1, op.Output(op.Value(x.B, shift, math), parameter, math));
        element.Store(b, o2, op.Output(op.Value(x.C, shift, math), parameter, math));
        element.Store(b, o3, op.Output(op.Value(x.D, shift, math), parameter, math));
    }

    /// <summary><paramref name="dot"/> plus the four terms of B and dB at the given offsets of one cotangent (starting at <paramref name="first"/>), in order.</summary>
    private static TAccumulator DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(
        ArrayView<TStorage> dB, int first, Offsets at, Four<TAccumulator> b, TAccumulator dot, TElement element, TMath math)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TOp : struct, IGpuOperation
    {
        var op = default(TOp);
        var d = LoadFour<TStorage, TAccumulator, TElement>(dB, at.Plus(first), element);
        dot = math.Add(dot, op.Term(b.A, d.A, math));
        dot = math.Add(dot, op.Term(b.B, d.B, math));
        dot = math.Add(dot, op.Term(b.C, d.C, math));
        return math.Add(dot, op.Term(b.D, d.D, math));
    }

    /// <summary>dA = pullback(B, dB, dot) at the given offsets of one cotangent (starting at <paramref name="first"/>).</summary>
    private static void StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(
        ArrayView<TStorage> dB, ArrayView<TStorage> dA, int first, Offsets at, Four<TAccumulator> b, TAccumulator dot, TElement element, TMath math)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TOp : struct, IGpuOperation
    {
        var op = default(TOp);
        var shifted = at.Plus(first);
        var d = LoadFour<TStorage, TAccumulator, TElement>(dB, shifted, element);
        var (o0, o1, o2, o3) = shifted;
        element.Store(dA, o0, op.Pullback(b.A, d.A, dot, math));
        element.Store(dA, o1, op.Pullback(b.B, d.B, dot, math));
        element.Store(dA, o2, op.Pullback(b.C, d.C, dot, math));
        element.Store(dA, o3, op.Pullback(b.D, d.D, dot, math));
    }

    public static void BackwardSlicesWarp<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        int length = layout.SliceLength;
        int count = layout.SliceCount * length;
        int width = Warp.WarpSize;
        int warps = Group.DimX / width;
        int lane = Warp.LaneIdx;
        bool in0 = lane < length, in1 = lane + width < length, in2 = lane + 2 * width < length, in3 = lane + 3 * width < length;
        // This lane's four elements of any slice: lane, lane + width, ...
        var at0 = Locate(layout, lane);
        var step = Locate(layout, width);
        var at1 = Next(layout, at0, step);
        var at2 = Next(layout, at1, step);
        var at3 = Next(layout, at2, step);
        for (int slice = Grid.IdxX * warps + Warp.WarpIdx; slice < layout.SliceCount; slice += Grid.DimX * warps)
        {
            int origin = layout.Origin(slice);
            int o0 = in0 ? OffsetAt(layout, origin, at0) : 0;
            int o1 = in1 ? OffsetAt(layout, origin, at1) : 0;
            int o2 = in2 ? OffsetAt(layout, origin, at2) : 0;
            int o3 = in3 ? OffsetAt(layout, origin, at3) : 0;
            // B's slice stays in registers for every cotangent.
            var b0 = in0 ? element.Load(b, o0) : math.Zero;
            var b1 = in1 ? element.Load(b, o1) : math.Zero;
            var b2 = in2 ? element.Load(b, o2) : math.Zero;
            var b3 = in3 ? element.Load(b, o3) : math.Zero;
            for (int k = 0; k < cotangents; k++)
            {
                int first = k * count;
                var d0 = in0 ? element.Load(dB, first + o0) : math.Zero;
                var d1 = in1 ? element.Load(dB, first + o1) : math.Zero;
                var d2 = in2 ? element.Load(dB, first + o2) : math.Zero;
                var d3 = in3 ? element.Load(dB, first + o3) : math.Zero;
                var dot = math.Add(math.Add(op.Term(b0, d0, math), op.Term(b1, d1, math)), math.Add(op.Term(b2, d2, math), op.Term(b3, d3, math)));
                dot = GpuReduce.WarpSum<TAccumulator, TMath>(dot);
                if (in0) element.Store(dA, first + o0, op.Pullback(b0, d0, dot, math));
                if (in1) element.Store(dA, first + o1, op.Pullback(b1, d1, dot, math));
                if (in2) element.Store(dA, first + o2, op.Pullback(b2, d2, dot, math));
                if (in3) element.Store(dA, first + o3, op.Pullback(b3, d3, dot, math));
            }
        }
    }

    /// <summary>
    /// A thread per slice whose group of slices does not fit in shared memory: a dot pass, then the output pass, each
    /// reading B once for four cotangents at a time, as <see cref="BackwardSlicesGlobal"/> does.
    /// </summary>
    public static void BackwardLanes<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        Index1D index, ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        int origin = LaneOrigin(layout, index.X);
        int runs = layout.RunCount;
        int count = layout.SliceCount * layout.SliceLength;
        for (int k = 0; k < cotangents; k += 4)
        {
            int block = Math.Min(4, cotangents - k); // cotangents k .. k + block - 1, at first, first + count, ...
            int first = k * count;
            var dot0 = math.Zero;
            var dot1 = math.Zero;
            var dot2 = math.Zero;
            var dot3 = math.Zero;
            int run = 0;
            for (; run + Unroll - 1 < runs; run += Unroll)
            {
                var at = RunsFour(layout, origin, run);
                var bx = LoadFour<TStorage, TAccumulator, TElement>(b, at, element);
                dot0 = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, first, at, bx, dot0, element, math);
                if (block > 1) dot1 = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, first + count, at, bx, dot1, element, math);
                if (block > 2) dot2 = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, first + 2 * count, at, bx, dot2, element, math);
                if (block > 3) dot3 = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, first + 3 * count, at, bx, dot3, element, math);
            }

            for (; run < runs; run++)
            {
                int offset = origin + layout.RunOffset(run);
                var bx = element.Load(b, offset);
                dot0 = math.Add(dot0, op.Term(bx, element.Load(dB, first + offset), math));
                if (block > 1) dot1 = math.Add(dot1, op.Term(bx, element.Load(dB, first + count + offset), math));
                if (block > 2) dot2 = math.Add(dot2, op.Term(bx, element.Load(dB, first + 2 * count + offset), math));
                if (block > 3) dot3 = math.Add(dot3, op.Term(bx, element.Load(dB, first + 3 * count + offset), math));
            }

            run = 0;
            for (; run + Unroll - 1 < runs; run += Unroll)
            {
                var at = RunsFour(layout, origin, run);
                var bx = LoadFour<TStorage, TAccumulator, TElement>(b, at, element);
                StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, first, at, bx, dot0, element, math);
                if (block > 1) StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, first + count, at, bx, dot1, element, math);
                if (block > 2) StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, first + 2 * count, at, bx, dot2, element, math);
                if (block > 3) StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, first + 3 * count, at, bx, dot3, element, math);
            }

            for (; run < runs; run++)
            {
                int offset = origin + layout.RunOffset(run);
                var bx = element.Load(b, offset);
                element.Store(dA, first + offset, op.Pullback(bx, element.Load(dB, first + offset), dot0, math));
                if (block > 1) element.Store(dA, first + count + offset, op.Pullback(bx, element.Load(dB, first + count + offset), dot1, math));
                if (block > 2) element.Store(dA, first + 2 * count + offset, op.Pullback(bx, element.Load(dB, first + 2 * count + offset), dot2, math));
                if (block > 3) element.Store(dA, first + 3 * count + offset, op.Pullback(bx, element.Load(dB, first + 3 * count + offset), dot3, math));
            }
        }
    }

    public static void BackwardLanesCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        // Element r of this thread's slice of B at cache[r * lanes + thread]. The cotangents are not kept: room for them
        // would halve the threads a multiprocessor holds, and their second read, just after the first, mostly hits L2.
        var cache = SharedMemory.GetDynamic<TAccumulator>();
        int lanes = Group.DimX;
        int thread = Group.IdxX;
        int runs = layout.RunCount;
        int count = layout.SliceCount * layout.SliceLength;
        for (int slice = Grid.IdxX * lanes + thread; slice < layout.SliceCount; slice += Grid.DimX * lanes)
        {
            int origin = LaneOrigin(layout, slice);
            CacheLane(b, cache, layout, origin, lanes, thread, element, math); // its maximum is not needed here
            for (int k = 0; k < cotangents; k++)
            {
                int first = k * count + origin;
                var dot = math.Zero;
                int run = 0;
                for (; run + Unroll - 1 < runs; run += Unroll)
                {
                    dot = DotFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, 0, RunsFour(layout, first, run), CachedFour(cache, run * lanes + thread, lanes), dot, element, math);
                }

                for (; run < runs; run++)
                {
                    dot = math.Add(dot, op.Term(cache[run * lanes + thread], element.Load(dB, first + layout.RunOffset(run)), math));
                }

                run = 0;
                for (; run + Unroll - 1 < runs; run += Unroll)
                {
                    StoreFour<TStorage, TAccumulator, TElement, TMath, TOp>(dB, dA, 0, RunsFour(layout, first, run), CachedFour(cache, run * lanes + thread, lanes), dot, element, math);
                }

                for (; run < runs; run++)
                {
                    int offset = first + layout.RunOffset(run);
                    element.Store(dA, offset, op.Pullback(cache[run * lanes + thread], element.Load(dB, offset), dot, math));
                }
            }
        }
    }

    /// <summary>
    /// One entry of the dense Jacobian a thread: <paramref name="index"/> numbers the entries [p, q] with p and q in one
    /// slice (slice, then p's element, then q's: consecutive threads write adjacent entries where a slice's elements
    /// are contiguous). The entries across slices are 0: the launcher clears the matrix first where there are any.
    /// </summary>
    public static void Jacobian<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(Index1D index, ArrayView<TStorage> b, ArrayView<TStorage> jacobian, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        int length = layout.SliceLength;
        int perSlice = length * length; // at most N², which SoftmaxArguments.Jacobian keeps within int
        int slice = index.X / perSlice;
        int entry = index.X - slice * perSlice;
        int i = entry / length;
        int j = entry - i * length;
        int p = ElementOffset(layout, slice, i);
        int q = ElementOffset(layout, slice, j);
        var bp = element.Load(b, p);
        var bq = element.Load(b, q);
        element.Store(jacobian, p * (layout.SliceCount * length) + q, op.Jacobian(bp, bq, i == j, math));
    }

    /// <summary>
    /// Log-sum-exp, a group per slice (the last axis reduced): an online max-and-sum pass, combined over the group; a
    /// slice whose max is +∞ is read again for a NaN, which makes it NaN rather than +∞.
    /// </summary>
    public static void LogSumExpSlices<TStorage, TAccumulator, TElement, TMath, TLayout>(ArrayView<TStorage> a, ArrayView<TStorage> lse, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var math = default(TMath);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int stride = Group.DimX;
        // A reduced extent of 0 leaves every slice empty (its value is −∞); there is no run length to locate by then.
        var begin = length > 0 ? Locate(layout, Group.IdxX) : default;
        var step = length > 0 ? Locate(layout, stride) : default;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = math.NegativeInfinity;
            var sum = math.Zero;
            var walk = begin;
            for (int e = Group.IdxX; e < length; e += stride)
            {
                math.Accumulate(ref max, ref sum, element.Load(a, OffsetAt(layout, origin, walk)));
                walk = Next(layout, walk, step);
            }

            GpuReduce.GroupCombine<TAccumulator, TMath>(ref max, ref sum, scratch);
            var nan = math.Zero;
            if (math.IsPositiveInfinity(max))
            {
                walk = begin;
                for (int e = Group.IdxX; e < length; e += stride)
                {
                    nan = math.IsNaN(element.Load(a, OffsetAt(layout, origin, walk))) ? math.One : nan;
                    walk = Next(layout, walk, step);
                }

                nan = GpuReduce.GroupSum<TAccumulator, TMath>(nan, scratch);
            }

            if (Group.IdxX == 0)
            {
                element.Store(lse, slice, LogSumExpOf(max, sum, nan, math));
            }
        }
    }

    /// <summary>Log-sum-exp, a thread per slice (the last axis a batch axis), consecutive threads on adjacent slices.</summary>
    public static void LogSumExpLanes<TStorage, TAccumulator, TElement, TMath, TLayout>(Index1D index, ArrayView<TStorage> a, ArrayView<TStorage> lse, TLayout layout, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var math = default(TMath);
        int origin = LaneOrigin(layout, index.X);
        int runs = layout.RunCount;
        var max = math.NegativeInfinity;
        var sum = math.Zero;
        for (int run = 0; run < runs; run++)
        {
            math.Accumulate(ref max, ref sum, element.Load(a, origin + layout.RunOffset(run)));
        }

        var nan = math.Zero;
        if (math.IsPositiveInfinity(max))
        {
            for (int run = 0; run < runs; run++)
            {
                nan = math.IsNaN(element.Load(a, origin + layout.RunOffset(run))) ? math.One : nan;
            }
        }

        element.Store(lse, index.X, LogSumExpOf(max, sum, nan, math));
    }

    /// <summary>
    /// max + log sum; for a +∞ max, NaN where the second read found a NaN, else +∞ (two +∞ make the sum NaN, so it says
    /// nothing then); otherwise a NaN sum (a NaN went in) gives NaN, and a −∞ max (nothing included) −∞.
    /// </summary>
    private static T LogSumExpOf<T, TMath>(T max, T sum, T nan, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
    {
        if (math.IsPositiveInfinity(max))
        {
            return math.IsZero(nan) ? max : math.Subtract(max, max);
        }

        if (math.IsNaN(sum) || math.IsNegativeInfinity(max))
        {
            return math.IsNaN(sum) ? sum : max;
        }

        return math.Add(max, math.Log(sum));
    }

    /// <summary>The offset of element <paramref name="element"/> (in row-major order) of slice <paramref name="slice"/>.</summary>
    private static int ElementOffset<TLayout>(TLayout layout, int slice, int element)
        where TLayout : struct, IGpuSoftmaxLayout
        => layout.LanesInner
            ? LaneOrigin(layout, slice) + layout.RunOffset(element)
            : OffsetAt(layout, layout.Origin(slice), Locate(layout, element));

    /// <summary>The offset of the slice that lanes thread <paramref name="thread"/> owns: its row of adjacent slices, then its lane.</summary>
    private static int LaneOrigin<TLayout>(TLayout layout, int thread)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        int lanes = layout.InnerExtent;
        int outer = thread / lanes;
        return layout.Origin(outer) + (thread - outer * lanes);
    }

    /// <summary>
    /// Element <paramref name="element"/> (in row-major order) of any slice, as its run and its position in that run. A
    /// thread locates its first element once, then steps with <see cref="Next{TLayout}"/>: a division per element cost
    /// more than its load on layouts of many short runs (on an H100, s1 = {1, 3} ran at half a copy's bandwidth).
    /// </summary>
    private static RunPosition Locate<TLayout>(TLayout layout, int element)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (layout.RunCount == 1)
        {
            return new RunPosition(0, element); // one contiguous run: no division
        }

        int runLength = layout.InnerExtent;
        int run = element / runLength;
        return new RunPosition(run, element - run * runLength);
    }

    /// <summary>The element <paramref name="step"/> (itself located) after <paramref name="at"/>.</summary>
    private static RunPosition Next<TLayout>(TLayout layout, RunPosition at, RunPosition step)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        int run = at.Run + step.Run;
        int position = at.Position + step.Position;
        if (layout.RunCount != 1 && position >= layout.InnerExtent)
        {
            position -= layout.InnerExtent;
            run++;
        }

        return new RunPosition(run, position);
    }

    /// <summary>
    /// The offsets of the four elements a thread takes in one step of a loop, from <paramref name="walk"/> on
    /// (<paramref name="step"/> apart), in the slice that starts at <paramref name="origin"/>; moves the walk past them.
    /// </summary>
    private static Offsets TakeFour<TLayout>(TLayout layout, int origin, ref RunPosition walk, RunPosition step)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var at1 = Next(layout, walk, step);
        var at2 = Next(layout, at1, step);
        var at3 = Next(layout, at2, step);
        var offsets = new Offsets(OffsetAt(layout, origin, walk), OffsetAt(layout, origin, at1), OffsetAt(layout, origin, at2), OffsetAt(layout, origin, at3));
        walk = Next(layout, at3, step);
        return offsets;
    }

    /// <summary>The offset of the element at <paramref name="at"/> of the slice that starts at <paramref name="origin"/>.</summary>
    private static int OffsetAt<TLayout>(TLayout layout, int origin, RunPosition at)
        where TLayout : struct, IGpuSoftmaxLayout
        => layout.RunCount == 1 ? origin + at.Position : origin + layout.RunOffset(at.Run) + at.Position;

    /// <summary>The offsets of runs <paramref name="run"/> to <paramref name="run"/> + 3 from <paramref name="origin"/>: four elements of a lanes thread's slice.</summary>
    private static Offsets RunsFour<TLayout>(TLayout layout, int origin, int run)
        where TLayout : struct, IGpuSoftmaxLayout
        => new(origin + layout.RunOffset(run), origin + layout.RunOffset(run + 1), origin + layout.RunOffset(run + 2), origin + layout.RunOffset(run + 3));

    /// <summary>Four element offsets, taken apart as <c>var (o0, o1, o2, o3) = ...</c>.</summary>
    private readonly struct Offsets(int o0, int o1, int o2, int o3)
    {
        /// <summary>The same four offsets, each <paramref name="shift"/> further on (another cotangent's elements).</summary>
        public Offsets Plus(int shift) => new(o0 + shift, o1 + shift, o2 + shift, o3 + shift);

        public void Deconstruct(out int first, out int second, out int third, out int fourth)
        {
            first = o0;
            second = o1;
            third = o2;
            fourth = o3;
        }
    }

    /// <summary>Four values loaded together (<see cref="LoadFour"/>).</summary>
    private readonly struct Four<T>(T a, T b, T c, T d)
        where T : unmanaged
    {
        public readonly T A = a;

        public readonly T B = b;

        public readonly T C = c;

        public readonly T D = d;
    }

    /// <summary>An element of a slice: the run it lies in, and its position in that run.</summary>
    private readonly struct RunPosition(int run, int position)
    {
        public readonly int Run = run;

        public readonly int Position = position;
    }
}
