using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The ILGPU kernels, generic over the element type and the generated layout: ILGPU compiles one kernel per layout
/// with its index arithmetic (<see cref="ISoftmaxLayout.Origin"/>, <see cref="IGpuSoftmaxLayout.RunOffset"/>) inlined.
/// </summary>
/// <remarks>
/// Three shapes of work, chosen by <see cref="GpuLaunch"/>:
/// <list type="bullet">
/// <item>Slices (the last axis reduced): a group owns a slice, or a warp owns a short one. A slice that fits in
/// shared memory (or, for a warp, in registers) is read from device memory once; a longer one is read twice, the
/// first pass finding max and sum together (online softmax).</item>
/// <item>Lanes (the last axis a batch axis): a thread owns a slice, and consecutive threads own adjacent slices, so
/// that each step of every thread's walk is one coalesced load across the group.</item>
/// </list>
/// Within a group every thread only reads back the shared-memory entries it wrote itself; barriers are needed only
/// inside the reductions (<see cref="GpuReduce"/>).
/// </remarks>
internal static class GpuKernels
{
    /// <summary>Values a warp-per-slice kernel keeps in registers per lane: slices of up to this many warps' width.</summary>
    public const int WarpElementsPerLane = 4;

    /// <summary>Shared memory (in accumulators) the reductions use: two per warp, for up to 32 warps.</summary>
    public const int ScratchLength = 64;

