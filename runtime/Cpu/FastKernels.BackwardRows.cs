using System;
using System.Numerics;

namespace SoftmaxGen.Runtime;

// The backward for rows: each row finished for all its cotangents before the next, with the write of dA_k and the
// dot of dB_{k+1} in one loop.
internal static unsafe partial class FastKernels<T, TV, TS, TLayout>
{
    /// <summary>
    /// Whether <see cref="BackwardRowsBody"/> takes this backward: slices of one run (rows, which the layouts place back
    /// to back); streamed outputs (which also means dA is element-aligned); the Vector512 kernels with AVX-512
    /// (<c>CheapPartial</c> holds for them only: a join is one <c>vpermt2ps</c>, a padded load one masked move); rows
    /// of at least two vectors (a row's first and last whole vectors, which the joined head and the held tail take,
    /// then lie within it); and B, every dB_k and every dA_k at the same element of a line (so with several
    /// cotangents a tensor of whole vectors), so that one set of aligned lines serves them all; room in the scratch
    /// for a held vector per cotangent. Otherwise <see cref="BackwardSlicesBody"/> (or the tiles) run, with the same sums.
    /// </summary>
    private static bool FusesRows(T* b, T* dB, T* dA, int count, int cotangents, TLayout layout, bool stream) =>
        stream && TS.CanStream && TS.CheapPartial
        && !layout.LanesInner && layout.SliceLength == layout.InnerExtent && layout.InnerExtent >= 2 * TS.Count
        && (cotangents == 1 || count % TS.Count == 0)
        && (nuint)b % (nuint)sizeof(T) == 0 && (nuint)dB % (nuint)sizeof(T) == 0
        && Behind(b) == Behind(dB) && Behind(b) == Behind(dA)
        && (long)cotangents * TS.Count <= Scratch<T>.Length;

