using System.Runtime.CompilerServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The <see cref="CpuStrategy.Lanes"/> and <see cref="CpuStrategy.Block"/> strategies: tiles of adjacent slices
/// processed side by side. Every run of a tile is one contiguous row of its width, and every pass goes through the rows
/// in memory order with per-lane arrays of the slices' maxima, sums and parameters (in L1). With lanes, a slice owns one
/// element of each row; in block mode it owns <see cref="CpuLaunch.Group"/> adjacent elements, folded together between
/// the passes. Reading whole rows instead of one short run per slice turns many strided streams into few long ones.
/// </summary>
internal static unsafe partial class CpuKernels<TStorage, T, TV, TS, TIO, TLayout, TOp, TInput>
{
    private readonly struct ForwardTiles(TStorage* a, TStorage* b, TLayout layout, TInput input, CpuLaunch launch) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[CpuTuning.PadElements];
            T* shift = Scratch<T>.Lanes();
            T* partial = shift + Scratch<T>.LaneArray;
            T* total = partial + Scratch<T>.LaneArray;
            T* parameter = total + Scratch<T>.LaneArray;
            T* scratch = launch.Keep == CpuKeep.Scratch ? Scratch<T>.Get() : null;
            int group = launch.Group;
            for (int item = first; item < end; item++)
            {
                int origin = launch.Origin(layout, item, out int width);
                nuint pitch = RoundUp((nuint)width);
                MaxPass(a, layout, origin, shift, width, input, pad);
                if (group > 1)
                {
                    FoldGroups(shift, width, group, max: true);
                }

                for (nuint j = 0; j < pitch; j += Width)
                {
                    TS.Store(TS.Shift(TS.Load(shift + j)), shift + j);
                }

                ExpSumPass(a, layout, origin, scratch, pitch, shift, partial, total, width, input, pad);
                if (group > 1)
                {
                    FoldGroups(total, width, group, max: false);
                }

                for (nuint j = 0; j < pitch; j += Width)
                {
                    TS.Store(TOp.Parameter<T, TV, TS>(TS.Load(shift + j), TS.Load(total + j)), parameter + j);
                }

                WritePass(a, b, layout, origin, scratch, pitch, shift, parameter, width, launch.Stream, input, pad);
            }

