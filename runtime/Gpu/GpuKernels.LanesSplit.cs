using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The forward lanes kernel whose warps split the reduced axis: where the last axis is a batch axis and a group's
/// cached slices would leave it few lanes (<see cref="GpuLaunch.LanesSplit"/>), e.g. NCHW channel softmax with 48 to
/// 191 float channels.
/// </summary>
/// <remarks>
/// A group covers warp × 8 adjacent slices (256 on a 32-wide warp): lane l of every warp owns the same eight slices,
/// 8l to 8l + 7 of the group's block, moved with 16-byte loads and stores as in <see cref="ForwardLanesEight"/>. Warp w
/// of the group's W takes runs w, w + W, w + 2W, … and folds its runs into an online (max, sum) for each of its eight
/// slices; the W partial pairs of a slice meet in shared memory after one barrier, and every warp combines them in the
/// same order (warp 0's pair first), so all hold the same (max, sum). Each warp then writes its own runs' outputs,
/// reading A again: the group has just read that block, so the second read comes mostly from the L2 cache. The order in
/// which a slice's exponentials are summed differs from the element kernels', so results agree with them to rounding,
/// not bit for bit.
/// </remarks>
internal static partial class GpuKernels
{
    /// <summary>
    /// As <see cref="ForwardLanesEight"/>, the group's warps splitting each slice's runs: shared memory holds the W
    /// warps' partial maxima, then their partial sums, slice k of lane l of warp w at (k · W + w) · warp + l of each
    /// half (consecutive lanes at consecutive words: no bank conflicts). One group per block of warp × 8 slices, no
    /// grid-stride loop, so that the one barrier is all a group needs.
    /// </summary>
    public static void ForwardLanesSplit<TStorage, TAccumulator, TVector, TMath, TLayout, TOp>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TVector input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var partials = SharedMemory.GetDynamic<TAccumulator>();
        int width = Warp.WarpSize;
        int threads = Group.DimX;
        int warps = threads / width;
        int warp = Warp.WarpIdx;
        int lane = Warp.LaneIdx;
        int first = (Grid.IdxX * width + lane) * LanesPerThread; // this lane's eight slices: first to first + 7
        bool owns = first < layout.SliceCount;
        int origin = owns ? LaneOrigin(layout, first) : 0;
        int runs = layout.RunCount;

        var max = Same(math.NegativeInfinity);
        var sum = Same(math.Zero);
        if (owns)
        {
            for (int run = warp; run < runs; run += warps)
            {
                AccumulateEight(ref max, ref sum, input.LoadEight(a, origin + layout.RunOffset(run)), math);
            }
        }

        // Every thread stores a pair and reaches the barrier, those past the last slice with (−∞, 0).
        int sums = LanesPerThread * threads;
        StoreSpread(partials, warp * width + lane, threads, max);
        StoreSpread(partials, sums + warp * width + lane, threads, sum);
        Group.Barrier();
        if (!owns)
        {
            return;
        }

        max = LoadSpread(partials, lane, threads);
        sum = LoadSpread(partials, sums + lane, threads);
        for (int other = 1; other < warps; other++)
        {
            CombineEight(ref max, ref sum, LoadSpread(partials, other * width + lane, threads), LoadSpread(partials, sums + other * width + lane, threads), math);
        }

