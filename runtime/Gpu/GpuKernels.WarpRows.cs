using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The register row kernels: aligned rows short enough for a warp to hold in registers, moved with the 16-byte loads
/// and stores of the row kernels (<see cref="IGpuVectorElement{TStorage, TAccumulator}"/>).
/// </summary>
/// <remarks>
/// A row belongs to an aligned run of <c>lanes</c> lanes (a power of two from 4 up to the warp size, chosen by
/// <see cref="GpuLaunch.WarpRows"/>), so that a warp takes <c>warp size / lanes</c> rows at a time. Lane l of a run
/// keeps units l, l + lanes, l + 2 · lanes and l + 3 · lanes of eight elements (<see cref="WarpRowUnits"/> units, 32
/// elements at most) in fixed locals, and the elements past the last whole unit, fewer than eight, at most two a lane
/// (whole + l and whole + l + lanes: four lanes or more cover them). Every load of a row is issued before the first
/// of its values is used; each element takes one exp; the max and the sum are warp shuffles within the run
/// (<see cref="GpuReduce.SegmentMax"/>), which every lane of the warp takes part in, also lanes whose run is past the
/// last row: those load and store nothing. A lane's sum takes its elements unit by unit, then its tail, then the
/// butterfly: the element kernels' operations grouped differently, so the results agree with theirs to rounding.
/// </remarks>
internal static partial class GpuKernels
{
    /// <summary>Units of eight elements a lane of a register row kernel holds: 32 floats, 128 bytes, eight 16-byte loads.</summary>
    public const int WarpRowUnits = 4;

