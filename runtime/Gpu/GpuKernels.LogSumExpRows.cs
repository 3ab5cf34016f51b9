using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Log-sum-exp over aligned rows (<see cref="GpuRows"/>), A's logits moved eight at a time with 16-byte loads through
/// <see cref="GpuInputLoads{TStorage, TAccumulator, TElement, TMath, TLayout}"/>, options included: rows short enough
/// for the registers of a warp, or of a group's warps, as <see cref="ForwardRowsWarp"/> holds them, longer ones with the online max-and-sum pass of
/// <see cref="ForwardRowsOnline"/>. Each row's value is that of <see cref="LogSumExpOf"/>, as the element kernels give
/// it: −∞ for a row with nothing included, NaN for a NaN, +∞ for a +∞ with no NaN beside it.
/// </summary>
internal static partial class GpuKernels
{
    /// <summary>
    /// Log-sum-exp, a warp's run of <paramref name="lanes"/> lanes per aligned row, the row in registers as
    /// <see cref="ForwardRowsWarp"/> holds it (a row of several warps, a group a row); the run's first lane stores the
    /// row's value.
    /// </summary>
    public static void LogSumExpRowsWarp<TStorage, TAccumulator, TElement, TMath, TLayout>(
        ArrayView<TStorage> a, ArrayView<TStorage> lse, TLayout layout, int lanes, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var math = default(TMath);
        var place = new WarpRowPlace(layout.SliceLength, lanes);
        var scratch = SharedMemory.Allocate<TAccumulator>(2 * WarpRowWarps);
        var maxScratch = scratch.SubView(0, WarpRowWarps);
        var sumScratch = scratch.SubView(WarpRowWarps, WarpRowWarps);
        // The whole warp steps together, so that every lane reaches the shuffles (and a group of one row, the barriers).
        for (int first = FirstWarpRow(lanes); first < layout.SliceCount; first += WarpRowStride(lanes))
        {
            int slice = first + Warp.LaneIdx / lanes;
            bool live = slice < layout.SliceCount;
            var x = LoadWarpRow(a, input, place.Within(live), live ? layout.Origin(slice) : 0);
            var max = WarpRowMax(x, lanes, maxScratch, math);
            var sum = SumRow(ExpRow(CenteredRow(x, math.Shift(max), math), math), math);
            // A +∞ max makes every sum NaN, which then says nothing: each lane counts instead whether it holds a NaN,
            // which makes the row's value NaN rather than +∞ (what LogSumExpSlices reads the row again for).
            sum = math.IsPositiveInfinity(max) ? (NaNRow(x, math) ? math.One : math.Zero) : sum;
            sum = GpuReduce.RowSum<TAccumulator, TMath>(sum, lanes, sumScratch);
            if (live && place.Leads)
            {
                input.Store(lse, slice, LogSumExpOf(max, sum, sum, math));
            }
        }
    }

    /// <summary>
    /// Log-sum-exp, a group per aligned row: the online max-and-sum pass of <see cref="ForwardRowsOnline"/>, combined
    /// over the group; a row whose max is +∞ is read again for a NaN, as <see cref="LogSumExpSlices"/> reads it.
    /// </summary>
    public static void LogSumExpRowsOnline<TStorage, TAccumulator, TVector, TMath, TLayout>(ArrayView<TStorage> a, ArrayView<TStorage> lse, TLayout layout, TVector input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var math = default(TMath);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int units = length / RowUnit;
        int whole = units * RowUnit;
        int stride = Group.DimX;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = math.NegativeInfinity;
            var sum = math.Zero;
            AccumulateRow<TStorage, TAccumulator, TVector, TMath, TLayout>(a, layout, origin, input, ref max, ref sum);
            GpuReduce.GroupCombine<TAccumulator, TMath>(ref max, ref sum, scratch);
            var nan = math.Zero;
            if (math.IsPositiveInfinity(max))
            {
                for (int u = Group.IdxX; u < units; u += stride)
                {
                    nan = NaNEight(input.LoadEight(a, origin + u * RowUnit), math) ? math.One : nan;
                }

                for (int e = whole + Group.IdxX; e < length; e += stride)
                {
                    nan = math.IsNaN(input.Load(a, origin + e)) ? math.One : nan;
                }

                nan = GpuReduce.GroupSum<TAccumulator, TMath>(nan, scratch);
            }

            if (Group.IdxX == 0)
            {
                input.Store(lse, slice, LogSumExpOf(max, sum, nan, math));
            }
        }
    }

    /// <summary>
    /// This thread's part of the online max and sum of the aligned row at <paramref name="origin"/>: units
    /// <c>Group.IdxX</c>, + <c>Group.DimX</c>, ... of eight, then the elements past the last whole unit, each in
    /// element order.
    /// </summary>
    private static void AccumulateRow<TStorage, TAccumulator, TVector, TMath, TLayout>(
        ArrayView<TStorage> a, TLayout layout, int origin, TVector input, ref TAccumulator max, ref TAccumulator sum)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var math = default(TMath);
        int length = layout.SliceLength;
        int units = length / RowUnit;
        int whole = units * RowUnit;
        int stride = Group.DimX;
        for (int u = Group.IdxX; u < units; u += stride)
        {
            var x = input.LoadEight(a, origin + u * RowUnit);
            math.Accumulate(ref max, ref sum, x.A);
            math.Accumulate(ref max, ref sum, x.B);
            math.Accumulate(ref max, ref sum, x.C);
            math.Accumulate(ref max, ref sum, x.D);
            math.Accumulate(ref max, ref sum, x.E);
            math.Accumulate(ref max, ref sum, x.F);
            math.Accumulate(ref max, ref sum, x.G);
            math.Accumulate(ref max, ref sum, x.H);
        }

        for (int e = whole + Group.IdxX; e < length; e += stride)
        {
            math.Accumulate(ref max, ref sum, input.Load(a, origin + e));
        }
    }

    /// <summary>Whether any of a lane's values of a register row is NaN.</summary>
    private static bool NaNRow<T, TMath>(WarpRow<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => NaNEight(x.X0, math) | NaNEight(x.X1, math) | NaNEight(x.X2, math) | NaNEight(x.X3, math) | math.IsNaN(x.T0) | math.IsNaN(x.T1);

    /// <summary>Whether any of eight values is NaN.</summary>
    private static bool NaNEight<T, TMath>(Eight<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.IsNaN(x.A) | math.IsNaN(x.B) | math.IsNaN(x.C) | math.IsNaN(x.D) | math.IsNaN(x.E) | math.IsNaN(x.F) | math.IsNaN(x.G) | math.IsNaN(x.H);
}
