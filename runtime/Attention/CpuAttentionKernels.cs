using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Fused attention on the CPU for one element type, vector type and head dimension: tiles of queries against tiles
/// of keys, an online softmax per query row, nothing of size queries × keys ever stored. Every product goes through
/// one register-blocked kernel (<see cref="Product"/>: four rows by four vectors of the output held in registers).
/// The steps a tile takes are methods of their own, compiled fully optimised on first use: inlined into the work-item
/// loops they would exhaust the JIT's inlining budget and run unoptimised code for their first calls.
/// </summary>
/// <remarks>
/// The forward works on one (batch, head, query tile) at a time; the backward on one (batch, key/value head), key tile
/// by key tile, so that dK and dV of a tile are summed over all its query heads and queries in registers and scratch,
/// and dQ is summed over the key tiles in a fixed order. Each work item runs whole on one thread: the results are
/// bitwise identical for any number of threads.
/// </remarks>
internal static unsafe class CpuAttentionKernels<TStorage, T, TV, TS, TIO, THead>
    where TStorage : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
    where TV : unmanaged
    where TS : struct, ISimd<TV, T>
    where TIO : struct, IStorage<TStorage, T, TV>
    where THead : struct, IAttentionHead
{
    /// <summary>Keys per tile: the width of a tile of scores, four 512-bit vectors of float.</summary>
    private const int KeyTile = 64;

    private static int Dim => default(THead).Dim;

    /// <summary>The head dimension rounded up to whole vectors: the row length of every packed tile.</summary>
    private static int Padded => (Dim + TS.Count - 1) / TS.Count * TS.Count;

    /// <summary>Queries per tile: 64 rows, fewer for wide heads so that a tile's rows of Q and O stay within L2 with the keys.</summary>
    private static int QueryTile => Padded <= 128 ? 64 : 32;

    public static void Forward(TStorage* q, TStorage* k, TStorage* v, TStorage* o, float* lse, AttentionShape shape, T scale, bool causal)
    {
        int tiles = (shape.QueryLength + QueryTile - 1) / QueryTile;
        var body = new ForwardBody(q, k, v, o, lse, shape, scale, causal, tiles);
        CpuParallel.For(shape.Batch * shape.Heads * tiles, (long)QueryTile * shape.KeyLength * Math.Max(1, Dim / 8), body);
    }

    public static void Backward(TStorage* q, TStorage* k, TStorage* v, TStorage* o, float* lse, TStorage* dO, TStorage* dQ, TStorage* dK, TStorage* dV, AttentionShape shape, T scale, bool causal)
    {
        var body = new BackwardBody(q, k, v, o, lse, dO, dQ, dK, dV, shape, scale, causal);
        long work = (long)shape.Heads / shape.KeyValueHeads * shape.QueryLength * shape.KeyLength * Math.Max(1, Dim / 8);
        CpuParallel.For(shape.Batch * shape.KeyValueHeads, work, body);
    }

    private readonly struct ForwardBody(TStorage* q, TStorage* k, TStorage* v, TStorage* o, float* lse, AttentionShape shape, T scale, bool causal, int tiles)
        : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end)
        {
            var block = AttentionScratch.Rent(QueryTileScratch.Length * (nuint)sizeof(T));
            var tile = new QueryTileScratch((T*)block.Start);
            try
            {
                int d = Dim, qt = QueryTile;
                int group = shape.Heads / shape.KeyValueHeads, queries = shape.QueryLength, keys = shape.KeyLength;
                for (int item = first; item < end; item++)
                {
                    int pair = item / tiles, row0 = item % tiles * qt;
                    int head = pair % shape.Heads, batch = pair / shape.Heads;
                    int rows = Math.Min(qt, queries - row0);
                    long rowBase = (long)pair * queries + row0;
                    long kvBase = ((long)batch * shape.KeyValueHeads + head / group) * keys * d;
                    ForwardTile(q + rowBase * d, k + kvBase, v + kvBase, rows, row0, queries, keys, scale, causal, tile, values: true);
                    for (int r = 0; r < rows; r++)
                    {
                        T total = tile.Sum[r];
                        StoreRow(tile.Output + r * Padded, total > T.Zero ? T.One / total : T.Zero, o + (rowBase + r) * d, tile.Pad);
                        lse[rowBase + r] = total > T.Zero ? float.CreateTruncating(tile.Max[r] + T.Log(total)) : float.NegativeInfinity;
                    }
                }
            }
            finally
            {
                AttentionScratch.Return(block);
            }
        }
    }

    /// <summary>One thread's scratch for <see cref="ForwardTile"/>, carved into tiles from a block of <see cref="AttentionScratch"/>.</summary>
    private readonly struct QueryTileScratch
    {
        /// <summary>Qᵀ: the head dimension's rows of <see cref="QueryTile"/> queries (zeros past the tile's rows).</summary>
        public readonly T* QueryColumns;

        /// <summary>The unnormalised output: <see cref="QueryTile"/> rows of <see cref="Padded"/>.</summary>
        public readonly T* Output;

        /// <summary>A key tile's rows of K and of V, converted and padded, where they cannot be read in place.</summary>
        public readonly T* Keys, Values;

        /// <summary>Sᵀ, then Pᵀ: <see cref="KeyTile"/> rows (keys) of <see cref="QueryTile"/> columns (queries).</summary>
        public readonly T* Scores;

        /// <summary>Per query: the running max, the running sum, and the factor the last key tile rescaled the output by.</summary>
        public readonly T* Max, Sum, Correction;

        public readonly T* Pad;

        public QueryTileScratch(T* start)
        {
            int dp = Padded, qt = QueryTile;
            QueryColumns = start;
            Output = QueryColumns + dp * qt;
            Keys = Output + qt * dp;
            Values = Keys + KeyTile * dp;
            Scores = Values + KeyTile * dp;
            Max = Scores + KeyTile * qt;
            Sum = Max + qt;
            Correction = Sum + qt;
            Pad = Correction + qt;
        }

        /// <summary>Elements of T it takes, a whole number of 64-byte lines.</summary>
        public static nuint Length => (nuint)((2 * Padded * QueryTile + 2 * KeyTile * Padded + KeyTile * QueryTile + 3 * QueryTile + TS.Count + 15) / 16 * 16);
    }

    /// <summary>
    /// The online softmax of one tile of <paramref name="rows"/> queries (starting at query <paramref name="row0"/> of
    /// its head) over the keys of one key/value head, a key tile at a time: Sᵀ = K Qᵀ (keys by queries, so that each
    /// query's max and sum are per-lane vector operations), then, with <paramref name="values"/>, O += P V. Leaves each
    /// query's max and sum, and the unnormalised output, in <paramref name="tile"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void ForwardTile(TStorage* q, TStorage* k, TStorage* v, int rows, int row0, int queries, int keys, T scale, bool causal, QueryTileScratch tile, bool values)
    {
        int d = Dim, dp = Padded, qt = QueryTile, count = TS.Count;

        // K and V are read in place where they are already vectors of the compute type, a whole number per row.
        bool direct = typeof(TStorage) == typeof(T) && d % count == 0;
        PackTransposed(q, rows, tile.QueryColumns, qt);
        new Span<T>(tile.Output, rows * dp).Clear();
        new Span<T>(tile.Max, qt).Fill(T.NegativeInfinity);
        new Span<T>(tile.Sum, qt).Clear();

        // Keys past the causal diagonal of the tile's last query are never read.
        int keyEnd = causal ? Math.Min(keys, row0 + rows + keys - queries) : keys;
        for (int k0 = 0; k0 < keyEnd; k0 += KeyTile)
        {
            int kn = Math.Min(KeyTile, keyEnd - k0);
            T* keyRows = (T*)(k + (long)k0 * d);
            if (!direct)
            {
                PackRows(k + (long)k0 * d, kn, tile.Keys, tile.Pad);
                keyRows = tile.Keys;
            }

            Product(keyRows, direct ? d : dp, 1, kn, d, tile.QueryColumns, qt, tile.Scores, qt, qt, accumulate: false, tile.Pad);

            // Key j of the tile is excluded for query i of the tile when j > i + diagonal; from key firstMasked on, some are.
            int diagonal = row0 + keys - queries - k0;
            OnlineColumns(tile.Scores, kn, causal ? diagonal + 1 : kn, diagonal, scale, tile.Max, tile.Sum, tile.Correction);
            if (!values)
            {
                continue;
            }

            for (int r = 0; r < rows; r++)
            {
                T correction = tile.Correction[r];
                if (correction != T.One)
                {
                    Rescale(tile.Output + r * dp, correction);
                }
            }

            T* valueRows = (T*)(v + (long)k0 * d);
            if (!direct)
            {
                PackRows(v + (long)k0 * d, kn, tile.Values, tile.Pad);
                valueRows = tile.Values;
            }

            Product(tile.Scores, 1, qt, rows, kn, valueRows, direct ? d : dp, tile.Output, dp, dp, accumulate: true, tile.Pad);
        }
    }

    /// <summary>
    /// Sᵀ of one key tile (<paramref name="keys"/> rows of <see cref="QueryTile"/> queries) through the online softmax,
    /// a vector of queries at a time: z = scale · s, excluded where key j lies past query i's causal diagonal,
    /// j &gt; i + <paramref name="diagonal"/> (checked from key <paramref name="firstMasked"/> on); the running max and
    /// sum updated, the factor exp(old max − new max) left per query in <paramref name="correction"/>, and the tile
    /// replaced by exp(z − max), 0 where excluded.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void OnlineColumns(T* scores, int keys, int firstMasked, int diagonal, T scale, T* max, T* sum, T* correction)
    {
        int qt = QueryTile, count = TS.Count;
        var factor = TS.Create(scale);
        var negativeInfinity = TS.Create(T.NegativeInfinity);
        for (int c = 0; c < qt; c += count)
        {
            var top = negativeInfinity;
            T* column = scores + c;
            for (int j = 0; j < keys; j++)
            {
                var z = TS.Multiply(TS.Load(column + j * qt), factor);
                if (j >= firstMasked)
                {
                    // Query i = c + lane sees key j when i ≥ j − diagonal.
                    z = TS.Select(TS.Within((nuint)c, j - diagonal, int.MaxValue), z, negativeInfinity);
                }

                TS.Store(z, column + j * qt);
                top = TS.Max(top, z);
            }

            var previous = TS.Load(max + c);
            var next = TS.Max(previous, top);

            // A query that has seen no key yet keeps max −∞: its shift is 0, so each of its exps is of −∞.
            var shift = TS.Shift(next);
            var rescale = TS.Exp(TS.Subtract(previous, shift));
            var total = TS.Multiply(TS.Load(sum + c), rescale);
            for (int j = 0; j < keys; j++)
            {
                var p = TS.Exp(TS.Subtract(TS.Load(column + j * qt), shift));
                TS.Store(p, column + j * qt);
                total = TS.Add(total, p);
            }

            TS.Store(next, max + c);
            TS.Store(total, sum + c);
            TS.Store(rescale, correction + c);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rescale(T* row, T factor)
    {
        var scaleBy = TS.Create(factor);
        for (int c = 0; c < Padded; c += TS.Count)
        {
            TS.Store(TS.Multiply(TS.Load(row + c), scaleBy), row + c);
        }
    }

    private readonly struct BackwardBody(
        TStorage* q, TStorage* k, TStorage* v, TStorage* o, float* lse, TStorage* dO, TStorage* dQ, TStorage* dK, TStorage* dV, AttentionShape shape, T scale, bool causal)
        : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end)
        {
            int d = Dim, dp = Padded, qt = QueryTile;
            int group = shape.Heads / shape.KeyValueHeads, queries = shape.QueryLength, keys = shape.KeyLength;

            // Float and double sum dQ in the output itself; Half sums it in float, for the heads of one work item. Double
            // recomputes each row's log-sum-exp, which the forward hands over in float, to keep the gradients exact.
            bool native = typeof(TStorage) == typeof(T), exact = typeof(T) == typeof(double);
            nint dqLength = native ? 0 : (nint)group * queries * dp;
            nint exactLength = exact ? (nint)group * queries : 0;
            nuint floats = (nuint)(2 * qt * dp + 2 * dp * KeyTile + 3 * KeyTile * dp + 2 * qt * KeyTile + 2 * qt + TS.Count + dqLength + exactLength);
            nuint statisticsLength = exact ? QueryTileScratch.Length : 0;
            var block = AttentionScratch.Rent((statisticsLength + floats) * (nuint)sizeof(T));
            var statistics = new QueryTileScratch((T*)block.Start);
            var scratch = (T*)block.Start + statisticsLength;
            try
            {
                T* qp = scratch, dop = qp + qt * dp, kt = dop + qt * dp, vt = kt + dp * KeyTile, kp = vt + dp * KeyTile;
                T* dk = kp + KeyTile * dp, dv = dk + KeyTile * dp, s = dv + KeyTile * dp, ds = s + qt * KeyTile;
                T* delta = ds + qt * KeyTile, shift = delta + qt, pad = shift + qt, dqSum = pad + TS.Count, rowLse = dqSum + dqLength;
                for (int item = first; item < end; item++)
                {
                    int batch = item / shape.KeyValueHeads;
                    long kvBase = (long)item * keys * d;
                    long headBase = (long)batch * shape.Heads + item % shape.KeyValueHeads * group;
                    T* dqOrigin = native ? (T*)(dQ + headBase * queries * d) : dqSum;
                    nint dqStride = native ? d : dp;
                    new Span<T>(dqOrigin, group * queries * (int)dqStride).Clear();
                    if (exact)
                    {
                        LogSumExps(q + headBase * queries * d, k + kvBase, group, queries, keys, scale, causal, statistics, rowLse);
                    }

                    for (int k0 = 0; k0 < keys; k0 += KeyTile)
                    {
                        int kn = Math.Min(KeyTile, keys - k0), width = Round(kn);
                        PackTransposed(k + kvBase + (long)k0 * d, kn, kt, KeyTile);
                        PackTransposed(v + kvBase + (long)k0 * d, kn, vt, KeyTile);
                        PackRows(k + kvBase + (long)k0 * d, kn, kp, pad);
                        new Span<T>(dk, KeyTile * dp).Clear();
                        new Span<T>(dv, KeyTile * dp).Clear();

                        // Rows whose causal diagonal reaches this tile.
                        int queryStart = causal ? Math.Max(0, k0 - (keys - queries)) : 0;
                        for (int h = 0; h < group; h++)
                        {
                            long rowOrigin = (headBase + h) * queries;
                            for (int i0 = queryStart; i0 < queries; i0 += qt)
                            {
                                int rows = Math.Min(qt, queries - i0);
                                long rowBase = rowOrigin + i0;
                                PackRows(q + rowBase * d, rows, qp, pad);
                                PackRows(dO + rowBase * d, rows, dop, pad);
                                Deltas(dop, o + rowBase * d, rows, delta, pad);
                                for (int r = 0; r < rows; r++)
                                {
                                    shift[r] = exact ? rowLse[(long)h * queries + i0 + r] : T.CreateTruncating(lse[rowBase + r]);
                                }

                                Product(qp, dp, 1, rows, d, kt, KeyTile, s, KeyTile, width, accumulate: false, pad);
                                Product(dop, dp, 1, rows, d, vt, KeyTile, ds, KeyTile, width, accumulate: false, pad);
                                for (int r = 0; r < rows; r++)
                                {
                                    int limit = causal ? Math.Min(kn, i0 + r + keys - queries - k0 + 1) : kn;
                                    GradientRow(s + r * KeyTile, ds + r * KeyTile, width, limit, scale, shift[r], delta[r]);
                                }

                                Product(s, 1, KeyTile, kn, rows, dop, dp, dv, dp, dp, accumulate: true, pad);
                                Product(ds, 1, KeyTile, kn, rows, qp, dp, dk, dp, dp, accumulate: true, pad);
                                Product(ds, KeyTile, 1, rows, kn, kp, dp, dqOrigin + ((long)h * queries + i0) * dqStride, dqStride, (int)dqStride, accumulate: true, pad);
                            }
                        }

                        T one = T.One;
                        for (int j = 0; j < kn; j++)
                        {
                            StoreRow(dk + j * dp, one, dK + kvBase + (long)(k0 + j) * d, pad);
                            StoreRow(dv + j * dp, one, dV + kvBase + (long)(k0 + j) * d, pad);
                        }
                    }

                    if (!native)
                    {
                        for (int row = 0; row < group * queries; row++)
                        {
                            StoreRow(dqSum + (long)row * dp, T.One, dQ + (headBase * queries + row) * d, pad);
                        }
                    }
                }
            }
            finally
            {
                AttentionScratch.Return(block);
            }
        }
    }

    /// <summary>The log-sum-exp of every query of <paramref name="heads"/> heads, as the forward computes it, into <paramref name="result"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void LogSumExps(TStorage* q, TStorage* k, int heads, int queries, int keys, T scale, bool causal, QueryTileScratch tile, T* result)
    {
        int d = Dim, qt = QueryTile;
        for (int head = 0; head < heads; head++)
        {
            for (int row0 = 0; row0 < queries; row0 += qt)
            {
                int rows = Math.Min(qt, queries - row0);
                ForwardTile(q + ((long)head * queries + row0) * d, k, null, rows, row0, queries, keys, scale, causal, tile, values: false);
                for (int r = 0; r < rows; r++)
                {
                    T total = tile.Sum[r];
                    result[(long)head * queries + row0 + r] = total > T.Zero ? tile.Max[r] + T.Log(total) : T.NegativeInfinity;
                }
            }
        }
    }

    /// <summary>
    /// One row of the backward: P = exp(scale · s − lse) over the first <paramref name="limit"/> keys (0 elsewhere, and
    /// throughout when the query saw no key), then dS = scale · P ∘ (dP − D) into <paramref name="gradient"/>, which held dP.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void GradientRow(T* row, T* gradient, int width, int limit, T scale, T lse, T delta)
    {
        int count = TS.Count;
        if (limit <= 0 || lse == T.NegativeInfinity)
        {
            new Span<T>(row, width).Clear();
            new Span<T>(gradient, width).Clear();
            return;
        }

        var factor = TS.Create(scale);
        var shift = TS.Create(lse);
        var deltas = TS.Create(delta);
        var zero = TS.Create(T.Zero);
        for (int c = 0; c < width; c += count)
        {
            // z − lse ≤ 0 for the lse this forward wrote; clamped for any other, as exp's argument must be.
            var x = TS.Subtract(TS.Multiply(TS.Load(row + c), factor), shift);
            x = TS.Subtract(zero, TS.Max(TS.Subtract(zero, x), zero));
            var p = TS.Exp(x);
            if (c + count > limit)
            {
                p = TS.Select(TS.Within((nuint)c, 0, limit), p, zero);
            }

            TS.Store(p, row + c);
            TS.Store(TS.Multiply(TS.Multiply(p, TS.Subtract(TS.Load(gradient + c), deltas)), factor), gradient + c);
        }
    }

    /// <summary>D = rowsum(dO ∘ O) for each row: <paramref name="gradient"/> packed, <paramref name="output"/> as stored.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Deltas(T* gradient, TStorage* output, int rows, T* delta, T* pad)
    {
        int d = Dim, dp = Padded, count = TS.Count;
        for (int r = 0; r < rows; r++)
        {
            var total = TS.Create(T.Zero);
            TStorage* source = output + (long)r * d;
            for (int c = 0; c < d; c += count)
            {
                var values = c + count <= d ? TIO.Load(source + c) : TIO.LoadPartial(source + c, (nuint)(d - c), pad);
                total = TS.MultiplyAdd(values, TS.Load(gradient + r * dp + c), total);
            }

            delta[r] = TS.First(TS.SumAll(total));
        }
    }

    /// <summary><paramref name="rows"/> rows of the head dimension, converted, into rows of <see cref="Padded"/> (zeros past the head dimension).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void PackRows(TStorage* source, int rows, T* destination, T* pad)
    {
        int d = Dim, dp = Padded, count = TS.Count;
        for (int r = 0; r < rows; r++)
        {
            TStorage* from = source + (long)r * d;
            T* to = destination + r * dp;
            for (int c = 0; c < d; c += count)
            {
                TS.Store(c + count <= d ? TIO.Load(from + c) : TIO.LoadPartial(from + c, (nuint)(d - c), pad), to + c);
            }
        }
    }

    /// <summary>
    /// <paramref name="rows"/> rows of the head dimension transposed: element d of row j to [d · <paramref name="width"/> + j],
    /// zeros in the columns from <paramref name="rows"/> to <paramref name="width"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed(TStorage* source, int rows, T* destination, int width)
    {
        int d = Dim;
        if (rows < width)
        {
            for (int c = 0; c < d; c++)
            {
                new Span<T>(destination + c * width + rows, width - rows).Clear();
            }
        }

        for (int j = 0; j < rows; j++)
        {
            TStorage* from = source + (long)j * d;
            for (int c = 0; c < d; c++)
            {
                destination[c * width + j] = TIO.ToCompute(from[c]);
            }
        }
    }

    /// <summary>Stores the head dimension's elements of a packed row times <paramref name="factor"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void StoreRow(T* row, T factor, TStorage* destination, T* pad)
    {
        int d = Dim, count = TS.Count;
        var scaleBy = TS.Create(factor);
        for (int c = 0; c < d; c += count)
        {
            var value = TS.Multiply(TS.Load(row + c), scaleBy);
            if (c + count <= d)
            {
                TIO.Store(value, destination + c);
            }
            else
            {
                TIO.StorePartial(value, destination + c, (nuint)(d - c), pad);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Round(int count) => (count + TS.Count - 1) / TS.Count * TS.Count;

    /// <summary>
    /// C[r, 0..n) (+)= Σ_k A[r · rowStride + k · depthStride] · B[k · ldb, 0..n) for r &lt; rows, k &lt; depth. B's rows
    /// hold whole vectors past n (packed tiles); C's last vector may be partial (loaded and stored lane by lane).
    /// Four rows by four vectors of C stay in registers through the whole depth.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void Product(T* a, nint rowStride, nint depthStride, int rows, int depth, T* b, nint ldb, T* c, nint ldc, int n, bool accumulate, T* pad)
    {
        int count = TS.Count, wide = 4 * count;
        for (int r = 0; r < rows; r += 4)
        {
            int live = Math.Min(4, rows - r);
            T* a0 = a + r * rowStride;
            T* a1 = live > 1 ? a0 + rowStride : a0;
            T* a2 = live > 2 ? a0 + 2 * rowStride : a0;
            T* a3 = live > 3 ? a0 + 3 * rowStride : a0;
            T* c0 = c + r * ldc;
            int column = 0;
            if (WideBlocks)
            {
                for (; column + wide <= n; column += wide)
                {
                    Block4x4(a0, a1, a2, a3, depthStride, depth, b + column, ldb, c0 + column, ldc, live, accumulate);
                }
            }
            else
            {
                for (; column + 2 * count <= n; column += 2 * count)
                {
                    Block4x2(a0, a1, a2, a3, depthStride, depth, b + column, ldb, c0 + column, ldc, live, accumulate);
                }
            }

            for (; column < n; column += count)
            {
                Block4x1(a0, a1, a2, a3, depthStride, depth, b + column, ldb, c0 + column, ldc, live, Math.Min(count, n - column), accumulate, pad);
            }
        }
    }

    /// <summary>
    /// Whether a block of C is four vectors wide (16 accumulators): with 512-bit vectors, whose 32 registers hold them
    /// and the operands. <see cref="System.Numerics.Vector{T}"/> may have only 16 registers (AVX2), where such a block
    /// spills: it takes blocks two vectors wide.
    /// </summary>
    private static bool WideBlocks => TS.Count * sizeof(T) == 64;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x2(T* a0, T* a1, T* a2, T* a3, nint depthStride, int depth, T* b, nint ldb, T* c, nint ldc, int live, bool accumulate)
    {
        int n = TS.Count;
        TV c00, c01, c10, c11, c20, c21, c30, c31;
        if (accumulate)
        {
            T* r1 = live > 1 ? c + ldc : c, r2 = live > 2 ? c + 2 * ldc : c, r3 = live > 3 ? c + 3 * ldc : c;
            c00 = TS.Load(c); c01 = TS.Load(c + n);
            c10 = TS.Load(r1); c11 = TS.Load(r1 + n);
            c20 = TS.Load(r2); c21 = TS.Load(r2 + n);
            c30 = TS.Load(r3); c31 = TS.Load(r3 + n);
        }
        else
        {
            c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = TS.Create(T.Zero);
        }

        for (int k = 0; k < depth; k++)
        {
            T* row = b + k * ldb;
            TV b0 = TS.Load(row), b1 = TS.Load(row + n);
            nint at = k * depthStride;
            TV x = TS.Create(a0[at]);
            c00 = TS.MultiplyAdd(x, b0, c00); c01 = TS.MultiplyAdd(x, b1, c01);
            x = TS.Create(a1[at]);
            c10 = TS.MultiplyAdd(x, b0, c10); c11 = TS.MultiplyAdd(x, b1, c11);
            x = TS.Create(a2[at]);
            c20 = TS.MultiplyAdd(x, b0, c20); c21 = TS.MultiplyAdd(x, b1, c21);
            x = TS.Create(a3[at]);
            c30 = TS.MultiplyAdd(x, b0, c30); c31 = TS.MultiplyAdd(x, b1, c31);
        }

        TS.Store(c00, c); TS.Store(c01, c + n);
        if (live > 1)
        {
            TS.Store(c10, c + ldc); TS.Store(c11, c + ldc + n);
        }

        if (live > 2)
        {
            TS.Store(c20, c + 2 * ldc); TS.Store(c21, c + 2 * ldc + n);
        }

        if (live > 3)
        {
            TS.Store(c30, c + 3 * ldc); TS.Store(c31, c + 3 * ldc + n);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x4(T* a0, T* a1, T* a2, T* a3, nint depthStride, int depth, T* b, nint ldb, T* c, nint ldc, int live, bool accumulate)
    {
        int n = TS.Count;
        TV c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        if (accumulate)
        {
            T* r1 = live > 1 ? c + ldc : c, r2 = live > 2 ? c + 2 * ldc : c, r3 = live > 3 ? c + 3 * ldc : c;
            c00 = TS.Load(c); c01 = TS.Load(c + n); c02 = TS.Load(c + 2 * n); c03 = TS.Load(c + 3 * n);
            c10 = TS.Load(r1); c11 = TS.Load(r1 + n); c12 = TS.Load(r1 + 2 * n); c13 = TS.Load(r1 + 3 * n);
            c20 = TS.Load(r2); c21 = TS.Load(r2 + n); c22 = TS.Load(r2 + 2 * n); c23 = TS.Load(r2 + 3 * n);
            c30 = TS.Load(r3); c31 = TS.Load(r3 + n); c32 = TS.Load(r3 + 2 * n); c33 = TS.Load(r3 + 3 * n);
        }
        else
        {
            c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = TS.Create(T.Zero);
        }

        for (int k = 0; k < depth; k++)
        {
            T* row = b + k * ldb;
            TV b0 = TS.Load(row), b1 = TS.Load(row + n), b2 = TS.Load(row + 2 * n), b3 = TS.Load(row + 3 * n);
            nint at = k * depthStride;
            TV x = TS.Create(a0[at]);
            c00 = TS.MultiplyAdd(x, b0, c00); c01 = TS.MultiplyAdd(x, b1, c01); c02 = TS.MultiplyAdd(x, b2, c02); c03 = TS.MultiplyAdd(x, b3, c03);
            x = TS.Create(a1[at]);
            c10 = TS.MultiplyAdd(x, b0, c10); c11 = TS.MultiplyAdd(x, b1, c11); c12 = TS.MultiplyAdd(x, b2, c12); c13 = TS.MultiplyAdd(x, b3, c13);
            x = TS.Create(a2[at]);
            c20 = TS.MultiplyAdd(x, b0, c20); c21 = TS.MultiplyAdd(x, b1, c21); c22 = TS.MultiplyAdd(x, b2, c22); c23 = TS.MultiplyAdd(x, b3, c23);
            x = TS.Create(a3[at]);
            c30 = TS.MultiplyAdd(x, b0, c30); c31 = TS.MultiplyAdd(x, b1, c31); c32 = TS.MultiplyAdd(x, b2, c32); c33 = TS.MultiplyAdd(x, b3, c33);
        }

        TS.Store(c00, c); TS.Store(c01, c + n); TS.Store(c02, c + 2 * n); TS.Store(c03, c + 3 * n);
        if (live > 1)
        {
            T* r1 = c + ldc;
            TS.Store(c10, r1); TS.Store(c11, r1 + n); TS.Store(c12, r1 + 2 * n); TS.Store(c13, r1 + 3 * n);
        }

        if (live > 2)
        {
            T* r2 = c + 2 * ldc;
            TS.Store(c20, r2); TS.Store(c21, r2 + n); TS.Store(c22, r2 + 2 * n); TS.Store(c23, r2 + 3 * n);
        }

        if (live > 3)
        {
            T* r3 = c + 3 * ldc;
            TS.Store(c30, r3); TS.Store(c31, r3 + n); TS.Store(c32, r3 + 2 * n); TS.Store(c33, r3 + 3 * n);
        }
    }

    /// <summary>Four rows by one vector, of which the first <paramref name="lanes"/> lanes of C are read and written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4x1(T* a0, T* a1, T* a2, T* a3, nint depthStride, int depth, T* b, nint ldb, T* c, nint ldc, int live, int lanes, bool accumulate, T* pad)
    {
        bool whole = lanes == TS.Count;
        TV c0, c1, c2, c3;
        c0 = c1 = c2 = c3 = TS.Create(T.Zero);
        if (accumulate)
        {
            c0 = Read(c, whole, lanes, pad);
            c1 = live > 1 ? Read(c + ldc, whole, lanes, pad) : c0;
            c2 = live > 2 ? Read(c + 2 * ldc, whole, lanes, pad) : c0;
            c3 = live > 3 ? Read(c + 3 * ldc, whole, lanes, pad) : c0;
        }

        for (int k = 0; k < depth; k++)
        {
            TV b0 = TS.Load(b + k * ldb);
            nint at = k * depthStride;
            c0 = TS.MultiplyAdd(TS.Create(a0[at]), b0, c0);
            c1 = TS.MultiplyAdd(TS.Create(a1[at]), b0, c1);
            c2 = TS.MultiplyAdd(TS.Create(a2[at]), b0, c2);
            c3 = TS.MultiplyAdd(TS.Create(a3[at]), b0, c3);
        }

        Write(c0, c, whole, lanes, pad);
        if (live > 1)
        {
            Write(c1, c + ldc, whole, lanes, pad);
        }

        if (live > 2)
        {
            Write(c2, c + 2 * ldc, whole, lanes, pad);
        }

        if (live > 3)
        {
            Write(c3, c + 3 * ldc, whole, lanes, pad);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV Read(T* source, bool whole, int lanes, T* pad) => whole ? TS.Load(source) : TS.LoadPartial(source, (nuint)lanes, T.Zero, pad);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write(TV value, T* destination, bool whole, int lanes, T* pad)
    {
        if (whole)
        {
            TS.Store(value, destination);
        }
        else
        {
            TS.StorePartial(value, destination, (nuint)lanes, pad);
        }
    }
}