    public static void ForwardSlicesCached<TStorage, TAccumulator, TElement, TLayout>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var cache = SharedMemory.GetDynamic<TAccumulator>();
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = element.NegativeInfinity;
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                var x = element.Load(a, Offset(layout, origin, e));
                cache[e] = x;
                max = element.Max(max, x);
            }

            var shift = element.Shift(GpuReduce.GroupMax<TStorage, TAccumulator, TElement>(max, scratch));
            var sum = element.Zero;
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                var exp = element.Exp(element.Subtract(cache[e], shift));
                cache[e] = exp;
                sum = element.Add(sum, exp);
            }

            var scale = element.Reciprocal(GpuReduce.GroupSum<TStorage, TAccumulator, TElement>(sum, scratch));
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                element.Store(b, Offset(layout, origin, e), element.Multiply(cache[e], scale));
            }
        }
    }

    public static void ForwardSlicesOnline<TStorage, TAccumulator, TElement, TLayout>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = element.NegativeInfinity;
            var sum = element.Zero;
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                element.Accumulate(ref max, ref sum, element.Load(a, Offset(layout, origin, e)));
            }

            GpuReduce.GroupCombine<TStorage, TAccumulator, TElement>(ref max, ref sum, scratch);
            var shift = element.Shift(max);
            var scale = element.Reciprocal(element.PoisonIfInfinite(max, sum));
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                int offset = Offset(layout, origin, e);
                element.Store(b, offset, element.Multiply(element.Exp(element.Subtract(element.Load(a, offset), shift)), scale));
            }
        }
    }

    public static void ForwardSlicesWarp<TStorage, TAccumulator, TElement, TLayout>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        int length = layout.SliceLength;
        int width = Warp.WarpSize;
        int warps = Group.DimX / width;
        for (int slice = Grid.IdxX * warps + Warp.WarpIdx; slice < layout.SliceCount; slice += Grid.DimX * warps)
        {
            int origin = layout.Origin(slice);
            int lane = Warp.LaneIdx;
            var x0 = lane < length ? element.Load(a, Offset(layout, origin, lane)) : element.NegativeInfinity;
            var x1 = lane + width < length ? element.Load(a, Offset(layout, origin, lane + width)) : element.NegativeInfinity;
            var x2 = lane + 2 * width < length ? element.Load(a, Offset(layout, origin, lane + 2 * width)) : element.NegativeInfinity;
            var x3 = lane + 3 * width < length ? element.Load(a, Offset(layout, origin, lane + 3 * width)) : element.NegativeInfinity;

            var max = element.Max(element.Max(x0, x1), element.Max(x2, x3));
            var shift = element.Shift(GpuReduce.WarpMax<TStorage, TAccumulator, TElement>(max));
            // Lanes past the slice hold -∞, whose exp is 0: they add nothing.
            x0 = element.Exp(element.Subtract(x0, shift));
            x1 = element.Exp(element.Subtract(x1, shift));
            x2 = element.Exp(element.Subtract(x2, shift));
            x3 = element.Exp(element.Subtract(x3, shift));
            var sum = element.Add(element.Add(x0, x1), element.Add(x2, x3));
            var scale = element.Reciprocal(GpuReduce.WarpSum<TStorage, TAccumulator, TElement>(sum));

            if (lane < length) element.Store(b, Offset(layout, origin, lane), element.Multiply(x0, scale));
            if (lane + width < length) element.Store(b, Offset(layout, origin, lane + width), element.Multiply(x1, scale));
            if (lane + 2 * width < length) element.Store(b, Offset(layout, origin, lane + 2 * width), element.Multiply(x2, scale));
            if (lane + 3 * width < length) element.Store(b, Offset(layout, origin, lane + 3 * width), element.Multiply(x3, scale));
        }
    }

    public static void ForwardLanes<TStorage, TAccumulator, TElement, TLayout>(Index1D index, ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        int lanes = layout.InnerExtent;
        int outer = index.X / lanes;
        int origin = layout.Origin(outer) + (index.X - outer * lanes);
        int runs = layout.RunCount;

        var max = element.NegativeInfinity;
        var sum = element.Zero;
        for (int run = 0; run < runs; run++)
        {
            element.Accumulate(ref max, ref sum, element.Load(a, origin + layout.RunOffset(run)));
        }

        var shift = element.Shift(max);
        var scale = element.Reciprocal(element.PoisonIfInfinite(max, sum));
        for (int run = 0; run < runs; run++)
        {
            int offset = origin + layout.RunOffset(run);
            element.Store(b, offset, element.Multiply(element.Exp(element.Subtract(element.Load(a, offset), shift)), scale));
        }
    }

    public static void BackwardSlicesCached<TStorage, TAccumulator, TElement, TLayout>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var cache = SharedMemory.GetDynamic<TAccumulator>(); // B's slice, then one cotangent's slice
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int count = layout.SliceCount * length;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                cache[e] = element.Load(b, Offset(layout, origin, e));
            }

            for (int k = 0; k < cotangents; k++)
            {
                int first = k * count;
                var dot = element.Zero;
                for (int e = Group.IdxX; e < length; e += Group.DimX)
                {
                    var d = element.Load(dB, first + Offset(layout, origin, e));
                    cache[length + e] = d;
                    dot = element.Add(dot, element.Multiply(d, cache[e]));
                }

                dot = GpuReduce.GroupSum<TStorage, TAccumulator, TElement>(dot, scratch);
                for (int e = Group.IdxX; e < length; e += Group.DimX)
                {
                    element.Store(dA, first + Offset(layout, origin, e), element.Multiply(cache[e], element.Subtract(cache[length + e], dot)));
                }
            }
        }
    }

    public static void BackwardSlicesGlobal<TStorage, TAccumulator, TElement, TLayout>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int count = layout.SliceCount * length;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            for (int k = 0; k < cotangents; k++)
            {
                int first = k * count;
                var dot = element.Zero;
                for (int e = Group.IdxX; e < length; e += Group.DimX)
                {
                    int offset = Offset(layout, origin, e);
                    dot = element.Add(dot, element.Multiply(element.Load(dB, first + offset), element.Load(b, offset)));
                }

                dot = GpuReduce.GroupSum<TStorage, TAccumulator, TElement>(dot, scratch);
                for (int e = Group.IdxX; e < length; e += Group.DimX)
                {
                    int offset = Offset(layout, origin, e);
                    element.Store(dA, first + offset, element.Multiply(element.Load(b, offset), element.Subtract(element.Load(dB, first + offset), dot)));
                }
            }
        }
    }

    public static void BackwardSlicesWarp<TStorage, TAccumulator, TElement, TLayout>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        int length = layout.SliceLength;
        int count = layout.SliceCount * length;
        int width = Warp.WarpSize;
        int warps = Group.DimX / width;
        for (int slice = Grid.IdxX * warps + Warp.WarpIdx; slice < layout.SliceCount; slice += Grid.DimX * warps)
        {
            int origin = layout.Origin(slice);
            int lane = Warp.LaneIdx;
            bool in0 = lane < length, in1 = lane + width < length, in2 = lane + 2 * width < length, in3 = lane + 3 * width < length;
            int o0 = in0 ? Offset(layout, origin, lane) : 0;
            int o1 = in1 ? Offset(layout, origin, lane + width) : 0;
            int o2 = in2 ? Offset(layout, origin, lane + 2 * width) : 0;
            int o3 = in3 ? Offset(layout, origin, lane + 3 * width) : 0;
            // B's slice stays in registers for every cotangent.
            var b0 = in0 ? element.Load(b, o0) : element.Zero;
            var b1 = in1 ? element.Load(b, o1) : element.Zero;
            var b2 = in2 ? element.Load(b, o2) : element.Zero;
            var b3 = in3 ? element.Load(b, o3) : element.Zero;
            for (int k = 0; k < cotangents; k++)
            {
                int first = k * count;
                var d0 = in0 ? element.Load(dB, first + o0) : element.Zero;
                var d1 = in1 ? element.Load(dB, first + o1) : element.Zero;
                var d2 = in2 ? element.Load(dB, first + o2) : element.Zero;
                var d3 = in3 ? element.Load(dB, first + o3) : element.Zero;
                var dot = element.Add(element.Add(element.Multiply(d0, b0), element.Multiply(d1, b1)), element.Add(element.Multiply(d2, b2), element.Multiply(d3, b3)));
                dot = GpuReduce.WarpSum<TStorage, TAccumulator, TElement>(dot);
                if (in0) element.Store(dA, first + o0, element.Multiply(b0, element.Subtract(d0, dot)));
                if (in1) element.Store(dA, first + o1, element.Multiply(b1, element.Subtract(d1, dot)));
                if (in2) element.Store(dA, first + o2, element.Multiply(b2, element.Subtract(d2, dot)));
                if (in3) element.Store(dA, first + o3, element.Multiply(b3, element.Subtract(d3, dot)));
            }
        }
    }

    public static void BackwardLanes<TStorage, TAccumulator, TElement, TLayout>(
        Index1D index, ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        int lanes = layout.InnerExtent;
        int outer = index.X / lanes;
        int origin = layout.Origin(outer) + (index.X - outer * lanes);
        int runs = layout.RunCount;
        int count = layout.SliceCount * layout.SliceLength;
        for (int k = 0; k < cotangents; k++)
        {
            int first = k * count;
            var dot = element.Zero;
            for (int run = 0; run < runs; run++)
            {
                int offset = origin + layout.RunOffset(run);
                dot = element.Add(dot, element.Multiply(element.Load(dB, first + offset), element.Load(b, offset)));
            }

            for (int run = 0; run < runs; run++)
            {
                int offset = origin + layout.RunOffset(run);
                element.Store(dA, first + offset, element.Multiply(element.Load(b, offset), element.Subtract(element.Load(dB, first + offset), dot)));
            }
        }
    }

    /// <summary>The offset of element <paramref name="element"/> (in row-major order) of the slice that starts at <paramref name="origin"/>.</summary>
    private static int Offset<TLayout>(TLayout layout, int origin, int element)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (layout.RunCount == 1)
        {
            return origin + element; // one contiguous run: no division
        }

        int runLength = layout.InnerExtent;
        int run = element / runLength;
        return origin + layout.RunOffset(run) + (element - run * runLength);
    }
}