            Fence(launch.Stream);
        }
    }

    // Each pass is a method of its own, fully optimised from its first call where the JIT does not inline it into the
    // tile loop (the sum pass, the longest, stays apart: one method holding all three would exhaust the inlining budget).

    /// <summary>Pass 1 over a tile: the per-lane maxima of its logits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MaxPass(TStorage* a, TLayout layout, int origin, T* max, int width, TInput input, T* pad)
    {
        Fill(max, RoundUp((nuint)width), T.NegativeInfinity);
        var visitor = new MaxLanes(a, max, width, input, pad);
        layout.ForEachRun(origin, ref visitor);
        visitor.Complete();
    }

    /// <summary>Pass 2 over a tile: the per-lane sums of exp(z − shift) into <paramref name="total"/>, kept in the scratch unless it is null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ExpSumPass(TStorage* a, TLayout layout, int origin, T* kept, nuint pitch, T* shift, T* partial, T* total, int width, TInput input, T* pad)
    {
        Fill(partial, pitch, T.Zero);
        Fill(total, pitch, T.Zero);
        var visitor = new ExpSumLanes(a, kept, pitch, shift, partial, total, width, input, pad);
        layout.ForEachRun(origin, ref visitor);
        visitor.Complete();
        Flush(partial, total, pitch);
    }

    /// <summary>Pass 3 over a tile: B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WritePass(TStorage* a, TStorage* b, TLayout layout, int origin, T* kept, nuint pitch, T* shift, T* parameter, int width, bool stream, TInput input, T* pad)
    {
        var visitor = new WriteLanes(a, b, kept, pitch, shift, parameter, width, stream, input, pad);
        layout.ForEachRun(origin, ref visitor);
    }

    /// <summary>
    /// Up to four row offsets, gathered by the per-lane reducers so that each lane's running value is loaded and stored
    /// once per four rows rather than once per row (the per-lane arrays' traffic would otherwise cost as much as the rows').
    /// </summary>
    private struct Rows4
    {
        public int R0;
        public int R1;
        public int R2;
        public int R3;
        public int Count;

        /// <summary>Adds a row; true when four are waiting.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Add(int offset)
        {
            switch (Count++)
            {
                case 0: R0 = offset; break;
                case 1: R1 = offset; break;
                case 2: R2 = offset; break;
                default: R3 = offset; break;
            }

            return Count == 4;
        }

        public readonly int this[int row] => row switch { 0 => R0, 1 => R1, 2 => R2, _ => R3 };
    }

    /// <summary>Pass 1: the per-lane max of the logits over the rows (call <see cref="Complete"/> after the walk).</summary>
    private ref struct MaxLanes(TStorage* a, T* max, int width, TInput input, T* pad) : IRunVisitor
    {
        private Rows4 _rows;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (_rows.Add(offset))
            {
                Complete();
            }
        }

        /// <summary>Folds the rows waiting into the maxima.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Complete()
        {
            nuint n = (nuint)width;
            int count = _rows.Count;
            _rows.Count = 0;
            if (count == 4)
            {
                TStorage* x0 = a + _rows.R0;
                TStorage* x1 = a + _rows.R1;
                TStorage* x2 = a + _rows.R2;
                TStorage* x3 = a + _rows.R3;
                var p0 = input.Place(_rows.R0);
                var p1 = input.Place(_rows.R1);
                var p2 = input.Place(_rows.R2);
                var p3 = input.Place(_rows.R3);
                nuint j = 0;
                for (; j + Width <= n; j += Width)
                {
                    var m = TS.Max(TS.Load(max + j), input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x0 + j), p0, j, Width, pad));
                    m = TS.Max(m, input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x1 + j), p1, j, Width, pad));
                    m = TS.Max(m, input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x2 + j), p2, j, Width, pad));
                    TS.Store(TS.Max(m, input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x3 + j), p3, j, Width, pad)), max + j);
                }

                if (j < n)
                {
                    var m = TS.Max(TS.Load(max + j), LoadTail(x0 + j, n - j, input, p0, j, pad));
                    m = TS.Max(m, LoadTail(x1 + j, n - j, input, p1, j, pad));
                    m = TS.Max(m, LoadTail(x2 + j, n - j, input, p2, j, pad));
                    TS.Store(TS.Max(m, LoadTail(x3 + j, n - j, input, p3, j, pad)), max + j);
                }

                return;
            }

            for (int row = 0; row < count; row++)
            {
                TStorage* x = a + _rows[row];
                var place = input.Place(_rows[row]);
                nuint j = 0;
                for (; j + Width <= n; j += Width)
                {
                    TS.Store(TS.Max(TS.Load(max + j), input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x + j), place, j, Width, pad)), max + j);
                }

                if (j < n)
                {
                    TS.Store(TS.Max(TS.Load(max + j), LoadTail(x + j, n - j, input, place, j, pad)), max + j);
                }
            }
        }
    }

    /// <summary>
    /// Pass 2: per-lane Σ exp(z − shift) over the rows (call <see cref="Complete"/> after the walk), added up in blocks of
    /// <see cref="CpuTuning.SumBlock"/> rows, and kept row by row in the scratch (<c>pitch</c> apart) unless it is null.
    /// Each lane adds its rows in order, whatever the batching.
    /// </summary>
    private ref struct ExpSumLanes(TStorage* a, T* kept, nuint pitch, T* shift, T* partial, T* total, int width, TInput input, T* pad) : IRunVisitor
    {
        private Rows4 _rows;
        private int _row;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (_rows.Add(offset))
            {
                Complete();
            }
        }

        /// <summary>Adds the rows waiting to the sums; flushes the partial sums every block of rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Complete()
        {
            int count = _rows.Count;
            _rows.Count = 0;
            if (count == 4)
            {
                Four();
            }
            else
            {
                for (int row = 0; row < count; row++)
                {
                    One(_rows[row], _row + row);
                }
            }

            _row += count;
            if (_row % CpuTuning.SumBlock == 0)
            {
                Flush(partial, total, pitch);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void Four()
        {
            TStorage* x0 = a + _rows.R0;
            TStorage* x1 = a + _rows.R1;
            TStorage* x2 = a + _rows.R2;
            TStorage* x3 = a + _rows.R3;
            var p0 = input.Place(_rows.R0);
            var p1 = input.Place(_rows.R1);
            var p2 = input.Place(_rows.R2);
            var p3 = input.Place(_rows.R3);
            T* keep = kept == null ? null : kept + ((nuint)_row * pitch);
            nuint n = (nuint)width;
            nuint j = 0;
            for (; j + Width <= n; j += Width)
            {
                var s = TS.Load(shift + j);
                var c0 = TS.Subtract(input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x0 + j), p0, j, Width, pad), s);
                var c1 = TS.Subtract(input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x1 + j), p1, j, Width, pad), s);
                var c2 = TS.Subtract(input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x2 + j), p2, j, Width, pad), s);
                var c3 = TS.Subtract(input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x3 + j), p3, j, Width, pad), s);
                var e0 = TS.Exp(c0);
                var e1 = TS.Exp(c1);
                var e2 = TS.Exp(c2);
                var e3 = TS.Exp(c3);
                if (keep != null)
                {
                    TS.Store(TOp.Kept<T, TV, TS>(c0, e0), keep + j);
                    TS.Store(TOp.Kept<T, TV, TS>(c1, e1), keep + pitch + j);
                    TS.Store(TOp.Kept<T, TV, TS>(c2, e2), keep + (2 * pitch) + j);
                    TS.Store(TOp.Kept<T, TV, TS>(c3, e3), keep + (3 * pitch) + j);
                }

                TS.Store(TS.Add(TS.Add(TS.Add(TS.Add(TS.Load(partial + j), e0), e1), e2), e3), partial + j);
            }

            if (j < n)
            {
                // The scratch's rows are whole vectors wide: the lanes past the tile get a store they never use.
                var s = TS.Load(shift + j);
                var c0 = TS.Subtract(LoadTail(x0 + j, n - j, input, p0, j, pad), s);
                var c1 = TS.Subtract(LoadTail(x1 + j, n - j, input, p1, j, pad), s);
                var c2 = TS.Subtract(LoadTail(x2 + j, n - j, input, p2, j, pad), s);
                var c3 = TS.Subtract(LoadTail(x3 + j, n - j, input, p3, j, pad), s);
                var e0 = TS.Exp(c0);
                var e1 = TS.Exp(c1);
                var e2 = TS.Exp(c2);
                var e3 = TS.Exp(c3);
                if (keep != null)
                {
                    TS.Store(TOp.Kept<T, TV, TS>(c0, e0), keep + j);
                    TS.Store(TOp.Kept<T, TV, TS>(c1, e1), keep + pitch + j);
                    TS.Store(TOp.Kept<T, TV, TS>(c2, e2), keep + (2 * pitch) + j);
                    TS.Store(TOp.Kept<T, TV, TS>(c3, e3), keep + (3 * pitch) + j);
                }

                TS.Store(TS.Add(TS.Add(TS.Add(TS.Add(TS.Load(partial + j), e0), e1), e2), e3), partial + j);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void One(int offset, int row)
        {
            TStorage* x = a + offset;
            var place = input.Place(offset);
            T* keep = kept == null ? null : kept + ((nuint)row * pitch);
            nuint n = (nuint)width;
            nuint j = 0;
            for (; j + Width <= n; j += Width)
            {
                var c = TS.Subtract(input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x + j), place, j, Width, pad), TS.Load(shift + j));
                var e = TS.Exp(c);
                if (keep != null)
                {
                    TS.Store(TOp.Kept<T, TV, TS>(c, e), keep + j);
                }

                TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
            }

            if (j < n)
            {
                var c = TS.Subtract(LoadTail(x + j, n - j, input, place, j, pad), TS.Load(shift + j));
                var e = TS.Exp(c);
                if (keep != null)
                {
                    TS.Store(TOp.Kept<T, TV, TS>(c, e), keep + j);
                }

                TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
            }
        }
    }

    /// <summary>Pass 3: B over the rows, from the kept value or from A.</summary>
    private ref struct WriteLanes(TStorage* a, TStorage* b, T* kept, nuint pitch, T* shift, T* parameter, int width, bool stream, TInput input, T* pad) : IRunVisitor
    {
        private int _row;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            var producer = kept == null
                ? new LanesOutputOf(a + offset, null, shift, parameter, input, input.Place(offset), pad)
                : new LanesOutputOf(a + offset, kept + ((nuint)_row * pitch), shift, parameter, input, default, pad);
            _row++;
            StoreRun(b + offset, (nuint)width, stream, ref producer, pad);
        }
    }

    /// <summary>B = output(value, parameter) per lane, the value kept or computed again from A.</summary>
    private readonly struct LanesOutputOf(TStorage* x, T* kept, T* shift, T* parameter, TInput input, RunPlace place, T* pad) : IProducer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Full(nuint i)
        {
            var value = kept != null ? TS.Load(kept + i) : TOp.Value<T, TV, TS>(input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x + i), place, i, Width, pad), TS.Load(shift + i));
            return TOp.Output<T, TV, TS>(value, TS.Load(parameter + i));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Partial(nuint i, nuint count, T* pad)
        {
            var value = kept != null
                ? TS.Load(kept + i)
                : TOp.Value<T, TV, TS>(input.Apply<TStorage, T, TV, TS, TIO>(TIO.LoadPartial(x + i, count, pad), place, i, count, pad), TS.Load(shift + i));
            return TOp.Output<T, TV, TS>(value, TS.Load(parameter + i));
        }
    }

    private readonly struct BackwardTiles(TStorage* b, TStorage* dB, TStorage* dA, int count, int cotangents, TLayout layout, CpuLaunch launch, T scale) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[CpuTuning.PadElements];
            T* dot = Scratch<T>.Lanes();
            T* partial = dot + Scratch<T>.LaneArray;
            int group = launch.Group;
            for (int item = first; item < end; item++)
            {
                int origin = launch.Origin(layout, item, out int width);
                nuint pitch = RoundUp((nuint)width);
                for (int k = 0; k < cotangents; k++)
                {
                    // B's tile comes from memory for k = 0 and from the cache for the other cotangents.
                    TStorage* cotangent = dB + ((nint)k * count);
                    DotPass(b, cotangent, layout, origin, partial, dot, pitch, width, pad);
                    if (group > 1)
                    {
                        FoldGroups(dot, width, group, max: false);
                    }

                    PullbackPass(b, cotangent, dA + ((nint)k * count), layout, origin, dot, TS.Create(scale), width, launch.Stream, pad);
                }
            }

            Fence(launch.Stream);
        }
    }

    /// <summary>The backward's per-lane d over a tile and one cotangent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotPass(TStorage* b, TStorage* dB, TLayout layout, int origin, T* partial, T* dot, nuint pitch, int width, T* pad)
    {
        Fill(dot, pitch, T.Zero);
        Fill(partial, pitch, T.Zero);
        var visitor = new DotLanes(b, dB, partial, dot, pitch, width, pad);
        layout.ForEachRun(origin, ref visitor);
        visitor.Complete();
        Flush(partial, dot, pitch);
    }

    /// <summary>dA over a tile and one cotangent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PullbackPass(TStorage* b, TStorage* dB, TStorage* dA, TLayout layout, int origin, T* dot, TV scale, int width, bool stream, T* pad)
    {
        var visitor = new PullbackLanes(b, dB, dA, dot, scale, width, stream, pad);
        layout.ForEachRun(origin, ref visitor);
    }

    /// <summary>
    /// The backward's per-lane d over the rows of one cotangent (call <see cref="Complete"/> after the walk), added up in
    /// blocks of rows, each lane's rows in order.
    /// </summary>
    private ref struct DotLanes(TStorage* b, TStorage* dB, T* partial, T* dot, nuint pitch, int width, T* pad) : IRunVisitor
    {
        private Rows4 _rows;
        private int _row;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (_rows.Add(offset))
            {
                Complete();
            }
        }

        /// <summary>Adds the rows waiting to the sums; flushes the partial sums every block of rows.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Complete()
        {
            int count = _rows.Count;
            _rows.Count = 0;
            nuint n = (nuint)width;
            if (count == 4)
            {
                int r0 = _rows.R0, r1 = _rows.R1, r2 = _rows.R2, r3 = _rows.R3;
                nuint j = 0;
                for (; j + Width <= n; j += Width)
                {
                    var s = TOp.Accumulate<T, TV, TS>(TS.Load(partial + j), TIO.Load(b + r0 + j), TIO.Load(dB + r0 + j));
                    s = TOp.Accumulate<T, TV, TS>(s, TIO.Load(b + r1 + j), TIO.Load(dB + r1 + j));
                    s = TOp.Accumulate<T, TV, TS>(s, TIO.Load(b + r2 + j), TIO.Load(dB + r2 + j));
                    TS.Store(TOp.Accumulate<T, TV, TS>(s, TIO.Load(b + r3 + j), TIO.Load(dB + r3 + j)), partial + j);
                }

                if (j < n)
                {
                    // Both partial loads give 0 past the row's end, whose terms are 0.
                    nuint rest = n - j;
                    var s = TOp.Accumulate<T, TV, TS>(TS.Load(partial + j), TIO.LoadPartial(b + r0 + j, rest, pad), TIO.LoadPartial(dB + r0 + j, rest, pad));
                    s = TOp.Accumulate<T, TV, TS>(s, TIO.LoadPartial(b + r1 + j, rest, pad), TIO.LoadPartial(dB + r1 + j, rest, pad));
                    s = TOp.Accumulate<T, TV, TS>(s, TIO.LoadPartial(b + r2 + j, rest, pad), TIO.LoadPartial(dB + r2 + j, rest, pad));
                    TS.Store(TOp.Accumulate<T, TV, TS>(s, TIO.LoadPartial(b + r3 + j, rest, pad), TIO.LoadPartial(dB + r3 + j, rest, pad)), partial + j);
                }
            }
            else
            {
                for (int row = 0; row < count; row++)
                {
                    int r = _rows[row];
                    nuint j = 0;
                    for (; j + Width <= n; j += Width)
                    {
                        TS.Store(TOp.Accumulate<T, TV, TS>(TS.Load(partial + j), TIO.Load(b + r + j), TIO.Load(dB + r + j)), partial + j);
                    }

                    if (j < n)
                    {
                        TS.Store(TOp.Accumulate<T, TV, TS>(TS.Load(partial + j), TIO.LoadPartial(b + r + j, n - j, pad), TIO.LoadPartial(dB + r + j, n - j, pad)), partial + j);
                    }
                }
            }

            _row += count;
            if (_row % CpuTuning.SumBlock == 0)
            {
                Flush(partial, dot, pitch);
            }
        }
    }

    /// <summary>dA over the rows of one cotangent.</summary>
    private ref struct PullbackLanes(TStorage* b, TStorage* dB, TStorage* dA, T* dot, TV scale, int width, bool stream, T* pad) : IRunVisitor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            var producer = new LanesPullbackOf(b + offset, dB + offset, dot, scale);
            StoreRun(dA + offset, (nuint)width, stream, ref producer, pad);
        }
    }

    /// <summary>dA = scale · pullback(B, dB, d) per lane.</summary>
    private readonly struct LanesPullbackOf(TStorage* b, TStorage* dB, T* dot, TV scale) : IProducer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Full(nuint i) => TS.Multiply(TOp.Pullback<T, TV, TS>(TIO.Load(b + i), TIO.Load(dB + i), TS.Load(dot + i)), scale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Partial(nuint i, nuint count, T* pad)
            => TS.Multiply(TOp.Pullback<T, TV, TS>(TIO.LoadPartial(b + i, count, pad), TIO.LoadPartial(dB + i, count, pad), TS.Load(dot + i)), scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Fill(T* destination, nuint length, T value)
    {
        var vector = TS.Create(value);
        for (nuint j = 0; j < length; j += Width)
        {
            TS.Store(vector, destination + j);
        }
    }

    /// <summary>total += partial; partial = 0, over whole vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Flush(T* partial, T* total, nuint length)
    {
        for (nuint j = 0; j < length; j += Width)
        {
            TS.Store(TS.Add(TS.Load(total + j), TS.Load(partial + j)), total + j);
            TS.Store(TS.Create(T.Zero), partial + j);
        }
    }

    /// <summary>
    /// In block mode each slice owns <paramref name="group"/> adjacent lanes: folds them into one value per slice (their
    /// max, or their sum, in lane order) and writes it back to all of them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FoldGroups(T* lanes, int width, int group, bool max)
    {
        if (group % TS.Count == 0)
        {
            // Whole vectors per slice: fold them lane-wise, then across the lanes of one vector.
            for (int first = 0; first < width; first += group)
            {
                T* start = lanes + first;
                var fold = TS.Load(start);
                for (int lane = TS.Count; lane < group; lane += TS.Count)
                {
                    fold = max ? TS.Max(fold, TS.Load(start + lane)) : TS.Add(fold, TS.Load(start + lane));
                }

                var value = max ? TS.MaxAll(fold) : TS.SumAll(fold);
                for (int lane = 0; lane < group; lane += TS.Count)
                {
                    TS.Store(value, start + lane);
                }
            }

            return;
        }

        for (int first = 0; first < width; first += group)
        {
            T value = lanes[first];
            for (int lane = first + 1; lane < first + group; lane++)
            {
                value = max ? T.Max(value, lanes[lane]) : value + lanes[lane];
            }

            for (int lane = first; lane < first + group; lane++)
            {
                lanes[lane] = value;
            }
        }
    }
}
