using System;
using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The lanes kernels with 16-byte moves: where the last axis is a batch axis, eight adjacent slices a thread.
/// </summary>
/// <remarks>
/// Thread t owns slices 8t to 8t + 7: in every run they are eight neighbouring elements, moved with one 16-byte load or
/// store of Half, two of float, four of double (<see cref="IGpuVectorElement{TStorage, TAccumulator}.LoadEight"/>).
/// Each slice is still taken run by run in order with the element kernel's operations, so every output is the one
/// <see cref="ForwardLanes"/>, <see cref="BackwardLanes"/> or <see cref="LogSumExpLanes"/> gives, bit for bit. The
/// launcher takes them only where the lane count is a multiple of eight (so that every run of the eight starts at a
/// multiple of eight elements) and the views they move 16 bytes of start on 16-byte boundaries (<see cref="GpuLanes"/>).
/// </remarks>
internal static partial class GpuKernels
{
    /// <summary>Adjacent slices a thread of the eight-wide lanes kernels owns: one 16-byte access of Half, two of float, four of double.</summary>
    public const int LanesPerThread = 8;

    /// <summary>
    /// As <see cref="ForwardLanes"/>, eight adjacent slices a thread: <paramref name="input"/> gives each run's eight
    /// logits from one 16-byte move of A, the scale, the bias and the exclusions applied to the eight in registers
    /// (<see cref="GpuInputLoads{TStorage, TAccumulator, TElement, TMath, TLayout}.LoadEight"/>: along the lanes the
    /// mask and bias offsets move by the layout's run strides and the causal index along the last axis by one, as
    /// along a row), and stores B.
    /// </summary>
    public static void ForwardLanesEight<TStorage, TAccumulator, TVector, TMath, TLayout, TOp>(Index1D index, ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TVector input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        int origin = LaneOrigin(layout, index.X * LanesPerThread);
        int runs = layout.RunCount;

        var max = Same(math.NegativeInfinity);
        var sum = Same(math.Zero);
        for (int run = 0; run < runs; run++)
        {
            AccumulateEight(ref max, ref sum, input.LoadEight(a, origin + layout.RunOffset(run)), math);
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
            var x = input.LoadEight(a, offset);
            input.StoreEight(b, offset, new Eight<TAccumulator>(
                op.Output(op.Value(x.A, shift.A, math), parameter.A, math), op.Output(op.Value(x.B, shift.B, math), parameter.B, math),
                op.Output(op.Value(x.C, shift.C, math), parameter.C, math), op.Output(op.Value(x.D, shift.D, math), parameter.D, math),
                op.Output(op.Value(x.E, shift.E, math), parameter.E, math), op.Output(op.Value(x.F, shift.F, math), parameter.F, math),
                op.Output(op.Value(x.G, shift.G, math), parameter.G, math), op.Output(op.Value(x.H, shift.H, math), parameter.H, math)));
        }
    }