    /// <summary>A warp's run of <paramref name="lanes"/> lanes per aligned row, the row in registers: z = scale · A.</summary>
    public static void ForwardRowsWarp<TStorage, TAccumulator, TVector, TMath, TLayout, TOp>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, int lanes, TAccumulator scale)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var vector = default(TVector);
        int length = layout.SliceLength;
        int units = length / RowUnit;
        int whole = units * RowUnit;
        int lane = Warp.LaneIdx % lanes;
        int rowsPerWarp = Warp.WarpSize / lanes;
        int warps = Group.DimX / Warp.WarpSize;
        bool has0 = lane < units, has1 = lane + lanes < units, has2 = lane + 2 * lanes < units, has3 = lane + 3 * lanes < units;
        bool tail0 = whole + lane < length, tail1 = whole + lane + lanes < length;
        var none = math.NegativeInfinity;
        var empty = Same(none);
        // The whole warp steps together, so that every lane reaches the shuffles.
        for (int first = (Grid.IdxX * warps + Warp.WarpIdx) * rowsPerWarp; first < layout.SliceCount; first += Grid.DimX * warps * rowsPerWarp)
        {
            int slice = first + Warp.LaneIdx / lanes;
            bool live = slice < layout.SliceCount;
            int at = live ? layout.Origin(slice) + lane * RowUnit : 0;
            int tail = live ? layout.Origin(slice) + whole + lane : 0;
            int step = lanes * RowUnit;
            var x0 = live && has0 ? vector.LoadEight(a, at) : empty;
            var x1 = live && has1 ? vector.LoadEight(a, at + step) : empty;
            var x2 = live && has2 ? vector.LoadEight(a, at + 2 * step) : empty;
            var x3 = live && has3 ? vector.LoadEight(a, at + 3 * step) : empty;
            var t0 = live && tail0 ? vector.Load(a, tail) : none;
            var t1 = live && tail1 ? vector.Load(a, tail + lanes) : none;

            // Scaled after all loads are issued; past the row -∞ whatever the scale's sign.
            x0 = live && has0 ? Scaled(x0, scale, math) : empty;
            x1 = live && has1 ? Scaled(x1, scale, math) : empty;
            x2 = live && has2 ? Scaled(x2, scale, math) : empty;
            x3 = live && has3 ? Scaled(x3, scale, math) : empty;
            t0 = live && tail0 ? math.Multiply(t0, scale) : none;
            t1 = live && tail1 ? math.Multiply(t1, scale) : none;
            var max = math.Max(math.Max(math.Max(MaxEight(x0, math), MaxEight(x1, math)), math.Max(MaxEight(x2, math), MaxEight(x3, math))), math.Max(t0, t1));
            var shift = math.Shift(GpuReduce.SegmentMax<TAccumulator, TMath>(max, lanes));

            // Past the row every value is -∞, whose exp is 0: it adds nothing.
            x0 = Centered(x0, shift, math);
            x1 = Centered(x1, shift, math);
            x2 = Centered(x2, shift, math);
            x3 = Centered(x3, shift, math);
            t0 = math.Subtract(t0, shift);
            t1 = math.Subtract(t1, shift);
            var e0 = ExpEight(x0, math);
            var e1 = ExpEight(x1, math);
            var e2 = ExpEight(x2, math);
            var e3 = ExpEight(x3, math);
            var f0 = math.Exp(t0);
            var f1 = math.Exp(t1);
            var sum = math.Add(math.Add(math.Add(SumEight(e0, math), SumEight(e1, math)), math.Add(SumEight(e2, math), SumEight(e3, math))), math.Add(f0, f1));
            var parameter = op.Parameter(shift, GpuReduce.SegmentSum<TAccumulator, TMath>(sum, lanes), math);

            if (live && has0) vector.StoreEight(b, at, OutputEight(x0, e0, parameter, math, op));
            if (live && has1) vector.StoreEight(b, at + step, OutputEight(x1, e1, parameter, math, op));
            if (live && has2) vector.StoreEight(b, at + 2 * step, OutputEight(x2, e2, parameter, math, op));
            if (live && has3) vector.StoreEight(b, at + 3 * step, OutputEight(x3, e3, parameter, math, op));
            if (live && tail0) vector.Store(b, tail, op.Output(op.Kept(t0, f0), parameter, math));
            if (live && tail1) vector.Store(b, tail + lanes, op.Output(op.Kept(t1, f1), parameter, math));
        }
    }

    /// <summary>
    /// The backward pass over aligned rows held in registers, a run of <paramref name="lanes"/> lanes per row as
    /// <see cref="ForwardRowsWarp"/>: B's row is loaded once for all cotangents, each cotangent's row once, every load
    /// of a row before the first use of its values; dA = scale · pullback.
    /// </summary>
    public static void BackwardRowsWarp<TStorage, TAccumulator, TVector, TMath, TLayout, TOp>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, int lanes, TAccumulator scale)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var vector = default(TVector);
        int length = layout.SliceLength;
        int units = length / RowUnit;
        int whole = units * RowUnit;
        int count = layout.SliceCount * length;
        int lane = Warp.LaneIdx % lanes;
        int rowsPerWarp = Warp.WarpSize / lanes;
        int warps = Group.DimX / Warp.WarpSize;
        bool has0 = lane < units, has1 = lane + lanes < units, has2 = lane + 2 * lanes < units, has3 = lane + 3 * lanes < units;
        bool tail0 = whole + lane < length, tail1 = whole + lane + lanes < length;
        var zero = math.Zero;
        var empty = Same(zero);
        for (int first = (Grid.IdxX * warps + Warp.WarpIdx) * rowsPerWarp; first < layout.SliceCount; first += Grid.DimX * warps * rowsPerWarp)
        {
            int slice = first + Warp.LaneIdx / lanes;
            bool live = slice < layout.SliceCount;
            int at = live ? layout.Origin(slice) + lane * RowUnit : 0;
            int tail = live ? layout.Origin(slice) + whole + lane : 0;
            int step = lanes * RowUnit;
            // Past the row B and the cotangent are 0, whose term is 0.
            var b0 = live && has0 ? vector.LoadEight(b, at) : empty;
            var b1 = live && has1 ? vector.LoadEight(b, at + step) : empty;
            var b2 = live && has2 ? vector.LoadEight(b, at + 2 * step) : empty;
            var b3 = live && has3 ? vector.LoadEight(b, at + 3 * step) : empty;
            var c0 = live && tail0 ? vector.Load(b, tail) : zero;
            var c1 = live && tail1 ? vector.Load(b, tail + lanes) : zero;
            for (int k = 0; k < cotangents; k++)
            {
                int offset = k * count;
                var d0 = live && has0 ? vector.LoadEight(dB, offset + at) : empty;
                var d1 = live && has1 ? vector.LoadEight(dB, offset + at + step) : empty;
                var d2 = live && has2 ? vector.LoadEight(dB, offset + at + 2 * step) : empty;
                var d3 = live && has3 ? vector.LoadEight(dB, offset + at + 3 * step) : empty;
                var g0 = live && tail0 ? vector.Load(dB, offset + tail) : zero;
                var g1 = live && tail1 ? vector.Load(dB, offset + tail + lanes) : zero;

                var dot = math.Add(math.Add(math.Add(DotEight(b0, d0, math, op), DotEight(b1, d1, math, op)), math.Add(DotEight(b2, d2, math, op), DotEight(b3, d3, math, op))),
                    math.Add(op.Term(c0, g0, math), op.Term(c1, g1, math)));
                dot = GpuReduce.SegmentSum<TAccumulator, TMath>(dot, lanes);

                if (live && has0) vector.StoreEight(dA, offset + at, PullbackEight(b0, d0, dot, scale, math, op));
                if (live && has1) vector.StoreEight(dA, offset + at + step, PullbackEight(b1, d1, dot, scale, math, op));
                if (live && has2) vector.StoreEight(dA, offset + at + 2 * step, PullbackEight(b2, d2, dot, scale, math, op));
                if (live && has3) vector.StoreEight(dA, offset + at + 3 * step, PullbackEight(b3, d3, dot, scale, math, op));
                if (live && tail0) vector.Store(dA, offset + tail, math.Multiply(op.Pullback(c0, g0, dot, math), scale));
                if (live && tail1) vector.Store(dA, offset + tail + lanes, math.Multiply(op.Pullback(c1, g1, dot, math), scale));
            }
        }
    }

    /// <summary>Eight copies of one value.</summary>
    private static Eight<T> Same<T>(T value)
        where T : unmanaged
        => new(value, value, value, value, value, value, value, value);

    /// <summary>Each of eight values less <paramref name="shift"/>.</summary>
    private static Eight<T> Centered<T, TMath>(Eight<T> x, T shift, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => new(math.Subtract(x.A, shift), math.Subtract(x.B, shift), math.Subtract(x.C, shift), math.Subtract(x.D, shift),
            math.Subtract(x.E, shift), math.Subtract(x.F, shift), math.Subtract(x.G, shift), math.Subtract(x.H, shift));

    /// <summary>The exp of each of eight values.</summary>
    private static Eight<T> ExpEight<T, TMath>(Eight<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => new(math.Exp(x.A), math.Exp(x.B), math.Exp(x.C), math.Exp(x.D), math.Exp(x.E), math.Exp(x.F), math.Exp(x.G), math.Exp(x.H));

    /// <summary>The sum of eight values in element order.</summary>
    private static T SumEight<T, TMath>(Eight<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Add(math.Add(math.Add(math.Add(math.Add(math.Add(math.Add(x.A, x.B), x.C), x.D), x.E), x.F), x.G), x.H);

    /// <summary>The outputs of eight elements from their centered values and exps.</summary>
    private static Eight<T> OutputEight<T, TMath, TOp>(Eight<T> centered, Eight<T> exp, T parameter, TMath math, TOp op)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        where TOp : struct, IGpuOperation
        => new(op.Output(op.Kept(centered.A, exp.A), parameter, math), op.Output(op.Kept(centered.B, exp.B), parameter, math),
            op.Output(op.Kept(centered.C, exp.C), parameter, math), op.Output(op.Kept(centered.D, exp.D), parameter, math),
            op.Output(op.Kept(centered.E, exp.E), parameter, math), op.Output(op.Kept(centered.F, exp.F), parameter, math),
            op.Output(op.Kept(centered.G, exp.G), parameter, math), op.Output(op.Kept(centered.H, exp.H), parameter, math));

    /// <summary>The backward's terms of eight elements, summed in element order.</summary>
    private static T DotEight<T, TMath, TOp>(Eight<T> b, Eight<T> d, TMath math, TOp op)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        where TOp : struct, IGpuOperation
        => math.Add(math.Add(math.Add(math.Add(math.Add(math.Add(math.Add(
            op.Term(b.A, d.A, math), op.Term(b.B, d.B, math)), op.Term(b.C, d.C, math)), op.Term(b.D, d.D, math)),
            op.Term(b.E, d.E, math)), op.Term(b.F, d.F, math)), op.Term(b.G, d.G, math)), op.Term(b.H, d.H, math));

    /// <summary>scale · the pullback of eight elements.</summary>
    private static Eight<T> PullbackEight<T, TMath, TOp>(Eight<T> b, Eight<T> d, T dot, T scale, TMath math, TOp op)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        where TOp : struct, IGpuOperation
        => new(math.Multiply(op.Pullback(b.A, d.A, dot, math), scale), math.Multiply(op.Pullback(b.B, d.B, dot, math), scale),
            math.Multiply(op.Pullback(b.C, d.C, dot, math), scale), math.Multiply(op.Pullback(b.D, d.D, dot, math), scale),
            math.Multiply(op.Pullback(b.E, d.E, dot, math), scale), math.Multiply(op.Pullback(b.F, d.F, dot, math), scale),
            math.Multiply(op.Pullback(b.G, d.G, dot, math), scale), math.Multiply(op.Pullback(b.H, d.H, dot, math), scale));
}