    /// <summary>
    /// Rows. Per row: d_0 = Σ B ∘ dB_0, then for each k one loop that writes dA_k = B ∘ (dB_k - d_k) and takes
    /// d_{k+1} = Σ B ∘ dB_{k+1}, so that memory sees the reads of dB_{k+1} interleaved with the non-temporal writes of
    /// dA_k (as in a plain streaming multiply) instead of a burst of reads (a dot pass) and then a burst of writes;
    /// B's row stays in the nearest cache for all the cotangents (L1 for rows of up to a few thousand elements). Four
    /// cotangents of [32768, 1024] floats on two cores: 1.08× the traffic floor's time paired in-process, a median of
    /// 1.045× over twelve ratio runs, against 1.20–1.26× with a dot pass and a write pass per cotangent
    /// (docs/benchmarks.md, stop 14).
    /// </summary>
    /// <remarks>
    /// The main loop reads and writes whole aligned lines (the few vectors after the last group of four, and the held
    /// tail, are loaded unaligned): a row that starts mid-line is loaded from the start of the line it begins in, and
    /// the vectors of consecutive elements that the dot adds up are joined from two aligned loads, so the sums are
    /// those of <see cref="DotRuns"/> (same vectors, same order: the same bits as the per-cotangent path). The
    /// elements of a row's last partial line are held (per cotangent) and written with the next row's first ones as
    /// one line, as <see cref="StreamWriter"/> does for B; at the two ends of a thread's range they get plain stores.
    /// </remarks>
    private readonly struct BackwardRowsBody(T* b, T* dB, T* dA, int count, int cotangents, TLayout layout) : IParallelBody
    {
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[2 * Streaming.PadElements];
            // For each k, the last whole vector of dA_k's previous row, whose elements past the last aligned line are due.
            T* held = Scratch<T>.Get();
            nuint width = (nuint)TS.Count;
            nuint length = (nuint)layout.InnerExtent;
            bool holding = false;
            for (int slice = first; slice < end; slice++)
            {
                int origin = layout.Origin(slice);
                T* row = b + origin;
                nuint behind = Behind(row);
                bool endsMidLine = (behind + length) % width != 0;
                bool holdTail = endsMidLine && slice + 1 < end && layout.Origin(slice + 1) == origin + (int)length;
                var rows = new RowPass(row, length, behind, pad);
                T dot = rows.Run<FirstDotPass>(null, null, dB + origin, T.Zero, null, false, false);
                for (int k = 0; k < cotangents; k++)
                {
                    nint at = ((nint)k * count) + origin;
                    T* slot = held + ((nuint)k * width);
                    dot = k + 1 < cotangents
                        ? rows.Run<WriteAndDotPass>(dB + at, dA + at, dB + at + count, dot, slot, holding, holdTail)
                        : rows.Run<LastWritePass>(dB + at, dA + at, null, dot, slot, holding, holdTail);
                }

                holding = holdTail;
            }

            Fence(true);
        }
    }

    /// <summary>One pass over a row of B: writes dA = B ∘ (dB - dot), or returns Σ B ∘ z, or both (see <see cref="IBackwardRowPass"/>).</summary>
    private readonly ref struct RowPass(T* x, nuint length, nuint behind, T* pad)
    {
        /// <summary>
        /// Writes <paramref name="d"/> = B ∘ (<paramref name="y"/> - <paramref name="dot"/>) if the pass writes, and returns
        /// Σ B ∘ <paramref name="z"/> (added up as <see cref="DotRuns"/> does) if it dots (else zero).
        /// <paramref name="joinHead"/>: the previous row's end is held in <paramref name="held"/> and completes this
        /// row's first line; <paramref name="holdTail"/>: hold this row's end there for the next row.
        /// </summary>
        public T Run<TPass>(T* y, T* d, T* z, T dot, T* held, bool joinHead, bool holdTail)
            where TPass : struct, IBackwardRowPass
        {
            nuint width = (nuint)TS.Count;
            var zero = TS.Create(T.Zero);
            var dotVector = TS.Create(dot);
            nuint lead = behind == 0 ? 0 : width - behind;   // elements before the first aligned line
            nuint lines = (length - lead) / width;            // whole aligned lines within the row
            int join = (int)lead;                              // lanes an index vector takes from the line before
            if (TPass.Writes && lead > 0)
            {
                if (joinHead)
                {
                    var first = TS.Multiply(TS.Load(x), TS.Subtract(TS.Load(y), dotVector));
                    TS.StoreAlignedNonTemporal(TS.Join(TS.Load(held), first, (int)behind, pad), d - behind);
                }
                else
                {
                    for (nuint e = 0; e < lead; e++)
                    {
                        d[e] = x[e] * (y[e] - dot);
                    }
                }
            }

            // Index vector j (elements j·W to j·W + W - 1) is aligned line j when the row starts on a line, else the
            // last lanes of line j - 1 (line -1 being the one the row starts in) joined with the first lanes of line j.
            // Every line loaded holds an element of the row: the last one, line 4·groups - 1, starts at element
            // 4·groups·W - behind ≤ n - 1 when behind > 0, and at (4·groups - 1)·W < n when the row starts on a line.
            // So no load leaves the row's lines; only whole lines are written.
            T* xl = x + lead, yl = y + lead, dl = d + lead, zl = z + lead;
            var xBefore = behind > 0 ? TS.Load(x - behind) : zero;
            var zBefore = behind > 0 && TPass.Dots ? TS.Load(z - behind) : zero;
            nuint vectors = length / width;
            nuint groups = vectors / 4;
            var sum0 = zero;
            var sum1 = zero;
            var sum2 = zero;
            var sum3 = zero;
            nuint g = 0;
            while (g < groups)
            {
                nuint blockEnd = Math.Min(groups, g + (Streaming.SumBlock / 4));
                TV block0 = zero, block1 = zero, block2 = zero, block3 = zero;
                for (; g < blockEnd; g++)
                {
                    nuint line = g * 4;
                    nuint i = line * width;
                    var x0 = TS.Load(xl + i);
                    var x1 = TS.Load(xl + i + width);
                    var x2 = TS.Load(xl + i + (2 * width));
                    var x3 = TS.Load(xl + i + (3 * width));
                    // Only groups of four whole lines are written here; the row's other whole lines after the loop.
                    if (TPass.Writes && line + 3 < lines)
                    {
                        TS.StoreAlignedNonTemporal(TS.Multiply(x0, TS.Subtract(TS.Load(yl + i), dotVector)), dl + i);
                        TS.StoreAlignedNonTemporal(TS.Multiply(x1, TS.Subtract(TS.Load(yl + i + width), dotVector)), dl + i + width);
                        TS.StoreAlignedNonTemporal(TS.Multiply(x2, TS.Subtract(TS.Load(yl + i + (2 * width)), dotVector)), dl + i + (2 * width));
                        TS.StoreAlignedNonTemporal(TS.Multiply(x3, TS.Subtract(TS.Load(yl + i + (3 * width)), dotVector)), dl + i + (3 * width));
                    }

                    if (!TPass.Dots)
                    {
                        continue;
                    }

                    var z0 = TS.Load(zl + i);
                    var z1 = TS.Load(zl + i + width);
                    var z2 = TS.Load(zl + i + (2 * width));
                    var z3 = TS.Load(zl + i + (3 * width));
                    if (behind == 0)
                    {
                        block0 = TS.MultiplyAdd(x0, z0, block0);
                        block1 = TS.MultiplyAdd(x1, z1, block1);
                        block2 = TS.MultiplyAdd(x2, z2, block2);
                        block3 = TS.MultiplyAdd(x3, z3, block3);
                    }
                    else
                    {
                        block0 = TS.MultiplyAdd(TS.Join(xBefore, x0, join, pad), TS.Join(zBefore, z0, join, pad), block0);
                        block1 = TS.MultiplyAdd(TS.Join(x0, x1, join, pad), TS.Join(z0, z1, join, pad), block1);
                        block2 = TS.MultiplyAdd(TS.Join(x1, x2, join, pad), TS.Join(z1, z2, join, pad), block2);
                        block3 = TS.MultiplyAdd(TS.Join(x2, x3, join, pad), TS.Join(z2, z3, join, pad), block3);
                        xBefore = x3;
                        zBefore = z3;
                    }
                }

                sum0 = TS.Add(sum0, block0);
                sum1 = TS.Add(sum1, block1);
                sum2 = TS.Add(sum2, block2);
                sum3 = TS.Add(sum3, block3);
            }

            if (TPass.Writes)
            {
                for (nuint i = Math.Min(groups, lines / 4) * 4 * width; i < lines * width; i += width)
                {
                    TS.StoreAlignedNonTemporal(TS.Multiply(TS.Load(xl + i), TS.Subtract(TS.Load(yl + i), dotVector)), dl + i);
                }

                nuint done = lead + (lines * width);
                if (done < length)
                {
                    if (holdTail)
                    {
                        nuint last = length - width;
                        TS.Store(TS.Multiply(TS.Load(x + last), TS.Subtract(TS.Load(y + last), dotVector)), held);
                    }
                    else
                    {
                        for (nuint e = done; e < length; e++)
                        {
                            d[e] = x[e] * (y[e] - dot);
                        }
                    }
                }
            }

            if (!TPass.Dots)
            {
                return T.Zero;
            }

            // As DotRuns for a slice of one run: the rest of the row, then (sum0 + sum2) + (sum1 + sum3) across lanes.
            DotRest(x, z, groups * 4 * width, length, pad, ref sum0, ref sum1);
            return TS.Sum(TS.Add(TS.Add(sum0, sum2), TS.Add(sum1, sum3)));
        }
    }
}

/// <summary>What a pass over a row of <see cref="FastKernels{T, TV, TS, TLayout}.BackwardRowsBody"/> does (compiled once per pass).</summary>
internal interface IBackwardRowPass
{
    /// <summary>Whether it writes dA_k = B ∘ (dB_k - d_k).</summary>
    static abstract bool Writes { get; }

    /// <summary>Whether it takes the next dot, Σ B ∘ dB_{k+1} (or Σ B ∘ dB_0 in the first pass).</summary>
    static abstract bool Dots { get; }
}

/// <summary>The first pass over a row: d_0 alone.</summary>
internal readonly struct FirstDotPass : IBackwardRowPass
{
    public static bool Writes => false;

    public static bool Dots => true;
}

/// <summary>dA_k written while d_{k+1} is taken.</summary>
internal readonly struct WriteAndDotPass : IBackwardRowPass
{
    public static bool Writes => true;

    public static bool Dots => true;
}

/// <summary>The last cotangent's dA written.</summary>
internal readonly struct LastWritePass : IBackwardRowPass
{
    public static bool Writes => true;

    public static bool Dots => false;
}