        var shift = new Eight<TAccumulator>(
            math.Shift(max.A), math.Shift(max.B), math.Shift(max.C), math.Shift(max.D),
            math.Shift(max.E), math.Shift(max.F), math.Shift(max.G), math.Shift(max.H));
        var parameter = new Eight<TAccumulator>(
            op.Parameter(shift.A, math.PoisonIfInfinite(max.A, sum.A), math), op.Parameter(shift.B, math.PoisonIfInfinite(max.B, sum.B), math),
            op.Parameter(shift.C, math.PoisonIfInfinite(max.C, sum.C), math), op.Parameter(shift.D, math.PoisonIfInfinite(max.D, sum.D), math),
            op.Parameter(shift.E, math.PoisonIfInfinite(max.E, sum.E), math), op.Parameter(shift.F, math.PoisonIfInfinite(max.F, sum.F), math),
            op.Parameter(shift.G, math.PoisonIfInfinite(max.G, sum.G), math), op.Parameter(shift.H, math.PoisonIfInfinite(max.H, sum.H), math));
        for (int run = warp; run < runs; run += warps)
        {
            int offset = origin + layout.RunOffset(run);
            var x = input.LoadEight(a, offset);
            input.StoreEight(b, offset, new Eight<TAccumulator>(
                op.Output(op.Value(x.A, shift.A, math), parameter.A, math), op.Output(op.Value(x.B, shift.B, math), parameter.B, math),
                op.Output(op.Value(x.C, shift.C, math), parameter.C, math), op.Output(op.Value(x.D, shift.D, math), parameter.D, math),
                op.Output(op.Value(x.E, shift.E, math), parameter.E, math), op.Output(op.Value(x.F, shift.F, math), parameter.F, math),
                op.Output(op.Value(x.G, shift.G, math), parameter.G, math), op.Output(op.Value(x.H, shift.H, math), parameter.H, math)));
        }
    }

    /// <summary>Combines eight slices' online (max, sum) pairs with eight others (<see cref="IGpuMath{T}.Combine"/>).</summary>
    private static void CombineEight<T, TMath>(ref Eight<T> max, ref Eight<T> sum, Eight<T> otherMax, Eight<T> otherSum, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
    {
        T m0 = max.A, m1 = max.B, m2 = max.C, m3 = max.D, m4 = max.E, m5 = max.F, m6 = max.G, m7 = max.H;
        T s0 = sum.A, s1 = sum.B, s2 = sum.C, s3 = sum.D, s4 = sum.E, s5 = sum.F, s6 = sum.G, s7 = sum.H;
        math.Combine(ref m0, ref s0, otherMax.A, otherSum.A);
        math.Combine(ref m1, ref s1, otherMax.B, otherSum.B);
        math.Combine(ref m2, ref s2, otherMax.C, otherSum.C);
        math.Combine(ref m3, ref s3, otherMax.D, otherSum.D);
        math.Combine(ref m4, ref s4, otherMax.E, otherSum.E);
        math.Combine(ref m5, ref s5, otherMax.F, otherSum.F);
        math.Combine(ref m6, ref s6, otherMax.G, otherSum.G);
        math.Combine(ref m7, ref s7, otherMax.H, otherSum.H);
        max = new Eight<T>(m0, m1, m2, m3, m4, m5, m6, m7);
        sum = new Eight<T>(s0, s1, s2, s3, s4, s5, s6, s7);
    }

    /// <summary>Stores eight values at <paramref name="at"/>, <paramref name="at"/> + <paramref name="stride"/>, … of shared memory.</summary>
    private static void StoreSpread<T>(ArrayView<T> view, int at, int stride, Eight<T> values)
        where T : unmanaged
    {
        view[at] = values.A;
        view[at + stride] = values.B;
        view[at + 2 * stride] = values.C;
        view[at + 3 * stride] = values.D;
        view[at + 4 * stride] = values.E;
        view[at + 5 * stride] = values.F;
        view[at + 6 * stride] = values.G;
        view[at + 7 * stride] = values.H;
    }

    /// <summary>The eight values <see cref="StoreSpread"/> stored at <paramref name="at"/>.</summary>
    private static Eight<T> LoadSpread<T>(ArrayView<T> view, int at, int stride)
        where T : unmanaged
        => new(view[at], view[at + stride], view[at + 2 * stride], view[at + 3 * stride], view[at + 4 * stride], view[at + 5 * stride], view[at + 6 * stride], view[at + 7 * stride]);
}
