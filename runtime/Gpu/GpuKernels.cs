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

    public static void ForwardSlicesCached<TStorage, TAccumulator, TElement, TMath, TLayout>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var math = default(TMath);
        var cache = SharedMemory.GetDynamic<TAccumulator>();
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = math.NegativeInfinity;
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                var x = element.Load(a, Offset(layout, origin, e));
                cache[e] = x;
                max = math.Max(max, x);
            }

            var shift = math.Shift(GpuReduce.GroupMax<TAccumulator, TMath>(max, scratch));
            var sum = math.Zero;
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                var exp = math.Exp(math.Subtract(cache[e], shift));
                cache[e] = exp;
                sum = math.Add(sum, exp);
            }

            var scale = math.Reciprocal(GpuReduce.GroupSum<TAccumulator, TMath>(sum, scratch));
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                element.Store(b, Offset(layout, origin, e), math.Multiply(cache[e], scale));
            }
        }
    }

    public static void ForwardSlicesOnline<TStorage, TAccumulator, TElement, TMath, TLayout>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var math = default(TMath);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = math.NegativeInfinity;
            var sum = math.Zero;
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                math.Accumulate(ref max, ref sum, element.Load(a, Offset(layout, origin, e)));
            }

            GpuReduce.GroupCombine<TAccumulator, TMath>(ref max, ref sum, scratch);
            var shift = math.Shift(max);
            var scale = math.Reciprocal(math.PoisonIfInfinite(max, sum));
            for (int e = Group.IdxX; e < length; e += Group.DimX)
            {
                int offset = Offset(layout, origin, e);
                element.Store(b, offset, math.Multiply(math.Exp(math.Subtract(element.Load(a, offset), shift)), scale));
            }
        }
    }

    public static void ForwardSlicesWarp<TStorage, TAccumulator, TElement, TMath, TLayout>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var math = default(TMath);
        int length = layout.SliceLength;
        int width = Warp.WarpSize;
        int warps = Group.DimX / width;
        for (int slice = Grid.IdxX * warps + Warp.WarpIdx; slice < layout.SliceCount; slice += Grid.DimX * warps)
        {
            int origin = layout.Origin(slice);
            int lane = Warp.LaneIdx;
            var x0 = lane < length ? element.Load(a, Offset(layout, origin, lane)) : math.NegativeInfinity;
            var x1 = lane + width < length ? element.Load(a, Offset(layout, origin, lane + width)) : math.NegativeInfinity;
            var x2 = lane + 2 * width < length ? element.Load(a, Offset(layout, origin, lane + 2 * width)) : math.NegativeInfinity;
            var x3 = lane + 3 * width < length ? element.Load(a, Offset(layout, origin, lane + 3 * width)) : math.NegativeInfinity;

            var max = math.Max(math.Max(x0, x1), math.Max(x2, x3));
            var shift = math.Shift(GpuReduce.WarpMax<TAccumulator, TMath>(max));
            // Lanes past the slice hold -∞, whose exp is 0: they add nothing.
            x0 = math.Exp(math.Subtract(x0, shift));
            x1 = math.Exp(math.Subtract(x1, shift));
            x2 = math.Exp(math.Subtract(x2, shift));
            x3 = math.Exp(math.Subtract(x3, shift));
            var sum = math.Add(math.Add(x0, x1), math.Add(x2, x3));
            var scale = math.Reciprocal(GpuReduce.WarpSum<TAccumulator, TMath>(sum));

            if (lane < length) element.Store(b, Offset(layout, origin, lane), math.Multiply(x0, scale));
            if (lane + width < length) element.Store(b, Offset(layout, origin, lane + width), math.Multiply(x1, scale));
            if (lane + 2 * width < length) element.Store(b, Offset(layout, origin, lane + 2 * width), math.Multiply(x2, scale));
            if (lane + 3 * width < length) element.Store(b, Offset(layout, origin, lane + 3 * width), math.Multiply(x3, scale));
        }
    }

    public static void ForwardLanes<TStorage, TAccumulator, TElement, TMath, TLayout>(Index1D index, ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var math = default(TMath);
        int origin = LaneOrigin(layout, index.X);
        int runs = layout.RunCount;

        var max = math.NegativeInfinity;
        var sum = math.Zero;
        for (int run = 0; run < runs; run++)
        {
            math.Accumulate(ref max, ref sum, element.Load(a, origin + layout.RunOffset(run)));
        }

        var shift = math.Shift(max);
        var scale = math.Reciprocal(math.PoisonIfInfinite(max, sum));
        for (int run = 0; run < runs; run++)
        {
            int offset = origin + layout.RunOffset(run);
            element.Store(b, offset, math.Multiply(math.Exp(math.Subtract(element.Load(a, offset), shift)), scale));
        }
    }

    public static void BackwardSlicesCached<TStorage, TAccumulator, TElement, TMath, TLayout>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var math = default(TMath);
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
                var dot = math.Zero;
                for (int e = Group.IdxX; e < length; e += Group.DimX)
                {
                    var d = element.Load(dB, first + Offset(layout, origin, e));
                    cache[length + e] = d;
                    dot = math.Add(dot, math.Multiply(d, cache[e]));
                }

                dot = GpuReduce.GroupSum<TAccumulator, TMath>(dot, scratch);
                for (int e = Group.IdxX; e < length; e += Group.DimX)
                {
                    element.Store(dA, first + Offset(layout, origin, e), math.Multiply(cache[e], math.Subtract(cache[length + e], dot)));
                }
            }
        }
    }

    public static void BackwardSlicesGlobal<TStorage, TAccumulator, TElement, TMath, TLayout>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var math = default(TMath);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int count = layout.SliceCount * length;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            for (int k = 0; k < cotangents; k++)
            {
                int first = k * count;
                var dot = math.Zero;
                for (int e = Group.IdxX; e < length; e += Group.DimX)
                {
                    int offset = Offset(layout, origin, e);
                    dot = math.Add(dot, math.Multiply(element.Load(dB, first + offset), element.Load(b, offset)));
                }

                dot = GpuReduce.GroupSum<TAccumulator, TMath>(dot, scratch);
                for (int e = Group.IdxX; e < length; e += Group.DimX)
                {
                    int offset = Offset(layout, origin, e);
                    element.Store(dA, first + offset, math.Multiply(element.Load(b, offset), math.Subtract(element.Load(dB, first + offset), dot)));
                }
            }
        }
    }

    public static void BackwardSlicesWarp<TStorage, TAccumulator, TElement, TMath, TLayout>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var math = default(TMath);
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
                var dot = math.Add(math.Add(math.Multiply(d0, b0), math.Multiply(d1, b1)), math.Add(math.Multiply(d2, b2), math.Multiply(d3, b3)));
                dot = GpuReduce.WarpSum<TAccumulator, TMath>(dot);
                if (in0) element.Store(dA, first + o0, math.Multiply(b0, math.Subtract(d0, dot)));
                if (in1) element.Store(dA, first + o1, math.Multiply(b1, math.Subtract(d1, dot)));
                if (in2) element.Store(dA, first + o2, math.Multiply(b2, math.Subtract(d2, dot)));
                if (in3) element.Store(dA, first + o3, math.Multiply(b3, math.Subtract(d3, dot)));
            }
        }
    }

    public static void BackwardLanes<TStorage, TAccumulator, TElement, TMath, TLayout>(
        Index1D index, ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var math = default(TMath);
        int origin = LaneOrigin(layout, index.X);
        int runs = layout.RunCount;
        int count = layout.SliceCount * layout.SliceLength;
        for (int k = 0; k < cotangents; k++)
        {
            int first = k * count;
            var dot = math.Zero;
            for (int run = 0; run < runs; run++)
            {
                int offset = origin + layout.RunOffset(run);
                dot = math.Add(dot, math.Multiply(element.Load(dB, first + offset), element.Load(b, offset)));
            }

            for (int run = 0; run < runs; run++)
            {
                int offset = origin + layout.RunOffset(run);
                element.Store(dA, first + offset, math.Multiply(element.Load(b, offset), math.Subtract(element.Load(dB, first + offset), dot)));
            }
        }
    }

    /// <summary>The offset of the slice that lanes thread <paramref name="thread"/> owns: its row of adjacent slices, then its lane.</summary>
    private static int LaneOrigin<TLayout>(TLayout layout, int thread)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        int lanes = layout.InnerExtent;
        int outer = thread / lanes;
        return layout.Origin(outer) + (thread - outer * lanes);
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
