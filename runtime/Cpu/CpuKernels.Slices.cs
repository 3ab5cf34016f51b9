using System;
using System.Runtime.CompilerServices;

namespace SoftmaxGen.Runtime;

/// <summary>The <see cref="CpuStrategy.Rows"/> and <see cref="CpuStrategy.Slices"/> strategies: a slice at a time, run by run.</summary>
internal static unsafe partial class CpuKernels<TStorage, T, TV, TS, TIO, TLayout, TOp, TInput>
{
    private readonly struct ForwardSlices(TStorage* a, TStorage* b, TLayout layout, TInput input, CpuLaunch launch) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[CpuTuning.PadElements];
            int length = layout.InnerExtent;
            if (TOp.CostlyParameter && launch.Keep == CpuKeep.Output && (long)length * sizeof(T) <= CpuTuning.GroupedRowBytes)
            {
                GroupedRows(first, end, length, pad);
                return;
            }

            T* scratch = launch.Keep == CpuKeep.Scratch ? Scratch<T>.Get() : null;
            for (int slice = first; slice < end; slice++)
            {
                int origin = layout.Origin(slice);

                // The output's value is kept packed in the scratch, or in B at the elements' own places (CpuKeep.Output: B is
                // the compute type).
                T* kept = launch.Keep switch
                {
                    CpuKeep.Scratch => scratch,
                    CpuKeep.Output => (T*)b,
                    _ => null,
                };
                bool packed = launch.Keep == CpuKeep.Scratch;
                var shift = TS.Shift(MaxPass(a, layout, origin, kept, packed, length, input, pad));
                var parameter = TOp.Parameter<T, TV, TS>(shift, ExpSumPass(a, layout, origin, kept, packed, length, shift, input, pad));
                WritePass(a, b, layout, origin, kept, packed, length, shift, parameter, launch.Stream, input, pad);
            }