    /// <summary>
    /// As <see cref="BackwardLanes"/> (dA = scale · pullback), eight adjacent slices a thread: a dot pass, then the
    /// output pass, each reading B once for up to four cotangents, with eight dot products a cotangent. Cotangent k
    /// starts k · count elements into dB and dA; count, a multiple of the lane count, keeps each on a 16-byte boundary.
    /// </summary>
    public static void BackwardLanesEight<TStorage, TAccumulator, TVector, TMath, TLayout, TOp>(
        Index1D index, ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, TAccumulator scale)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var vector = default(TVector);
        int origin = LaneOrigin(layout, index.X * LanesPerThread);
        int runs = layout.RunCount;
        int count = layout.SliceCount * layout.SliceLength;
        for (int k = 0; k < cotangents; k += 4)
        {
            int block = Math.Min(4, cotangents - k); // cotangents k .. k + block - 1, at first, first + count, ...
            int first = k * count;
            var dot0 = Same(math.Zero);
            var dot1 = Same(math.Zero);
            var dot2 = Same(math.Zero);
            var dot3 = Same(math.Zero);
            for (int run = 0; run < runs; run++)
            {
                int offset = origin + layout.RunOffset(run);
                var bx = vector.LoadEight(b, offset);
                dot0 = DotEight<TStorage, TAccumulator, TVector, TMath, TOp>(dB, first + offset, bx, dot0);
                if (block > 1) dot1 = DotEight<TStorage, TAccumulator, TVector, TMath, TOp>(dB, first + count + offset, bx, dot1);
                if (block > 2) dot2 = DotEight<TStorage, TAccumulator, TVector, TMath, TOp>(dB, first + 2 * count + offset, bx, dot2);
                if (block > 3) dot3 = DotEight<TStorage, TAccumulator, TVector, TMath, TOp>(dB, first + 3 * count + offset, bx, dot3);
            }

            for (int run = 0; run < runs; run++)
            {
                int offset = origin + layout.RunOffset(run);
                var bx = vector.LoadEight(b, offset);
                PullbackEight<TStorage, TAccumulator, TVector, TMath, TOp>(dB, dA, first + offset, bx, dot0, scale);
                if (block > 1) PullbackEight<TStorage, TAccumulator, TVector, TMath, TOp>(dB, dA, first + count + offset, bx, dot1, scale);
                if (block > 2) PullbackEight<TStorage, TAccumulator, TVector, TMath, TOp>(dB, dA, first + 2 * count + offset, bx, dot2, scale);
                if (block > 3) PullbackEight<TStorage, TAccumulator, TVector, TMath, TOp>(dB, dA, first + 3 * count + offset, bx, dot3, scale);
            }
        }
    }

    /// <summary>
    /// As <see cref="LogSumExpLanes"/>, eight adjacent slices a thread, the logits from <paramref name="input"/> as in
    /// <see cref="ForwardLanesEight"/>; the eight values are stored together, at slices 8t to 8t + 7 of
    /// <paramref name="lse"/>. The runs are read again only where one of the eight maxima is +∞.
    /// </summary>
    public static void LogSumExpLanesEight<TStorage, TAccumulator, TVector, TMath, TLayout>(Index1D index, ArrayView<TStorage> a, ArrayView<TStorage> lse, TLayout layout, TVector input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var math = default(TMath);
        int origin = LaneOrigin(layout, index.X * LanesPerThread);
        int runs = layout.RunCount;
        var max = Same(math.NegativeInfinity);
        var sum = Same(math.Zero);
        for (int run = 0; run < runs; run++)
        {
            AccumulateEight(ref max, ref sum, input.LoadEight(a, origin + layout.RunOffset(run)), math);
        }

        var nan = Same(math.Zero);
        if (math.IsPositiveInfinity(max.A) || math.IsPositiveInfinity(max.B) || math.IsPositiveInfinity(max.C) || math.IsPositiveInfinity(max.D)
            || math.IsPositiveInfinity(max.E) || math.IsPositiveInfinity(max.F) || math.IsPositiveInfinity(max.G) || math.IsPositiveInfinity(max.H))
        {
            for (int run = 0; run < runs; run++)
            {
                var x = input.LoadEight(a, origin + layout.RunOffset(run));
                nan = new Eight<TAccumulator>(
                    math.IsNaN(x.A) ? math.One : nan.A, math.IsNaN(x.B) ? math.One : nan.B, math.IsNaN(x.C) ? math.One : nan.C, math.IsNaN(x.D) ? math.One : nan.D,
                    math.IsNaN(x.E) ? math.One : nan.E, math.IsNaN(x.F) ? math.One : nan.F, math.IsNaN(x.G) ? math.One : nan.G, math.IsNaN(x.H) ? math.One : nan.H);
            }
        }

        input.StoreEight(lse, index.X * LanesPerThread, new Eight<TAccumulator>(
            LogSumExpOf(max.A, sum.A, nan.A, math), LogSumExpOf(max.B, sum.B, nan.B, math),
            LogSumExpOf(max.C, sum.C, nan.C, math), LogSumExpOf(max.D, sum.D, nan.D, math),
            LogSumExpOf(max.E, sum.E, nan.E, math), LogSumExpOf(max.F, sum.F, nan.F, math),
            LogSumExpOf(max.G, sum.G, nan.G, math), LogSumExpOf(max.H, sum.H, nan.H, math)));
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

    /// <summary>Eight slices' dot products plus their terms of B and the cotangent's eight elements at <paramref name="offset"/> of dB.</summary>
    private static Eight<TAccumulator> DotEight<TStorage, TAccumulator, TVector, TMath, TOp>(ArrayView<TStorage> dB, int offset, Eight<TAccumulator> b, Eight<TAccumulator> dot)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var d = default(TVector).LoadEight(dB, offset);
        return new Eight<TAccumulator>(
            math.Add(dot.A, op.Term(b.A, d.A, math)), math.Add(dot.B, op.Term(b.B, d.B, math)),
            math.Add(dot.C, op.Term(b.C, d.C, math)), math.Add(dot.D, op.Term(b.D, d.D, math)),
            math.Add(dot.E, op.Term(b.E, d.E, math)), math.Add(dot.F, op.Term(b.F, d.F, math)),
            math.Add(dot.G, op.Term(b.G, d.G, math)), math.Add(dot.H, op.Term(b.H, d.H, math)));
    }

    /// <summary>dA = scale · pullback(B, dB, dot) for eight slices at <paramref name="offset"/> of dB and dA, as <see cref="GpuScaledStores{TStorage, TAccumulator, TElement, TMath}"/> scales one.</summary>
    private static void PullbackEight<TStorage, TAccumulator, TVector, TMath, TOp>(
        ArrayView<TStorage> dB, ArrayView<TStorage> dA, int offset, Eight<TAccumulator> b, Eight<TAccumulator> dot, TAccumulator scale)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var vector = default(TVector);
        var d = vector.LoadEight(dB, offset);
        vector.StoreEight(dA, offset, new Eight<TAccumulator>(
            math.Multiply(op.Pullback(b.A, d.A, dot.A, math), scale), math.Multiply(op.Pullback(b.B, d.B, dot.B, math), scale),
            math.Multiply(op.Pullback(b.C, d.C, dot.C, math), scale), math.Multiply(op.Pullback(b.D, d.D, dot.D, math), scale),
            math.Multiply(op.Pullback(b.E, d.E, dot.E, math), scale), math.Multiply(op.Pullback(b.F, d.F, dot.F, math), scale),
            math.Multiply(op.Pullback(b.G, d.G, dot.G, math), scale), math.Multiply(op.Pullback(b.H, d.H, dot.H, math), scale)));
    }
}

