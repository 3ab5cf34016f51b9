using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

// The run visitors of FastKernels: each pass of a kernel is a struct that ISoftmaxLayout.ForEachRun calls with the
// offset of every run of a slice or tile, so that the generated layout's loop nest is compiled into the pass.
internal static unsafe partial class FastKernels<T, TV, TS, TLayout>
{
    /// <summary>Copies the runs, back to back, into scratch while taking their maximum; the last vector of a run is padded with -inf.</summary>
    private ref struct GatherMaxRuns(T* a, T* scratch, int length, T* pad) : IRunVisitor
    {
        private TV _max0 = TS.Create(T.NegativeInfinity);
        private TV _max1 = TS.Create(T.NegativeInfinity);
        private nint _next;

        public readonly T Result => TS.MaxAcross(TS.Max(_max0, _max1));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            T* source = a + offset;
            T* target = scratch + _next;
            nuint n = (nuint)length;
            nuint width = (nuint)TS.Count;
            TV max0 = _max0, max1 = _max1;
            nuint i = 0;
            for (; i + 2 * width <= n; i += 2 * width)
            {
                var x0 = TS.Load(source + i);
                var x1 = TS.Load(source + i + width);
                TS.Store(x0, target + i);
                TS.Store(x1, target + i + width);
                max0 = TS.Max(max0, x0);
                max1 = TS.Max(max1, x1);
            }

            for (; i < n; i += width)
            {
                var x = i + width <= n ? TS.Load(source + i) : LoadPadded(pad, source + i, n - i, T.NegativeInfinity);
                TS.Store(x, target + i);
                max0 = TS.Max(max0, x);
            }

            _max0 = max0;
            _max1 = max1;
            _next += length;
        }
    }

    /// <summary>Copies each run (a row of lanes) into a row of scratch while taking the per-lane maximum; padding lanes hold -inf.</summary>
    private ref struct GatherMaxLanes(T* a, T* scratch, T* max, int width, nuint pitch, T* pad) : IRunVisitor
    {
        private nint _next;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            T* source = a + offset;
            T* target = scratch + _next;
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            for (nuint j = 0; j < n; j += vector)
            {
                var x = j + vector <= n ? TS.Load(source + j) : LoadPadded(pad, source + j, n - j, T.NegativeInfinity);
                TS.Store(x, target + j);
                TS.Store(TS.Max(TS.Load(max + j), x), max + j);
            }

            _next += (nint)pitch;
        }
    }

    /// <summary>The maximum over runs, in vector accumulators reduced once at the end.</summary>
    private ref struct MaxRuns(T* a, int length, T* pad) : IRunVisitor
    {
        private TV _max0 = TS.Create(T.NegativeInfinity);
        private TV _max1 = TS.Create(T.NegativeInfinity);

        public readonly T Result => TS.MaxAcross(TS.Max(_max0, _max1));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            T* source = a + offset;
            nuint n = (nuint)length;
            nuint width = (nuint)TS.Count;
            TV max0 = _max0, max1 = _max1, max2 = _max0, max3 = _max1;
            nuint i = 0;
            for (; i + 4 * width <= n; i += 4 * width)
            {
                max0 = TS.Max(max0, TS.Load(source + i));
                max1 = TS.Max(max1, TS.Load(source + i + width));
                max2 = TS.Max(max2, TS.Load(source + i + 2 * width));
                max3 = TS.Max(max3, TS.Load(source + i + 3 * width));
            }

            for (; i + width <= n; i += width)
            {
                max0 = TS.Max(max0, TS.Load(source + i));
            }

            if (i < n)
            {
                max1 = TS.Max(max1, LoadPadded(pad, source + i, n - i, T.NegativeInfinity));
            }

            _max0 = TS.Max(max0, max2);
            _max1 = TS.Max(max1, max3);
        }
    }

    /// <summary>exp(a - shift) of every run, written packed to scratch (or in place of the output), and its sum.</summary>
    private ref struct ExpRuns(T* a, T* destination, int length, T shift, bool packed, T* pad) : IRunVisitor
    {
        private TV _sum = TS.Create(T.Zero);
        private nint _next;

        public readonly T Result => TS.Sum(_sum);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            T* source = a + offset;
            T* target = packed ? destination + _next : destination + offset;
            nuint n = (nuint)length;
            nuint width = (nuint)TS.Count;
            var shiftVector = TS.Create(shift);
            TV total = _sum;
            nuint i = 0;
            while (i + width <= n)
            {
                nuint end = Math.Min(n / width * width, i + Streaming.SumBlock * width);
                var sum = TS.Create(T.Zero);
                for (; i < end; i += width)
                {
                    var e = TS.Exp(TS.Subtract(TS.Load(source + i), shiftVector));
                    TS.Store(e, target + i);
                    sum = TS.Add(sum, e);
                }

                total = TS.Add(total, sum);
            }

            if (i < n)
            {
                // Padding with -inf makes the padded lanes exp(-inf) = 0.
                var e = TS.Exp(TS.Subtract(LoadPadded(pad, source + i, n - i, T.NegativeInfinity), shiftVector));
                StorePartial(pad, e, target + i, n - i);
                total = TS.Add(total, e);
            }

            _sum = total;
            _next += length;
        }
    }

    /// <summary>b = exp · scale, from the packed scratch (or in place).</summary>
    private ref struct WriteRuns(T* source, T* b, int length, T scale, bool packed, bool stream) : IRunVisitor
    {
        private nint _next;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            ScaleStore(packed ? source + _next : source + offset, b + offset, (nuint)length, scale, stream);
            _next += length;
        }
    }

    /// <summary>Σ b ∘ dB over runs, in vector accumulators reduced once at the end.</summary>
    private ref struct DotRuns(T* b, T* dB, int length, T* pad) : IRunVisitor
    {
        private TV _sum0 = TS.Create(T.Zero);
        private TV _sum1 = TS.Create(T.Zero);

        public readonly T Result => TS.Sum(TS.Add(_sum0, _sum1));

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            T* x = b + offset;
            T* y = dB + offset;
            nuint n = (nuint)length;
            nuint width = (nuint)TS.Count;
            TV sum0 = _sum0, sum1 = _sum1, sum2 = TS.Create(T.Zero), sum3 = TS.Create(T.Zero);
            nuint i = 0;
            while (i + 4 * width <= n)
            {
                nuint end = Math.Min(n / (4 * width) * (4 * width), i + Streaming.SumBlock * width);
                TV block0 = TS.Create(T.Zero), block1 = block0, block2 = block0, block3 = block0;
                for (; i < end; i += 4 * width)
                {
                    block0 = TS.MultiplyAdd(TS.Load(x + i), TS.Load(y + i), block0);
                    block1 = TS.MultiplyAdd(TS.Load(x + i + width), TS.Load(y + i + width), block1);
                    block2 = TS.MultiplyAdd(TS.Load(x + i + 2 * width), TS.Load(y + i + 2 * width), block2);
                    block3 = TS.MultiplyAdd(TS.Load(x + i + 3 * width), TS.Load(y + i + 3 * width), block3);
                }

                sum0 = TS.Add(sum0, block0);
                sum1 = TS.Add(sum1, block1);
                sum2 = TS.Add(sum2, block2);
                sum3 = TS.Add(sum3, block3);
            }

            DotRest(x, y, i, n, pad, ref sum0, ref sum1);
            _sum0 = TS.Add(sum0, sum2);
            _sum1 = TS.Add(sum1, sum3);
        }
    }

    /// <summary>
    /// The end of a dot product along a run, after its groups of four vectors (from element <paramref name="i"/>, a
    /// multiple of four vectors): whole vectors into <paramref name="sum0"/>, the partial one (zero-padded) into
    /// <paramref name="sum1"/>. Shared by <see cref="DotRuns"/> and <see cref="RowPass"/>, whose sums must agree to the bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void DotRest(T* x, T* y, nuint i, nuint n, T* pad, ref TV sum0, ref TV sum1)
    {
        nuint width = (nuint)TS.Count;
        for (; i + width <= n; i += width)
        {
            sum0 = TS.MultiplyAdd(TS.Load(x + i), TS.Load(y + i), sum0);
        }

        if (i < n)
        {
            var left = LoadPadded(pad, x + i, n - i, T.Zero);
            var right = LoadPadded(pad, y + i, n - i, T.Zero);
            sum1 = TS.MultiplyAdd(left, right, sum1);
        }
    }

    private readonly ref struct BackwardRuns(T* b, T* dB, T* dA, int length, T dot, bool stream) : IRunVisitor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset) => BackwardStore(b + offset, dB + offset, dA + offset, (nuint)length, dot, stream);
    }

    /// <summary>
    /// max[k] = max(max[k], a[k]) for the lanes of each run. Runs are taken four at a time (call
    /// <see cref="Complete"/> after the walk for the rest), so that max is loaded and stored once per four rows.
    /// </summary>
    private ref struct MaxLanes(T* a, T* max, int width, T* pad) : IRunVisitor
    {
        private RunQueue _queue;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (!_queue.Push(offset))
            {
                return;
            }

            T* r0 = a + _queue.First, r1 = a + _queue.Second, r2 = a + _queue.Third, r3 = a + offset;
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            nuint j = 0;
            for (; j + vector <= n; j += vector)
            {
                var m = TS.Max(TS.Max(TS.Load(max + j), TS.Load(r0 + j)), TS.Load(r1 + j));
                TS.Store(TS.Max(TS.Max(m, TS.Load(r2 + j)), TS.Load(r3 + j)), max + j);
            }

            if (j < n)
            {
                One(r0);
                One(r1);
                One(r2);
                One(r3);
            }
        }

        /// <summary>Takes the runs still queued.</summary>
        public readonly void Complete()
        {
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            for (int k = 0; k < _queue.Count; k++)
            {
                T* source = a + _queue[k];
                for (nuint j = 0; j + vector <= n; j += vector)
                {
                    TS.Store(TS.Max(TS.Load(max + j), TS.Load(source + j)), max + j);
                }

                One(source);
            }
        }

        /// <summary>The partial last vector of a run, if any.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void One(T* source)
        {
            nuint n = (nuint)width;
            nuint j = n / (nuint)TS.Count * (nuint)TS.Count;
            if (j < n)
            {
                TS.Store(TS.Max(TS.Load(max + j), LoadPadded(pad, source + j, n - j, T.NegativeInfinity)), max + j);
            }
        }
    }

    /// <summary>partial[k] += exp(a[k] - shift[k]) (added to total every block of runs), for the lanes of one run.</summary>
    private ref struct ExpSumLanes(T* a, T* shift, T* partial, T* total, int width, T* pad) : IRunVisitor
    {
        private int _runs;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            T* source = a + offset;
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            nuint j = 0;
            for (; j + vector <= n; j += vector)
            {
                var e = TS.Exp(TS.Subtract(TS.Load(source + j), TS.Load(shift + j)));
                TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
            }

            if (j < n)
            {
                var e = TS.Exp(TS.Subtract(LoadPadded(pad, source + j, n - j, T.NegativeInfinity), TS.Load(shift + j)));
                TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
            }

            if (++_runs == Streaming.LaneSumBlock)
            {
                _runs = 0;
                Flush(partial, total, RoundUp(width));
            }
        }
    }

    /// <summary>
    /// exp(a[k] - shift[k]) for the lanes of each run, written to the next row of scratch and added to partial[k]
    /// (added to total every block of runs): the same sums, in the same order, as <see cref="ExpSumLanes"/>. Runs are
    /// taken four at a time (call <see cref="Complete"/> after the walk), so that partial is loaded and stored once per
    /// four rows. Meanwhile the lanes at <paramref name="ahead"/> elements from each run are requested, a line per
    /// vector, and the same rows of the <paramref name="pending"/> strip are written, a vector of B per vector of exp,
    /// so that the non-temporal stores spread over the arithmetic instead of coming in a burst.
    /// </summary>
    private ref struct ExpGatherLanes(T* a, T* scratch, T* shift, T* partial, T* total, int width, nuint pitch, nint ahead, T* pad, PendingStrip pending, bool stream) : IRunVisitor
    {
        private RunQueue _queue;
        private int _runs;
        private nint _next;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (!_queue.Push(offset))
            {
                return;
            }

            T* r0 = a + _queue.First, r1 = a + _queue.Second, r2 = a + _queue.Third, r3 = a + offset;
            T* t0 = scratch + _next;
            T* t1 = t0 + pitch, t2 = t1 + pitch, t3 = t2 + pitch;
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;

            // The pending strip's rows: fused into the loop below when their vector-aligned parts start at the same lane.
            T* d0 = null, d1 = null, d2 = null, d3 = null, s0 = null, s1 = null, s2 = null, s3 = null;
            nuint write = 0, writeEnd = 0;
            bool streamed = false;
            if (!pending.IsEmpty)
            {
                d0 = pending.Destination + _queue.First;
                d1 = pending.Destination + _queue.Second;
                d2 = pending.Destination + _queue.Third;
                d3 = pending.Destination + offset;
                s0 = pending.Source + (nuint)_runs * pending.Pitch;
                s1 = s0 + pending.Pitch;
                s2 = s1 + pending.Pitch;
                s3 = s2 + pending.Pitch;
                nuint head = stream ? Peel(d0) : 0;
                nuint length = (nuint)pending.Width;
                if (length >= head + 2 * vector && (nuint)d0 % (nuint)sizeof(T) == 0 && Peel(d1) == Peel(d0) && Peel(d2) == Peel(d0) && Peel(d3) == Peel(d0))
                {
                    pending.Head(d0, s0, _runs, stream, pad);
                    pending.Head(d1, s1, _runs + 1, stream, pad);
                    pending.Head(d2, s2, _runs + 2, stream, pad);
                    pending.Head(d3, s3, _runs + 3, stream, pad);
                    write = head;
                    writeEnd = head + (length - head) / vector * vector;
                    streamed = stream;
                }
            }

            nuint j = 0;
            for (; j + vector <= n; j += vector)
            {
                if (ahead != 0)
                {
                    Prefetch(r0 + ahead + j);
                    Prefetch(r1 + ahead + j);
                    Prefetch(r2 + ahead + j);
                    Prefetch(r3 + ahead + j);
                }

                var s = TS.Load(shift + j);
                var e0 = TS.Exp(TS.Subtract(TS.Load(r0 + j), s));
                var e1 = TS.Exp(TS.Subtract(TS.Load(r1 + j), s));
                var e2 = TS.Exp(TS.Subtract(TS.Load(r2 + j), s));
                var e3 = TS.Exp(TS.Subtract(TS.Load(r3 + j), s));
                TS.Store(e0, t0 + j);
                TS.Store(e1, t1 + j);
                TS.Store(e2, t2 + j);
                TS.Store(e3, t3 + j);
                TS.Store(TS.Add(TS.Add(TS.Add(TS.Add(TS.Load(partial + j), e0), e1), e2), e3), partial + j);

                if (write < writeEnd)
                {
                    var factor = TS.Load(pending.Scale + write);
                    Put(TS.Multiply(TS.Load(s0 + write), factor), d0 + write, streamed);
                    Put(TS.Multiply(TS.Load(s1 + write), factor), d1 + write, streamed);
                    Put(TS.Multiply(TS.Load(s2 + write), factor), d2 + write, streamed);
                    Put(TS.Multiply(TS.Load(s3 + write), factor), d3 + write, streamed);
                    write += vector;
                }
            }

            if (j < n)
            {
                One(r0, t0);
                One(r1, t1);
                One(r2, t2);
                One(r3, t3);
            }

            if (!pending.IsEmpty)
            {
                // What the loop did not write: the rest after the fused part, or the whole rows where it was not fused.
                if (writeEnd == 0)
                {
                    Unfused(d0, s0, _runs);
                    Unfused(d1, s1, _runs + 1);
                    Unfused(d2, s2, _runs + 2);
                    Unfused(d3, s3, _runs + 3);
                }
                else
                {
                    pending.Tail(d0, s0, _runs, write, stream);
                    pending.Tail(d1, s1, _runs + 1, write, stream);
                    pending.Tail(d2, s2, _runs + 2, write, stream);
                    pending.Tail(d3, s3, _runs + 3, write, stream);
                }
            }

            _next += 4 * (nint)pitch;
            _runs += 4;
            if (_runs % Streaming.LaneSumBlock == 0)
            {
                Flush(partial, total, RoundUp(width));
            }
        }

        /// <summary>Takes the runs still queued.</summary>
        public void Complete()
        {
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            for (int k = 0; k < _queue.Count; k++)
            {
                T* source = a + _queue[k];
                T* target = scratch + _next;
                for (nuint j = 0; j + vector <= n; j += vector)
                {
                    var e = TS.Exp(TS.Subtract(TS.Load(source + j), TS.Load(shift + j)));
                    TS.Store(e, target + j);
                    TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
                }

                One(source, target);
                if (!pending.IsEmpty)
                {
                    Unfused(pending.Destination + _queue[k], pending.Source + (nuint)_runs * pending.Pitch, _runs);
                }

                _next += (nint)pitch;
                if (++_runs % Streaming.LaneSumBlock == 0)
                {
                    Flush(partial, total, RoundUp(width));
                }
            }
        }

        /// <summary>One whole run of the pending strip, outside the fused loop.</summary>
        private readonly void Unfused(T* d, T* s, int row)
        {
            nuint head = pending.Head(d, s, row, stream, pad);
            pending.Tail(d, s, row, head, stream);
        }

        /// <summary>The partial last vector of a run, if any.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void One(T* source, T* target)
        {
            nuint n = (nuint)width;
            nuint j = n / (nuint)TS.Count * (nuint)TS.Count;
            if (j < n)
            {
                var e = TS.Exp(TS.Subtract(LoadPadded(pad, source + j, n - j, T.NegativeInfinity), TS.Load(shift + j)));
                TS.Store(e, target + j);
                TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
            }
        }
    }

    /// <summary>b[k] = exp(a[k] - shift[k]) · scale[k], computed again from A, for the lanes of one run.</summary>
    private readonly ref struct ExpWriteLanes(T* a, T* b, T* shift, T* scale, int width, bool stream, T* pad) : IRunVisitor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            T* source = a + offset;
            T* destination = b + offset;
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            nuint j = 0;
            if (stream && n >= 2 * vector && (nuint)destination % (nuint)sizeof(T) == 0)
            {
                // The unaligned head goes through the same vector exp (shift and scale are padded past the tile).
                nuint peel = Peel(destination);
                if (peel > 0)
                {
                    var head = TS.Multiply(TS.Exp(TS.Subtract(LoadPadded(pad, source, peel, T.NegativeInfinity), TS.Load(shift))), TS.Load(scale));
                    StorePartial(pad, head, destination, peel);
                    j = peel;
                }

                for (; j + vector <= n; j += vector)
                {
                    TS.StoreAlignedNonTemporal(TS.Multiply(TS.Exp(TS.Subtract(TS.Load(source + j), TS.Load(shift + j))), TS.Load(scale + j)), destination + j);
                }
            }

            for (; j + vector <= n; j += vector)
            {
                TS.Store(TS.Multiply(TS.Exp(TS.Subtract(TS.Load(source + j), TS.Load(shift + j))), TS.Load(scale + j)), destination + j);
            }

            if (j < n)
            {
                var e = TS.Multiply(TS.Exp(TS.Subtract(LoadPadded(pad, source + j, n - j, T.NegativeInfinity), TS.Load(shift + j))), TS.Load(scale + j));
                StorePartial(pad, e, destination + j, n - j);
            }
        }
    }

    /// <summary>Writes a pending strip run by run (the last one, when nothing is left to compute).</summary>
    private ref struct WritePending(PendingStrip pending, bool stream, T* pad) : IRunVisitor
    {
        private int _row;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            T* d = pending.Destination + offset;
            T* s = pending.Source + (nuint)_row * pending.Pitch;
            nuint head = pending.Head(d, s, _row, stream, pad);
            pending.Tail(d, s, _row, head, stream);
            _row++;
        }
    }

    /// <summary>b[k] = exp[k] · scale[k] for the lanes of one run, from the gathered rows (pitch &gt; 0) or in place (pitch 0).</summary>
    private ref struct WriteLanes(T* source, T* b, T* scale, int width, int pitch, bool stream) : IRunVisitor
    {
        private nint _next;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            ScaleStoreLanes(pitch > 0 ? source + _next : source + offset, b + offset, scale, (nuint)width, stream);
            _next += pitch;
        }
    }

    /// <summary>
    /// partial[k] += b[k] · dB[k] for the lanes of each run, added to dot every block of runs. Runs are taken four at a
    /// time (call <see cref="Complete"/> after the walk), so that partial is loaded and stored once per four rows; or,
    /// where the tile's runs lie back to back (<paramref name="ahead"/> not 0), one at a time, requesting the lines
    /// <paramref name="ahead"/> elements further on, once per vector. A core that loads and stores partial for every
    /// vector keeps too few misses in flight to read at the memory's speed by itself, and there the hardware's
    /// prefetch does not make up for it (one core, channels: the dot pass alone 10.3 ms without the requests, 8.9 ms
    /// with them, a plain dot product of the same arrays 7.4 ms). The sums are the same, in the same order.
    /// </summary>
    private ref struct DotLanes(T* b, T* dB, T* partial, T* dot, int width, nint ahead, T* pad) : IRunVisitor
    {
        private RunQueue _queue;
        private int _runs;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            if (ahead != 0)
            {
                Single(offset);
                return;
            }

            if (!_queue.Push(offset))
            {
                return;
            }

            nint o0 = _queue.First, o1 = _queue.Second, o2 = _queue.Third, o3 = offset;
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            nuint j = 0;
            for (; j + vector <= n; j += vector)
            {
                var p = TS.MultiplyAdd(TS.Load(b + o0 + j), TS.Load(dB + o0 + j), TS.Load(partial + j));
                p = TS.MultiplyAdd(TS.Load(b + o1 + j), TS.Load(dB + o1 + j), p);
                p = TS.MultiplyAdd(TS.Load(b + o2 + j), TS.Load(dB + o2 + j), p);
                TS.Store(TS.MultiplyAdd(TS.Load(b + o3 + j), TS.Load(dB + o3 + j), p), partial + j);
            }

            if (j < n)
            {
                One(o0);
                One(o1);
                One(o2);
                One(o3);
            }

            _runs += 4;
            if (_runs == Streaming.LaneSumBlock)
            {
                _runs = 0;
                Flush(partial, dot, RoundUp(width));
            }
        }

        /// <summary>Takes the runs still queued.</summary>
        public void Complete()
        {
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            for (int k = 0; k < _queue.Count; k++)
            {
                Single(_queue[k]);
            }
        }

        /// <summary>One run, requesting the lines <c>ahead</c> elements further on (none when 0).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Single(nint o)
        {
            nuint n = (nuint)width;
            nuint vector = (nuint)TS.Count;
            for (nuint j = 0; j + vector <= n; j += vector)
            {
                if (ahead != 0)
                {
                    Prefetch(b + o + ahead + j);
                    Prefetch(dB + o + ahead + j);
                }

                TS.Store(TS.MultiplyAdd(TS.Load(b + o + j), TS.Load(dB + o + j), TS.Load(partial + j)), partial + j);
            }

            One(o);
            if (++_runs == Streaming.LaneSumBlock)
            {
                _runs = 0;
                Flush(partial, dot, RoundUp(width));
            }
        }

        /// <summary>The partial last vector of a run, if any.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private readonly void One(nint offset)
        {
            nuint n = (nuint)width;
            nuint j = n / (nuint)TS.Count * (nuint)TS.Count;
            if (j < n)
            {
                var left = LoadPadded(pad, b + offset + j, n - j, T.Zero);
                var right = LoadPadded(pad, dB + offset + j, n - j, T.Zero);
                TS.Store(TS.MultiplyAdd(left, right, TS.Load(partial + j)), partial + j);
            }
        }
    }

    private readonly ref struct BackwardLanes(T* b, T* dB, T* dA, T* dot, int width, bool stream) : IRunVisitor
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset) => BackwardStoreLanes(b + offset, dB + offset, dA + offset, dot, (nuint)width, stream);
    }
}

/// <summary>
/// Holds up to three run offsets from <see cref="ISoftmaxLayout.ForEachRun"/>, so that a visitor can process runs four
/// at a time: <see cref="Push"/> returns true, and empties the queue, when the fourth arrives.
/// </summary>
internal struct RunQueue
{
    public int First;
    public int Second;
    public int Third;
    public int Count;

    public readonly int this[int index] => index switch { 0 => First, 1 => Second, _ => Third };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Push(int offset)
    {
        switch (Count)
        {
            case 0:
                First = offset;
                break;
            case 1:
                Second = offset;
                break;
            case 2:
                Third = offset;
                break;
            default:
                Count = 0;
                return true;
        }

        Count++;
        return false;
    }
}
