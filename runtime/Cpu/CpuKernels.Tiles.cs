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
                Fill(shift, pitch, T.NegativeInfinity);
                var max = new MaxLanes(a, shift, width, input, pad);
                layout.ForEachRun(origin, ref max);
                if (group > 1)
                {
                    FoldGroups(shift, width, group, max: true);
                }

                for (nuint j = 0; j < pitch; j += Width)
                {
                    TS.Store(TS.Shift(TS.Load(shift + j)), shift + j);
                }

                Fill(partial, pitch, T.Zero);
                Fill(total, pitch, T.Zero);
                var sum = new ExpSumLanes(a, scratch, pitch, shift, partial, total, width, input, pad);
                layout.ForEachRun(origin, ref sum);
                Flush(partial, total, pitch);
                if (group > 1)
                {
                    FoldGroups(total, width, group, max: false);
                }

                for (int j = 0; j < width; j++)
                {
                    parameter[j] = TOp.Parameter(shift[j], total[j]);
                }

                var write = new WriteLanes(a, b, scratch, pitch, shift, parameter, width, launch.Stream, input, pad);
                layout.ForEachRun(origin, ref write);
            }

            Fence(launch.Stream);
        }
    }

    /// <summary>Pass 1: the per-lane max of the logits over the rows.</summary>
    private ref struct MaxLanes(TStorage* a, T* max, int width, TInput input, T* pad) : IRunVisitor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            TStorage* x = a + offset;
            nuint n = (nuint)width;
            nuint j = 0;
            for (; j + Width <= n; j += Width)
            {
                TS.Store(TS.Max(TS.Load(max + j), input.Apply<T, TV, TS>(TIO.Load(x + j))), max + j);
            }

            if (j < n)
            {
                TS.Store(TS.Max(TS.Load(max + j), LoadTail(x + j, n - j, input, pad)), max + j);
            }
        }
    }

    /// <summary>
    /// Pass 2: per-lane Σ exp(z − shift) over the rows, added up in blocks of <see cref="CpuTuning.SumBlock"/> rows, and
    /// kept row by row in the scratch (<c>pitch</c> apart) unless it is null.
    /// </summary>
    private ref struct ExpSumLanes(TStorage* a, T* kept, nuint pitch, T* shift, T* partial, T* total, int width, TInput input, T* pad) : IRunVisitor
    {
        private int _row;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            TStorage* x = a + offset;
            T* keep = kept == null ? null : kept + ((nuint)_row * pitch);
            nuint n = (nuint)width;
            nuint j = 0;
            for (; j + Width <= n; j += Width)
            {
                var e = TS.Exp(TS.Subtract(input.Apply<T, TV, TS>(TIO.Load(x + j)), TS.Load(shift + j)));
                if (keep != null)
                {
                    TS.Store(e, keep + j);
                }

                TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
            }

            if (j < n)
            {
                // The scratch's rows are whole vectors wide: the lanes past the tile get a store they never use.
                var e = TS.Exp(TS.Subtract(LoadTail(x + j, n - j, input, pad), TS.Load(shift + j)));
                if (keep != null)
                {
                    TS.Store(e, keep + j);
                }

                TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
            }

            if (++_row % CpuTuning.SumBlock == 0)
            {
                Flush(partial, total, pitch);
            }
        }
    }

    /// <summary>Pass 3: B over the rows, from the kept exp or from A.</summary>
    private ref struct WriteLanes(TStorage* a, TStorage* b, T* kept, nuint pitch, T* shift, T* parameter, int width, bool stream, TInput input, T* pad) : IRunVisitor
    {
        private int _row;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            var producer = new LanesOutputOf(a + offset, kept == null ? null : kept + ((nuint)_row++ * pitch), shift, parameter, input);
            StoreRun(b + offset, (nuint)width, stream, ref producer, pad);
        }
    }

    /// <summary>B = output(value, parameter) per lane, the value kept or computed again from A.</summary>
    private readonly struct LanesOutputOf(TStorage* x, T* kept, T* shift, T* parameter, TInput input) : IProducer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Full(nuint i)
        {
            var value = kept != null ? TS.Load(kept + i) : TOp.Value<T, TV, TS>(input.Apply<T, TV, TS>(TIO.Load(x + i)), TS.Load(shift + i));
            return TOp.Output<T, TV, TS>(value, TS.Load(parameter + i));
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Partial(nuint i, nuint count, T* pad)
        {
            var value = kept != null
                ? TS.Load(kept + i)
                : TOp.Value<T, TV, TS>(input.Apply<T, TV, TS>(TIO.LoadPartial(x + i, count, pad)), TS.Load(shift + i));
            return TOp.Output<T, TV, TS>(value, TS.Load(parameter + i));
        }
    }

    private readonly struct BackwardTiles(TStorage* b, TStorage* dB, TStorage* dA, int count, int cotangents, TLayout layout, CpuLaunch launch) : IParallelBody
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
                    Fill(dot, pitch, T.Zero);
                    Fill(partial, pitch, T.Zero);
                    var sum = new DotLanes(b, cotangent, partial, dot, pitch, width, pad);
                    layout.ForEachRun(origin, ref sum);
                    Flush(partial, dot, pitch);
                    if (group > 1)
                    {
                        FoldGroups(dot, width, group, max: false);
                    }

                    var write = new PullbackLanes(b, cotangent, dA + ((nint)k * count), dot, width, launch.Stream, pad);
                    layout.ForEachRun(origin, ref write);
                }
            }

            Fence(launch.Stream);
        }
    }

    /// <summary>The backward's per-lane d over the rows of one cotangent, added up in blocks of rows.</summary>
    private ref struct DotLanes(TStorage* b, TStorage* dB, T* partial, T* dot, nuint pitch, int width, T* pad) : IRunVisitor
    {
        private int _row;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            TStorage* x = b + offset;
            TStorage* y = dB + offset;
            nuint n = (nuint)width;
            nuint j = 0;
            for (; j + Width <= n; j += Width)
            {
                TS.Store(TOp.Accumulate<T, TV, TS>(TS.Load(partial + j), TIO.Load(x + j), TIO.Load(y + j)), partial + j);
            }

            if (j < n)
            {
                TS.Store(TOp.Accumulate<T, TV, TS>(TS.Load(partial + j), TIO.LoadPartial(x + j, n - j, pad), TIO.LoadPartial(y + j, n - j, pad)), partial + j);
            }

            if (++_row % CpuTuning.SumBlock == 0)
            {
                Flush(partial, dot, pitch);
            }
        }
    }

    /// <summary>dA over the rows of one cotangent.</summary>
    private ref struct PullbackLanes(TStorage* b, TStorage* dB, TStorage* dA, T* dot, int width, bool stream, T* pad) : IRunVisitor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            var producer = new LanesPullbackOf(b + offset, dB + offset, dot);
            StoreRun(dA + offset, (nuint)width, stream, ref producer, pad);
        }
    }

    /// <summary>dA = pullback(B, dB, d) per lane.</summary>
    private readonly struct LanesPullbackOf(TStorage* b, TStorage* dB, T* dot) : IProducer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Full(nuint i) => TOp.Pullback<T, TV, TS>(TIO.Load(b + i), TIO.Load(dB + i), TS.Load(dot + i));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Partial(nuint i, nuint count, T* pad)
            => TOp.Pullback<T, TV, TS>(TIO.LoadPartial(b + i, count, pad), TIO.LoadPartial(dB + i, count, pad), TS.Load(dot + i));
    }

    private static void Fill(T* destination, nuint length, T value)
    {
        var vector = TS.Create(value);
        for (nuint j = 0; j < length; j += Width)
        {
            TS.Store(vector, destination + j);
        }
    }

    /// <summary>total += partial; partial = 0, over whole vectors.</summary>
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
    private static void FoldGroups(T* lanes, int width, int group, bool max)
    {
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