/// <summary>
/// When the eight-wide lanes kernels (<see cref="GpuKernels.ForwardLanesEight"/>, <see cref="GpuKernels.BackwardLanesEight"/>,
/// <see cref="GpuKernels.LogSumExpLanesEight"/>) may run: the last axis a batch axis of a multiple of eight lanes (every
/// run of a thread's eight slices then starts at a multiple of eight elements: origins and run offsets are multiples of
/// the lane count), and the views they move 16 bytes at a time starting on 16-byte boundaries
/// (<see cref="GpuRows.Aligned"/>), so that each group of eight is 16-byte aligned for any element type. A mask or a
/// bias along the lanes is then itself read eight at a time where its view is aligned
/// (<see cref="GpuInputLoads{TStorage, TAccumulator, TElement, TMath, TLayout}"/>), its entries one at a time otherwise.
/// </summary>
/// <remarks>
/// They serve the lanes strategy only (<see cref="GpuStrategy.Lanes"/>: a group's slices past shared memory); where
/// shared memory holds a full group of lanes, <see cref="GpuStrategy.LanesCached"/> keeps the element kernels even for
/// aligned lanes, and where it holds fewer the forward pass takes <see cref="GpuKernels.ForwardLanesSplit"/>. Those read A (forward) or B (backward) from device memory once, the eight-wide kernels twice: forward 2N
/// moved against 3N, backward with one cotangent 4N against 5N. Their PTX (SM_90, float) shows no instruction bound to
/// trade that for: the cached kernels' main loops over device memory take 14.4 and 17.0 instructions per element moved
/// (forward) and 9.0 to 14.3 (backward), a scalar load or store each; the eight-wide kernels' loops take 16.5 (forward
/// output pass, a 16-byte move per four elements) and 2.6 and 5.1 (backward), while their forward max-and-sum pass,
/// holding the online exp, takes 79 where the cached kernel's exp runs between shared memory and registers.
/// </remarks>
internal static class GpuLanes
{
    /// <summary>Whether the layout's lanes come in whole groups of eight.</summary>
    public static bool Fit(IGpuSoftmaxLayout layout) =>
        layout.LanesInner && layout.InnerExtent > 0 && layout.InnerExtent % GpuKernels.LanesPerThread == 0;
}
