using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The forward lanes kernel with 16-byte moves: where the last axis is a batch axis, eight adjacent slices a thread.
/// </summary>
internal static partial class GpuKernels
{
    /// <summary>Adjacent slices a thread of <see cref="ForwardLanesEight"/> owns: one 16-byte access of Half, two of float, four of double.</summary>
    public const int LanesPerThread = 8;

    /// <summary>
    /// As <see cref="ForwardLanes"/>, for a layout without mask, bias or causal mask (z = scale · A), with thread t
    /// owning the eight adjacent slices 8t to 8t + 7 instead of one: in every run they are eight neighbouring elements,
    /// moved with 16-byte loads and stores (<see cref="IGpuVectorElement{TStorage, TAccumulator}.LoadEight"/>). Each
    /// slice is still accumulated run by run in order, so every output is the one <see cref="ForwardLanes"/> gives, bit
    /// for bit. The launcher takes it only where the lane count is a multiple of eight (so that every run of the eight
    /// starts at a multiple of eight elements) and A and B start on 16-byte boundaries (<see cref="GpuLanes"/>).
    /// </summary>
    public static void ForwardLanesEight<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(Index1D index, ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TAccumulator scale)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var element = default(TElement);
        int origin = LaneOrigin(layout, index.X * LanesPerThread);
        int runs = layout.RunCount;

        var max = Same(math.NegativeInfinity);
        var sum = Same(math.Zero);
        for (int run = 0; run < runs; run++)
        {
            AccumulateEight(ref max, ref sum, Scaled(element.LoadEight(a, origin + layout.RunOffset(run)), scale, math), math);
        }

        var shift = new Eight<TAccumulator>(
            math.Shift(max.A), math.Shift(max.B), math.Shift(max.C), math.Shift(max.D),
            math.Shift(max.E), math.Shift(max.F), math.Shift(max.G), math.Shift(max.H));
        var parameter = new Eight<TAccumulator>(
            op.Parameter(shift.A, math.PoisonIfInfinite(max.A, sum.A), math), op.Parameter(shift.B, math.PoisonIfInfinite(max.B, sum.B), math),
            op.Parameter(shift.C, math.PoisonIfInfinite(max.C, sum.C), math), op.Parameter(shift.D, math.PoisonIfInfinite(max.D, sum.D), math),
            op.Parameter(shift.E, math.PoisonIfInfinite(max.E, sum.E), math), op.Parameter(shift.F, math.PoisonIfInfinite(max.F, sum.F), math),
            op.Parameter(shift.G, math.PoisonIfInfinite(max.G, sum.G), math), op.Parameter(shift.H, math.PoisonIfInfinite(max.H, sum.H), math));
        for (int run = 0; run < runs; run++)
        {
            int offset = origin + layout.RunOffset(run);
            var x = Scaled(element.LoadEight(a, offset), scale, math);
            element.StoreEight(b, offset, new Eight<TAccumulator>(
                op.Output(op.Value(x.A, shift.A, math), parameter.A, math), op.Output(op.Value(x.B, shift.B, math), parameter.B, math),
                op.Output(op.Value(x.C, shift.C, math), parameter.C, math), op.Output(op.Value(x.D, shift.D, math), parameter.D, math),
                op.Output(op.Value(x.E, shift.E, math), parameter.E, math), op.Output(op.Value(x.F, shift.F, math), parameter.F, math),
                op.Output(op.Value(x.G, shift.G, math), parameter.G, math), op.Output(op.Value(x.H, shift.H, math), parameter.H, math)));
        }
    }

    /// <summary>Folds eight values, one per slice, into the eight slices' running (max, sum).</summary>
    private static void AccumulateEight<T, TMath>(ref Eight<T> max, ref Eight<T> sum, Eight<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
    {
        T m0 = max.A, m1 = max.B, m2 = max.C, m3 = max.D, m4 = max.E, m5 = max.F, m6 = max.G, m7 = max.H;
        T s0 = sum.A, s1 = sum.B, s2 = sum.C, s3 = sum.D, s4 = sum.E, s5 = sum.F, s6 = sum.G, s7 = sum.H;
        math.Accumulate(ref m0, ref s0, x.A);
        math.Accumulate(ref m1, ref s1, x.B);
        math.Accumulate(ref m2, ref s2, x.C);
        math.Accumulate(ref m3, ref s3, x.D);
        math.Accumulate(ref m4, ref s4, x.E);
        math.Accumulate(ref m5, ref s5, x.F);
        math.Accumulate(ref m6, ref s6, x.G);
        math.Accumulate(ref m7, ref s7, x.H);
        max = new Eight<T>(m0, m1, m2, m3, m4, m5, m6, m7);
        sum = new Eight<T>(s0, s1, s2, s3, s4, s5, s6, s7);
    }
}

/// <summary>
/// When <see cref="GpuKernels.ForwardLanesEight"/> may run: the last axis a batch axis of a multiple of eight lanes
/// (every run of a thread's eight slices then starts at a multiple of eight elements: origins and run offsets are
/// multiples of the lane count), and A and B starting on 16-byte boundaries (<see cref="GpuRows.Aligned"/>), so that
/// each group of eight is 16-byte aligned for any element type. Layouts with a mask, a bias or a causal mask stay on
/// the element kernel, whose loads locate each element's option entries one at a time.
/// </summary>
internal static class GpuLanes
{
    /// <summary>Whether the layout's lanes come in whole groups of eight and it has no options.</summary>
    public static bool Fit(IGpuSoftmaxLayout layout) =>
        layout.LanesInner && !layout.HasMask && !layout.HasBias && !layout.HasCausal
        && layout.InnerExtent > 0 && layout.InnerExtent % GpuKernels.LanesPerThread == 0;
}
