using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The register row kernels: aligned rows short enough for a warp, or the warps of a group, to hold in registers,
/// moved with the 16-byte loads and stores of the row kernels (<see cref="IGpuVectorElement{TStorage, TAccumulator}"/>).
/// </summary>
/// <remarks>
/// A row belongs to an aligned run of <c>lanes</c> lanes, a power of two from 4 up to <see cref="WarpRowWarps"/>
/// warps, chosen by <see cref="GpuLaunch.WarpRows"/>: up to the warp size a warp takes <c>warp size / lanes</c> rows
/// at a time; past it a row spans <c>lanes / warp size</c> warps, the whole group, which takes one row at a time, so
/// that all its warps step through the same rows and reach each barrier equally often. Lane l of a run
/// keeps units l, l + lanes, l + 2 · lanes and l + 3 · lanes of eight elements (<see cref="WarpRowUnits"/> units, 32
/// elements at most) in fixed locals, and the elements past the last whole unit, fewer than eight, at most two a lane
/// (whole + l and whole + l + lanes: four lanes or more cover them): <see cref="WarpRowPlace"/>. Every load of A's row
/// is issued before the first of its values is used (the options' loads of the bias and the mask follow them); each
/// element takes one exp; the max and the sum are warp shuffles within the run, and for a row of several warps one
/// word a warp through shared memory and one barrier (<see cref="GpuReduce.RowMax"/>, <see cref="GpuReduce.RowSum"/>,
/// two scratches of <see cref="WarpRowWarps"/> words taken in turn, so that no reduction waits for the one before it
/// to be read); every lane of the warp takes part, also lanes whose run is past the last row: those load and store
/// nothing. A lane's sum takes its elements unit by unit, then its tail, then the
/// butterfly: the element kernels' operations grouped differently, so the results agree with theirs to rounding.
/// </remarks>
internal static partial class GpuKernels
{
    /// <summary>Units of eight elements a lane of a register row kernel holds: 32 floats, 128 bytes, eight 16-byte loads.</summary>
    public const int WarpRowUnits = 4;

    /// <summary>
    /// The most warps a row of a register row kernel spans: the group of eight warps those kernels launch with for
    /// shorter rows (256 threads on a 32-wide warp, rows of up to 8 192 elements; <see cref="GpuLaunch.WarpRows"/>).
    /// </summary>
    public const int WarpRowWarps = 8;