            Fence(launch.Stream);
        }

        /// <summary>
        /// Short rows kept in B, a vector's width of them at a time: the max and sum passes of each, then every row's
        /// parameter in one vector operation (lane j for row j: the same arithmetic as for one row), then their outputs.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void GroupedRows(int first, int end, int length, T* pad)
        {
            T* shifts = stackalloc T[TS.Count];
            T* sums = stackalloc T[TS.Count];
            T* parameters = stackalloc T[TS.Count];
            int* origins = stackalloc int[TS.Count];
            for (int group = first; group < end; group += TS.Count)
            {
                int rows = Math.Min(TS.Count, end - group);
                TS.Store(TS.Create(T.Zero), shifts);
                TS.Store(TS.Create(T.One), sums);
                for (int row = 0; row < rows; row++)
                {
                    int origin = origins[row] = layout.Origin(group + row);
                    var shift = TS.Shift(MaxPass(a, layout, origin, (T*)b, false, length, input, pad));
                    shifts[row] = TS.First(shift);
                    sums[row] = TS.First(ExpSumPass(a, layout, origin, (T*)b, false, length, shift, input, pad));
                }

                TS.Store(TOp.Parameter<T, TV, TS>(TS.Load(shifts), TS.Load(sums)), parameters);
                for (int row = 0; row < rows; row++)
                {
                    WritePass(a, b, layout, origins[row], (T*)b, false, length, TS.Create(shifts[row]), TS.Create(parameters[row]), false, input, pad);
                }
            }
        }
    }

    // The passes are separate methods to be read apart; the JIT inlines them into the slice loop.

    /// <summary>
    /// Pass 1 over a slice: the max of its logits, in every lane. For an input with options on data stored in another
    /// type than it is computed in (Half), the logits themselves are kept at <paramref name="kept"/> (unless it is null)
    /// for the sum pass, which then neither converts A again nor applies the options again (measured on rows of 512: a
    /// masked, biased Half forward at 0.92 of the plain one's bandwidth with it, 0.70 without). Float and double gain
    /// nothing from it: the store and the load cost what the options cost, and the causal forward ran 15% slower.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static TV MaxPass(TStorage* a, TLayout layout, int origin, T* kept, bool packed, int length, TInput input, T* pad)
    {
        var visitor = new MaxRun(a, kept, packed, length, input, pad);
        layout.ForEachRun(origin, ref visitor);
        return TS.MaxAll(visitor.Max);
    }

    /// <summary>Pass 2 over a slice: Σ exp(z − shift) in every lane, the output's value kept at <paramref name="kept"/> unless it is null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static TV ExpSumPass(TStorage* a, TLayout layout, int origin, T* kept, bool packed, int length, TV shift, TInput input, T* pad)
    {
        var visitor = new ExpSumRun(a, kept, packed, length, shift, input, pad);
        layout.ForEachRun(origin, ref visitor);
        return visitor.Sum.Result();
    }

    /// <summary>Pass 3 over a slice: B.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WritePass(TStorage* a, TStorage* b, TLayout layout, int origin, T* kept, bool packed, int length, TV shift, TV parameter, bool stream, TInput input, T* pad)
    {
        var visitor = new WriteRun(a, b, kept, packed, length, shift, parameter, stream, input, pad);
        layout.ForEachRun(origin, ref visitor);
    }

    // A run's loop is inlined into the slice loop where the input is light. Where its Apply is long (a mask, a bias,
    // the causal mask), the loop is called through a function pointer instead, so that it is compiled on its own with an
    // inlining budget of its own: inlined into the slice loop, Apply and exp would outrun the JIT's budget and stay
    // calls, once per vector (measured: the causal forward of rows of 512 at 0.68 of the plain one's speed, against about
    // 0.9 compiled apart). A call per run would cost the plain input's short rows 10–30%.

    /// <summary>Pass 1: the max of the logits over the runs.</summary>
    private ref struct MaxRun(TStorage* a, T* kept, bool packed, int length, TInput input, T* pad) : IRunVisitor
    {
        public TV Max = TS.Create(T.NegativeInfinity);
        private nuint _position;
        private readonly TStorage* _a = a;
        private readonly T* _kept = kept;
        private readonly bool _packed = packed;
        private readonly int _length = length;
        private readonly TInput _input = input;
        private readonly T* _pad = pad;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (TInput.Light)
            {
                Run(ref this, offset);
            }
            else
            {
                ((delegate*<ref MaxRun, int, void>)&Run)(ref this, offset);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
        private static void Run(ref MaxRun visitor, int offset)
        {
            TStorage* a = visitor._a;
            int length = visitor._length;
            var input = visitor._input;
            T* pad = visitor._pad;
            TStorage* x = a + offset;
            T* keep = TInput.Light || typeof(TStorage) == typeof(T) || visitor._kept == null ? null
                : visitor._packed ? visitor._kept + visitor._position : visitor._kept + offset;
            visitor._position += (nuint)length;

            // Only the stretch [i, n) that no index rule excludes is read (the causal mask, or a run's one mask entry).
            var place = input.Place(offset);
            place.Clip((nuint)length, out nuint i, out nuint n);
            nuint w = Width;
            var m0 = visitor.Max;
            var m1 = m0;
            var m2 = m0;
            var m3 = m0;
            for (; i + (4 * w) <= n; i += 4 * w)
            {
                var z0 = input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i), place, i, Width, pad);
                var z1 = input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i + w), place, i + w, Width, pad);
                var z2 = input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i + (2 * w)), place, i + (2 * w), Width, pad);
                var z3 = input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i + (3 * w)), place, i + (3 * w), Width, pad);
                if (keep != null)
                {
                    TS.Store(z0, keep + i);
                    TS.Store(z1, keep + i + w);
                    TS.Store(z2, keep + i + (2 * w));
                    TS.Store(z3, keep + i + (3 * w));
                }

                m0 = TS.Max(m0, z0);
                m1 = TS.Max(m1, z1);
                m2 = TS.Max(m2, z2);
                m3 = TS.Max(m3, z3);
            }

            for (; i + w <= n; i += w)
            {
                var z = input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i), place, i, Width, pad);
                if (keep != null)
                {
                    TS.Store(z, keep + i);
                }

                m0 = TS.Max(m0, z);
            }

            if (i < n)
            {
                var z = LoadTailInside(x + i, n - i, input, place, i, pad);
                if (keep != null)
                {
                    TS.StorePartial(z, keep + i, n - i, pad);
                }

                m1 = TS.Max(m1, z);
            }

            visitor.Max = TS.Max(TS.Max(m0, m1), TS.Max(m2, m3));
        }
    }

    /// <summary>
    /// Pass 2: Σ exp(z − shift) over the runs; what the output is made of (<see cref="IOperation.Kept{T, TV, TS}"/>) kept
    /// at <c>kept</c> (packed, or at the runs' offsets) unless it is null.
    /// </summary>
    private ref struct ExpSumRun(TStorage* a, T* kept, bool packed, int length, TV shift, TInput input, T* pad) : IRunVisitor
    {
        public BlockSum Sum = BlockSum.Zero;
        private nuint _position;
        private readonly TStorage* _a = a;
        private readonly T* _kept = kept;
        private readonly bool _packed = packed;
        private readonly int _length = length;
        private readonly TV _shift = shift;
        private readonly TInput _input = input;
        private readonly T* _pad = pad;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (TInput.Light)
            {
                Run(ref this, offset);
            }
            else
            {
                ((delegate*<ref ExpSumRun, int, void>)&Run)(ref this, offset);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization)]
        private static void Run(ref ExpSumRun visitor, int offset)
        {
            TStorage* a = visitor._a;
            T* kept = visitor._kept;
            bool packed = visitor._packed;
            int length = visitor._length;
            TV shift = visitor._shift;
            var input = visitor._input;
            T* pad = visitor._pad;
            TStorage* x = a + offset;
            T* keep = kept == null ? null : packed ? kept + visitor._position : kept + offset;

            // Only the stretch [i, n) that no index rule excludes is read and kept; the output pass writes the rest. With
            // options, the max pass kept the logits there: read them back rather than applying the options again.
            var place = input.Place(offset);
            place.Clip((nuint)length, out nuint i, out nuint n);
            bool logitsKept = !TInput.Light && typeof(TStorage) != typeof(T) && keep != null;
            nuint w = Width;
            var s = shift;
            var sum = visitor.Sum;
            for (; i + (4 * w) <= n; i += 4 * w)
            {
                var c0 = TS.Subtract(logitsKept ? TS.Load(keep + i) : input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i), place, i, Width, pad), s);
                var c1 = TS.Subtract(logitsKept ? TS.Load(keep + i + w) : input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i + w), place, i + w, Width, pad), s);
                var c2 = TS.Subtract(logitsKept ? TS.Load(keep + i + (2 * w)) : input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i + (2 * w)), place, i + (2 * w), Width, pad), s);
                var c3 = TS.Subtract(logitsKept ? TS.Load(keep + i + (3 * w)) : input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i + (3 * w)), place, i + (3 * w), Width, pad), s);
                var e0 = TS.Exp(c0);
                var e1 = TS.Exp(c1);
                var e2 = TS.Exp(c2);
                var e3 = TS.Exp(c3);
                if (keep != null)
                {
                    TS.Store(TOp.Kept<T, TV, TS>(c0, e0), keep + i);
                    TS.Store(TOp.Kept<T, TV, TS>(c1, e1), keep + i + w);
                    TS.Store(TOp.Kept<T, TV, TS>(c2, e2), keep + i + (2 * w));
                    TS.Store(TOp.Kept<T, TV, TS>(c3, e3), keep + i + (3 * w));
                }

                sum.S0 = TS.Add(sum.S0, e0);
                sum.S1 = TS.Add(sum.S1, e1);
                sum.S2 = TS.Add(sum.S2, e2);
                sum.S3 = TS.Add(sum.S3, e3);
                sum.Step();
            }

            for (; i + w <= n; i += w)
            {
                var c = TS.Subtract(logitsKept ? TS.Load(keep + i) : input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.Load(x + i), place, i, Width, pad), s);
                var e = TS.Exp(c);
                if (keep != null)
                {
                    TS.Store(TOp.Kept<T, TV, TS>(c, e), keep + i);
                }

                sum.S0 = TS.Add(sum.S0, e);
            }

            if (i < n)
            {
                var c = TS.Subtract(logitsKept ? TS.LoadPartial(keep + i, n - i, T.NegativeInfinity, pad) : LoadTailInside(x + i, n - i, input, place, i, pad), s);
                var e = TS.Exp(c);
                if (keep != null)
                {
                    TS.StorePartial(TOp.Kept<T, TV, TS>(c, e), keep + i, n - i, pad);
                }

                sum.S1 = TS.Add(sum.S1, e);
            }

            visitor.Sum = sum;
            visitor._position += (nuint)length;
        }
    }

    /// <summary>Pass 3: B over the runs, from the kept value or from A.</summary>
    private ref struct WriteRun(TStorage* a, TStorage* b, T* kept, bool packed, int length, TV shift, TV parameter, bool stream, TInput input, T* pad) : IRunVisitor
    {
        private nuint _position;
        private readonly TStorage* _a = a;
        private readonly TStorage* _b = b;
        private readonly T* _kept = kept;
        private readonly bool _packed = packed;
        private readonly int _length = length;
        private readonly TV _shift = shift;
        private readonly TV _parameter = parameter;
        private readonly bool _stream = stream;
        private readonly TInput _input = input;
        private readonly T* _pad = pad;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (TInput.Light)
            {
                var producer = _kept == null
                    ? new OutputOf(_a + offset, null, _shift, _parameter, _input, _input.Place(offset), _pad)
                    : new OutputOf(_a + offset, _packed ? _kept + _position : _kept + offset, _shift, _parameter, _input, default, _pad);
                StoreRun(_b + offset, (nuint)_length, _stream, ref producer, _pad);
                _position += (nuint)_length;
            }
            else
            {
                ((delegate*<ref WriteRun, int, void>)&Apart)(ref this, offset);
            }
        }

        /// <summary>The run for an input with options, compiled on its own (see above).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private static void Apart(ref WriteRun visitor, int offset)
        {
            T* kept = visitor._kept;
            nuint length = (nuint)visitor._length;
            if (kept == null)
            {
                var computed = new OutputOf(visitor._a + offset, null, visitor._shift, visitor._parameter, visitor._input, visitor._input.Place(offset), visitor._pad);
                StoreRun(visitor._b + offset, length, visitor._stream, ref computed, visitor._pad);
            }
            else
            {
                // The sum pass kept values for the included stretch [lo, hi) only; the rest is the excluded output.
                visitor._input.Place(offset).Clip(length, out nuint lo, out nuint hi);
                T* keep = visitor._packed ? kept + visitor._position : kept + offset;
                var excluded = new Constant(TOp.Output<T, TV, TS>(TOp.Kept<T, TV, TS>(TS.Create(T.NegativeInfinity), TS.Create(T.Zero)), visitor._parameter));
                var producer = new OutputOf(null, keep + lo, visitor._shift, visitor._parameter, visitor._input, default, visitor._pad);
                StoreRun(visitor._b + offset, lo, visitor._stream, ref excluded, visitor._pad);
                StoreRun(visitor._b + offset + lo, hi - lo, visitor._stream, ref producer, visitor._pad);
                StoreRun(visitor._b + offset + hi, length - hi, visitor._stream, ref excluded, visitor._pad);
            }

            visitor._position += length;
        }
    }

    /// <summary>The same vector everywhere: the output of an excluded element.</summary>
    private readonly struct Constant(TV value) : IProducer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Full(nuint i) => value;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Partial(nuint i, nuint count, T* pad) => value;
    }

    /// <summary>B = output(value, parameter), the value kept or computed again from A.</summary>
    private readonly struct OutputOf(TStorage* x, T* kept, TV shift, TV parameter, TInput input, RunPlace place, T* pad) : IProducer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Full(nuint i)
        {
            var value = kept != null ? TS.Load(kept + i) : TOp.Value<T, TV, TS>(input.Apply<TStorage, T, TV, TS, TIO>(TIO.Load(x + i), place, i, Width, pad), shift);
            return TOp.Output<T, TV, TS>(value, parameter);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Partial(nuint i, nuint count, T* pad)
        {
            var value = kept != null
                ? TS.LoadPartial(kept + i, count, T.Zero, pad)
                : TOp.Value<T, TV, TS>(input.Apply<TStorage, T, TV, TS, TIO>(TIO.LoadPartial(x + i, count, pad), place, i, count, pad), shift);
            return TOp.Output<T, TV, TS>(value, parameter);
        }
    }

    private readonly struct BackwardSlices(TStorage* b, TStorage* dB, TStorage* dA, int count, int cotangents, TLayout layout, bool stream, T scale) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[CpuTuning.PadElements];
            int length = layout.InnerExtent;
            for (int slice = first; slice < end; slice++)
            {
                int origin = layout.Origin(slice);
                for (int k = 0; k < cotangents; k++)
                {
                    // B's slice comes from memory for k = 0 and from the cache for the other cotangents.
                    TStorage* cotangent = dB + ((nint)k * count);
                    var dot = DotPass(b, cotangent, layout, origin, length, pad);
                    PullbackPass(b, cotangent, dA + ((nint)k * count), layout, origin, length, dot, TS.Create(scale), stream, pad);
                }
            }

            Fence(stream);
        }
    }

    /// <summary>The backward's d over a slice and one cotangent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static TV DotPass(TStorage* b, TStorage* dB, TLayout layout, int origin, int length, T* pad)
    {
        var visitor = new DotRun(b, dB, length, pad);
        layout.ForEachRun(origin, ref visitor);
        return visitor.Sum.Result();
    }

    /// <summary>dA over a slice and one cotangent.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PullbackPass(TStorage* b, TStorage* dB, TStorage* dA, TLayout layout, int origin, int length, TV dot, TV scale, bool stream, T* pad)
    {
        var visitor = new PullbackRun(b, dB, dA, length, dot, scale, stream, pad);
        layout.ForEachRun(origin, ref visitor);
    }

    /// <summary>The backward's d over the runs of one cotangent.</summary>
    private ref struct DotRun(TStorage* b, TStorage* dB, int length, T* pad) : IRunVisitor
    {
        public BlockSum Sum = BlockSum.Zero;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            TStorage* x = b + offset;
            TStorage* y = dB + offset;
            nuint n = (nuint)length;
            nuint w = Width;
            var sum = Sum;
            nuint i = 0;
            for (; i + (4 * w) <= n; i += 4 * w)
            {
                sum.S0 = TOp.Accumulate<T, TV, TS>(sum.S0, TIO.Load(x + i), TIO.Load(y + i));
                sum.S1 = TOp.Accumulate<T, TV, TS>(sum.S1, TIO.Load(x + i + w), TIO.Load(y + i + w));
                sum.S2 = TOp.Accumulate<T, TV, TS>(sum.S2, TIO.Load(x + i + (2 * w)), TIO.Load(y + i + (2 * w)));
                sum.S3 = TOp.Accumulate<T, TV, TS>(sum.S3, TIO.Load(x + i + (3 * w)), TIO.Load(y + i + (3 * w)));
                sum.Step();
            }

            for (; i + w <= n; i += w)
            {
                sum.S0 = TOp.Accumulate<T, TV, TS>(sum.S0, TIO.Load(x + i), TIO.Load(y + i));
            }

            if (i < n)
            {
                // Both partial loads give 0 past the run's end, whose terms are 0.
                sum.S1 = TOp.Accumulate<T, TV, TS>(sum.S1, TIO.LoadPartial(x + i, n - i, pad), TIO.LoadPartial(y + i, n - i, pad));
            }

            Sum = sum;
        }
    }

    /// <summary>dA over the runs of one cotangent.</summary>
    private ref struct PullbackRun(TStorage* b, TStorage* dB, TStorage* dA, int length, TV dot, TV scale, bool stream, T* pad) : IRunVisitor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            var producer = new PullbackOf(b + offset, dB + offset, dot, scale);
            StoreRun(dA + offset, (nuint)length, stream, ref producer, pad);
        }
    }

    /// <summary>dA = scale · pullback(B, dB, d).</summary>
    private readonly struct PullbackOf(TStorage* b, TStorage* dB, TV dot, TV scale) : IProducer
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Full(nuint i) => TS.Multiply(TOp.Pullback<T, TV, TS>(TIO.Load(b + i), TIO.Load(dB + i), dot), scale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Partial(nuint i, nuint count, T* pad)
            => TS.Multiply(TOp.Pullback<T, TV, TS>(TIO.LoadPartial(b + i, count, pad), TIO.LoadPartial(dB + i, count, pad), dot), scale);
    }
}