    /// <summary>
    /// A warp's run of <paramref name="lanes"/> lanes per aligned row, the row in registers: its logits from
    /// <paramref name="input"/> (z = scale · A with the options applied, as <see cref="ForwardRowsCached"/> takes them).
    /// </summary>
    public static void ForwardRowsWarp<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, int lanes, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var place = new WarpRowPlace(layout.SliceLength, lanes);
        var scratch = SharedMemory.Allocate<TAccumulator>(2 * WarpRowWarps);
        var maxScratch = scratch.SubView(0, WarpRowWarps);
        var sumScratch = scratch.SubView(WarpRowWarps, WarpRowWarps);
        // The whole warp steps together, so that every lane reaches the shuffles (and a group of one row, the barriers).
        for (int first = FirstWarpRow(lanes); first < layout.SliceCount; first += WarpRowStride(lanes))
        {
            int slice = first + Warp.LaneIdx / lanes;
            bool live = slice < layout.SliceCount;
            int origin = live ? layout.Origin(slice) : 0;
            var row = place.Within(live);
            var x = LoadWarpRow(a, input, row, origin);
            var shift = math.Shift(WarpRowMax(x, lanes, maxScratch, math));

            // Past the row and where excluded every value is -∞, whose exp is 0: it adds nothing.
            x = CenteredRow(x, shift, math);
            var e = ExpRow(x, math);
            var parameter = op.Parameter(shift, GpuReduce.RowSum<TAccumulator, TMath>(SumRow(e, math), lanes, sumScratch), math);

            int at = origin + row.First, tail = origin + row.Tail, step = row.Step;
            if (row.Has0) input.StoreEight(b, at, OutputEight(x.X0, e.X0, parameter, math, op));
            if (row.Has1) input.StoreEight(b, at + step, OutputEight(x.X1, e.X1, parameter, math, op));
            if (row.Has2) input.StoreEight(b, at + 2 * step, OutputEight(x.X2, e.X2, parameter, math, op));
            if (row.Has3) input.StoreEight(b, at + 3 * step, OutputEight(x.X3, e.X3, parameter, math, op));
            if (row.Tail0) input.Store(b, tail, op.Output(op.Kept(x.T0, e.T0), parameter, math));
            if (row.Tail1) input.Store(b, tail + lanes, op.Output(op.Kept(x.T1, e.T1), parameter, math));
        }
    }

    /// <summary>
    /// The backward pass over aligned rows held in registers, a run of <paramref name="lanes"/> lanes per row as
    /// <see cref="ForwardRowsWarp"/>: B's row is loaded once for all cotangents, each cotangent's row once, every load
    /// of a row before the first use of its values; dA = scale · pullback. Each cotangent's dot product is reduced
    /// over the row's lanes, for a row of several warps through the scratch after the one the last reduction took.
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
        int lane = Group.IdxX % lanes;
        var scratch = SharedMemory.Allocate<TAccumulator>(2 * WarpRowWarps);
        int turn = 0;
        bool has0 = lane < units, has1 = lane + lanes < units, has2 = lane + 2 * lanes < units, has3 = lane + 3 * lanes < units;
        bool tail0 = whole + lane < length, tail1 = whole + lane + lanes < length;
        var zero = math.Zero;
        var empty = Same(zero);
        for (int first = FirstWarpRow(lanes); first < layout.SliceCount; first += WarpRowStride(lanes))
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
                dot = GpuReduce.RowSum<TAccumulator, TMath>(dot, lanes, scratch.SubView(turn * WarpRowWarps, WarpRowWarps));
                turn ^= 1;

                if (live && has0) vector.StoreEight(dA, offset + at, PullbackEight(b0, d0, dot, scale, math, op));
                if (live && has1) vector.StoreEight(dA, offset + at + step, PullbackEight(b1, d1, dot, scale, math, op));
                if (live && has2) vector.StoreEight(dA, offset + at + 2 * step, PullbackEight(b2, d2, dot, scale, math, op));
                if (live && has3) vector.StoreEight(dA, offset + at + 3 * step, PullbackEight(b3, d3, dot, scale, math, op));
                if (live && tail0) vector.Store(dA, offset + tail, math.Multiply(op.Pullback(c0, g0, dot, math), scale));
                if (live && tail1) vector.Store(dA, offset + tail + lanes, math.Multiply(op.Pullback(c1, g1, dot, math), scale));
            }
        }
    }

    /// <summary>
    /// Where lane l of a run of <see cref="Lanes"/> lanes (l = 0: <see cref="Leads"/>) finds its part of an aligned row
    /// of a register row kernel:
    /// units l, l + lanes, l + 2 · lanes and l + 3 · lanes of eight (<see cref="Has0"/> to <see cref="Has3"/>: those
    /// within the row), from <see cref="First"/> elements into the row <see cref="Step"/> apart, and elements
    /// <see cref="Tail"/> and <see cref="Tail"/> + lanes past the last whole unit (<see cref="Tail0"/>, <see cref="Tail1"/>).
    /// </summary>
    private readonly struct WarpRowPlace
    {
        public WarpRowPlace(int length, int lanes)
        {
            int units = length / RowUnit;
            int whole = units * RowUnit;
            int lane = Group.IdxX % lanes;
            Lanes = lanes;
            Leads = lane == 0;
            First = lane * RowUnit;
            Step = lanes * RowUnit;
            Tail = whole + lane;
            Has0 = lane < units;
            Has1 = lane + lanes < units;
            Has2 = lane + 2 * lanes < units;
            Has3 = lane + 3 * lanes < units;
            Tail0 = whole + lane < length;
            Tail1 = whole + lane + lanes < length;
        }

        private WarpRowPlace(WarpRowPlace place, bool live)
        {
            Lanes = place.Lanes;
            Leads = place.Leads;
            First = place.First;
            Step = place.Step;
            Tail = place.Tail;
            Has0 = live & place.Has0;
            Has1 = live & place.Has1;
            Has2 = live & place.Has2;
            Has3 = live & place.Has3;
            Tail0 = live & place.Tail0;
            Tail1 = live & place.Tail1;
        }

        public readonly int Lanes;
        public readonly bool Leads;
        public readonly int First;
        public readonly int Step;
        public readonly int Tail;
        public readonly bool Has0;
        public readonly bool Has1;
        public readonly bool Has2;
        public readonly bool Has3;
        public readonly bool Tail0;
        public readonly bool Tail1;

        /// <summary>This place for a row that is one of the layout's (<paramref name="live"/>) or past the last: then the lane holds nothing.</summary>
        public WarpRowPlace Within(bool live) => new(this, live);
    }

    /// <summary>A lane's values of a row in a register row kernel: four units of eight and two tail elements (<see cref="WarpRowPlace"/>).</summary>
    private readonly struct WarpRow<T>(Eight<T> x0, Eight<T> x1, Eight<T> x2, Eight<T> x3, T t0, T t1)
        where T : unmanaged
    {
        public readonly Eight<T> X0 = x0;
        public readonly Eight<T> X1 = x1;
        public readonly Eight<T> X2 = x2;
        public readonly Eight<T> X3 = x3;
        public readonly T T0 = t0;
        public readonly T T1 = t1;
    }

    /// <summary>
    /// This lane's logits of the row at <paramref name="origin"/>, −∞ where <paramref name="place"/> holds nothing
    /// (past the row, or past the last row) whatever the scale's sign, and where an option excludes an element: every
    /// load of A is issued before <paramref name="input"/> applies the scale and the options to what they bring.
    /// </summary>
    private static WarpRow<TAccumulator> LoadWarpRow<TStorage, TAccumulator, TElement, TMath, TLayout>(
        ArrayView<TStorage> a, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, WarpRowPlace place, int origin)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        var element = default(TElement);
        var none = default(TMath).NegativeInfinity;
        var empty = Same(none);
        int at = origin + place.First, tail = origin + place.Tail, step = place.Step, lanes = place.Lanes;
        var x0 = place.Has0 ? element.LoadEight(a, at) : empty;
        var x1 = place.Has1 ? element.LoadEight(a, at + step) : empty;
        var x2 = place.Has2 ? element.LoadEight(a, at + 2 * step) : empty;
        var x3 = place.Has3 ? element.LoadEight(a, at + 3 * step) : empty;
        var t0 = place.Tail0 ? element.Load(a, tail) : none;
        var t1 = place.Tail1 ? element.Load(a, tail + lanes) : none;
        return new WarpRow<TAccumulator>(
            place.Has0 ? input.LogitsEight(x0, at) : empty,
            place.Has1 ? input.LogitsEight(x1, at + step) : empty,
            place.Has2 ? input.LogitsEight(x2, at + 2 * step) : empty,
            place.Has3 ? input.LogitsEight(x3, at + 3 * step) : empty,
            place.Tail0 ? input.Logit(t0, tail) : none,
            place.Tail1 ? input.Logit(t1, tail + lanes) : none);
    }

    /// <summary>The row's max: this lane's, then over the run of <paramref name="lanes"/> lanes (<see cref="GpuReduce.RowMax"/>).</summary>
    private static T WarpRowMax<T, TMath>(WarpRow<T> x, int lanes, ArrayView<T> scratch, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => GpuReduce.RowMax<T, TMath>(
            math.Max(math.Max(math.Max(MaxEight(x.X0, math), MaxEight(x.X1, math)), math.Max(MaxEight(x.X2, math), MaxEight(x.X3, math))), math.Max(x.T0, x.T1)),
            lanes,
            scratch);

    /// <summary>
    /// The first row of this warp's runs of <paramref name="lanes"/> lanes: <c>warp size / lanes</c> rows a warp, or,
    /// for a row of several warps (a group of <paramref name="lanes"/> threads), the group's row, the same for all its
    /// warps. Lane l's row is this one plus l / lanes.
    /// </summary>
    private static int FirstWarpRow(int lanes) => (Grid.IdxX * Group.DimX + Warp.WarpIdx * Warp.WarpSize) / lanes;

    /// <summary>The rows the grid takes at a time, runs of <paramref name="lanes"/> lanes.</summary>
    private static int WarpRowStride(int lanes) => Grid.DimX * (Group.DimX / lanes);

    /// <summary>Each of a lane's values less <paramref name="shift"/>.</summary>
    private static WarpRow<T> CenteredRow<T, TMath>(WarpRow<T> x, T shift, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => new(Centered(x.X0, shift, math), Centered(x.X1, shift, math), Centered(x.X2, shift, math), Centered(x.X3, shift, math),
            math.Subtract(x.T0, shift), math.Subtract(x.T1, shift));

    /// <summary>The exp of each of a lane's values.</summary>
    private static WarpRow<T> ExpRow<T, TMath>(WarpRow<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => new(ExpEight(x.X0, math), ExpEight(x.X1, math), ExpEight(x.X2, math), ExpEight(x.X3, math), math.Exp(x.T0), math.Exp(x.T1));

    /// <summary>The sum of a lane's values: unit by unit, then its tail.</summary>
    private static T SumRow<T, TMath>(WarpRow<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Add(math.Add(math.Add(SumEight(x.X0, math), SumEight(x.X1, math)), math.Add(SumEight(x.X2, math), SumEight(x.X3, math))), math.Add(x.T0, x.T1));

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
