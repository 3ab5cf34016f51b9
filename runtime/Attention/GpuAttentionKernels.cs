using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// How a group of the attention kernels divides its dynamic shared memory: the per-thread rows (a thread's query or
/// key row, its accumulators), stored column-major (element c of thread t at c · threads + t, so that a warp's threads
/// touch adjacent banks), then a tile of rows that every thread reads (keys and values, or queries and cotangents),
/// row-major (every thread reads the same element: a broadcast).
/// </summary>
/// <param name="Threads">Threads per group: rows a group owns.</param>
/// <param name="Tile">Rows of the shared tile, staged from device memory once per group.</param>
internal readonly record struct AttentionTiling(int Threads, int Tile);

/// <summary>
/// Fused attention kernels for ILGPU. A group owns consecutive rows of one head (queries for the forward and dQ, keys
/// for dK and dV), one per thread, with the rows and accumulators in shared memory; it stages the other side (keys and
/// values, or queries and dO) a tile at a time in shared memory, and each thread runs the online softmax (forward) or
/// recomputes P from the log-sum-exp (backward) against the tile. Nothing of size queries × keys exists; every output
/// element is written by one thread in a fixed order, so results are deterministic without atomics.
/// </summary>
internal static class GpuAttentionKernels
{
    /// <summary>O and the log-sum-exp, a thread per query.</summary>
    public static void Forward<TStorage, TAccumulator, TElement, TMath, THead>(
        ArrayView<TStorage> q, ArrayView<TStorage> k, ArrayView<TStorage> v, ArrayView<TStorage> o, ArrayView<float> lse,
        AttentionShape shape, float scale, int causal, AttentionTiling tiling)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where THead : struct, IAttentionHead
    {
        var math = default(TMath);
        var element = default(TElement);
        int d = default(THead).Dim;
        int threads = tiling.Threads, tid = Group.IdxX;
        var shared = SharedMemory.GetDynamic<TAccumulator>();
        var query = shared.SubView(0, d * threads);
        var output = shared.SubView(d * threads, d * threads);
        var keyTile = shared.SubView(2 * d * threads, d * tiling.Tile);
        var valueTile = shared.SubView((2 * threads + tiling.Tile) * d, d * tiling.Tile);

        var block = new QueryBlock(shape, threads, d, causal);
        bool live = block.Live;
        long qBase = block.QueryBase, kvBase = block.KeyValueBase;

        for (int c = 0; c < d; c++)
        {
            query[c * threads + tid] = live ? element.Load(q, (int)(qBase + c)) : math.Zero;
            output[c * threads + tid] = math.Zero;
        }

        int groupEnd = block.GroupEnd, ownEnd = block.OwnEnd;
        var factor = math.FromSingle(scale);
        var max = math.NegativeInfinity;
        var sum = math.Zero;
        for (int k0 = 0; k0 < groupEnd; k0 += tiling.Tile)
        {
            int count = groupEnd - k0 < tiling.Tile ? groupEnd - k0 : tiling.Tile;
            Group.Barrier();
            for (int e = tid; e < count * d; e += threads)
            {
                keyTile[e] = element.Load(k, (int)(kvBase + (long)k0 * d + e));
                valueTile[e] = element.Load(v, (int)(kvBase + (long)k0 * d + e));
            }

            Group.Barrier();
            int mine = live ? (ownEnd - k0 < count ? ownEnd - k0 : count) : 0;
            for (int j = 0; j < mine; j++)
            {
                var dot = math.Zero;
                for (int c = 0; c < d; c++)
                {
                    dot = math.Add(dot, math.Multiply(query[c * threads + tid], keyTile[j * d + c]));
                }

                var z = math.Multiply(dot, factor);
                var next = math.Max(max, z);
                var correction = math.IsNegativeInfinity(max) ? math.Zero : math.Exp(math.Subtract(max, next));
                var p = math.Exp(math.Subtract(z, next));
                sum = math.Add(math.Multiply(sum, correction), p);
                for (int c = 0; c < d; c++)
                {
                    output[c * threads + tid] = math.Add(math.Multiply(output[c * threads + tid], correction), math.Multiply(p, valueTile[j * d + c]));
                }

                max = next;
            }
        }

        if (!live)
        {
            return;
        }

        var inverse = math.Reciprocal(sum);
        for (int c = 0; c < d; c++)
        {
            element.Store(o, (int)(qBase + c), math.Multiply(output[c * threads + tid], inverse));
        }

        lse[(int)(qBase / d)] = math.IsZero(sum) ? float.NegativeInfinity : math.ToSingle(math.Add(max, math.Log(sum)));
    }

    /// <summary>dQ, a thread per query: Σ over its keys of dS · k, with dS = scale · P ∘ (dO · v − D).</summary>
    public static void QueryGradient<TStorage, TAccumulator, TElement, TMath, THead>(
        ArrayView<TStorage> q, ArrayView<TStorage> k, ArrayView<TStorage> v, ArrayView<TStorage> o, ArrayView<float> lse, ArrayView<TStorage> dO,
        ArrayView<TStorage> dQ, AttentionShape shape, float scale, int causal, AttentionTiling tiling)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where THead : struct, IAttentionHead
    {
        var math = default(TMath);
        var element = default(TElement);
        int d = default(THead).Dim;
        int threads = tiling.Threads, tid = Group.IdxX;
        var shared = SharedMemory.GetDynamic<TAccumulator>();
        var query = shared.SubView(0, d * threads);
        var cotangent = shared.SubView(d * threads, d * threads);
        var gradient = shared.SubView(2 * d * threads, d * threads);
        var keyTile = shared.SubView(3 * d * threads, d * tiling.Tile);
        var valueTile = shared.SubView((3 * threads + tiling.Tile) * d, d * tiling.Tile);

        var block = new QueryBlock(shape, threads, d, causal);
        bool live = block.Live;
        long qBase = block.QueryBase, kvBase = block.KeyValueBase;

        var delta = math.Zero;
        for (int c = 0; c < d; c++)
        {
            var x = live ? element.Load(dO, (int)(qBase + c)) : math.Zero;
            query[c * threads + tid] = live ? element.Load(q, (int)(qBase + c)) : math.Zero;
            cotangent[c * threads + tid] = x;
            gradient[c * threads + tid] = math.Zero;
            delta = math.Add(delta, math.Multiply(x, live ? element.Load(o, (int)(qBase + c)) : math.Zero));
        }

        var shift = live ? math.FromSingle(lse[(int)(qBase / d)]) : math.NegativeInfinity;
        int groupEnd = block.GroupEnd, ownEnd = block.OwnEnd;
        if (math.IsNegativeInfinity(shift))
        {
            ownEnd = 0; // a query that saw no key: zero gradients
        }

        var factor = math.FromSingle(scale);
        for (int k0 = 0; k0 < groupEnd; k0 += tiling.Tile)
        {
            int count = groupEnd - k0 < tiling.Tile ? groupEnd - k0 : tiling.Tile;
            Group.Barrier();
            for (int e = tid; e < count * d; e += threads)
            {
                keyTile[e] = element.Load(k, (int)(kvBase + (long)k0 * d + e));
                valueTile[e] = element.Load(v, (int)(kvBase + (long)k0 * d + e));
            }

            Group.Barrier();
            int mine = ownEnd - k0 < count ? ownEnd - k0 : count;
            for (int j = 0; j < mine; j++)
            {
                var s = math.Zero;
                var dp = math.Zero;
                for (int c = 0; c < d; c++)
                {
                    s = math.Add(s, math.Multiply(query[c * threads + tid], keyTile[j * d + c]));
                    dp = math.Add(dp, math.Multiply(cotangent[c * threads + tid], valueTile[j * d + c]));
                }

                var ds = math.Multiply(math.Multiply(Probability(math, s, factor, shift), math.Subtract(dp, delta)), factor);
                for (int c = 0; c < d; c++)
                {
                    gradient[c * threads + tid] = math.Add(gradient[c * threads + tid], math.Multiply(ds, keyTile[j * d + c]));
                }
            }
        }

        if (live)
        {
            for (int c = 0; c < d; c++)
            {
                element.Store(dQ, (int)(qBase + c), gradient[c * threads + tid]);
            }
        }
    }

    /// <summary>
    /// dK and dV, a thread per key, summed over every query head that shares its key/value head and every query that
    /// sees it: dV = Σ P · dO, dK = Σ dS · q. Queries, dO, their log-sum-exp and D = rowsum(dO ∘ O) are staged a tile
    /// at a time (the tile at most a group's threads: each thread computes one query's D).
    /// </summary>
    public static void KeyValueGradient<TStorage, TAccumulator, TElement, TMath, THead>(
        ArrayView<TStorage> q, ArrayView<TStorage> k, ArrayView<TStorage> v, ArrayView<TStorage> o, ArrayView<float> lse, ArrayView<TStorage> dO,
        ArrayView<TStorage> dK, ArrayView<TStorage> dV, AttentionShape shape, float scale, int causal, AttentionTiling tiling)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where THead : struct, IAttentionHead
    {
        var math = default(TMath);
        var element = default(TElement);
        int d = default(THead).Dim;
        int threads = tiling.Threads, tile = tiling.Tile, tid = Group.IdxX;
        var shared = SharedMemory.GetDynamic<TAccumulator>();
        var key = shared.SubView(0, d * threads);
        var value = shared.SubView(d * threads, d * threads);
        var keyGradient = shared.SubView(2 * d * threads, d * threads);
        var valueGradient = shared.SubView(3 * d * threads, d * threads);
        var queryTile = shared.SubView(4 * d * threads, d * tile);
        var cotangentTile = shared.SubView((4 * threads + tile) * d, d * tile);
        var shifts = shared.SubView((4 * threads + 2 * tile) * d, tile);
        var deltas = shared.SubView((4 * threads + 2 * tile) * d + tile, tile);

        int queries = shape.QueryLength, keys = shape.KeyLength;
        int blocks = (keys + threads - 1) / threads;
        int kvPair = Grid.IdxX / blocks, first = Grid.IdxX % blocks * threads;
        int row = first + tid;
        bool live = row < keys;
        long kBase = ((long)kvPair * keys + row) * d;
        for (int c = 0; c < d; c++)
        {
            key[c * threads + tid] = live ? element.Load(k, (int)(kBase + c)) : math.Zero;
            value[c * threads + tid] = live ? element.Load(v, (int)(kBase + c)) : math.Zero;
            keyGradient[c * threads + tid] = math.Zero;
            valueGradient[c * threads + tid] = math.Zero;
        }

        int group = shape.Heads / shape.KeyValueHeads;
        int batch = kvPair / shape.KeyValueHeads;
        int firstHead = kvPair % shape.KeyValueHeads * group;

        // Query i sees key j when i ≥ j − (K − Q): the group starts at its first key's first query, each thread at its own.
        int groupStart = causal != 0 && first - (keys - queries) > 0 ? first - (keys - queries) : 0;
        int ownStart = causal != 0 && row - (keys - queries) > 0 ? row - (keys - queries) : 0;
        var factor = math.FromSingle(scale);
        for (int h = 0; h < group; h++)
        {
            long rowOrigin = ((long)batch * shape.Heads + firstHead + h) * queries;
            for (int i0 = groupStart; i0 < queries; i0 += tile)
            {
                int count = queries - i0 < tile ? queries - i0 : tile;
                Group.Barrier();
                for (int e = tid; e < count * d; e += threads)
                {
                    queryTile[e] = element.Load(q, (int)((rowOrigin + i0) * d + e));
                    cotangentTile[e] = element.Load(dO, (int)((rowOrigin + i0) * d + e));
                }

                if (tid < count)
                {
                    long at = (rowOrigin + i0 + tid) * d;
                    var delta = math.Zero;
                    for (int c = 0; c < d; c++)
                    {
                        delta = math.Add(delta, math.Multiply(element.Load(dO, (int)(at + c)), element.Load(o, (int)(at + c))));
                    }

                    deltas[tid] = delta;
                    shifts[tid] = math.FromSingle(lse[(int)(rowOrigin + i0 + tid)]);
                }

                Group.Barrier();
                int from = live ? (ownStart - i0 > 0 ? ownStart - i0 : 0) : count;
                for (int i = from; i < count; i++)
                {
                    var shift = shifts[i];
                    if (math.IsNegativeInfinity(shift))
                    {
                        continue;
                    }

                    var s = math.Zero;
                    var dp = math.Zero;
                    for (int c = 0; c < d; c++)
                    {
                        s = math.Add(s, math.Multiply(queryTile[i * d + c], key[c * threads + tid]));
                        dp = math.Add(dp, math.Multiply(cotangentTile[i * d + c], value[c * threads + tid]));
                    }

                    var p = Probability(math, s, factor, shift);
                    var ds = math.Multiply(math.Multiply(p, math.Subtract(dp, deltas[i])), factor);
                    for (int c = 0; c < d; c++)
                    {
                        valueGradient[c * threads + tid] = math.Add(valueGradient[c * threads + tid], math.Multiply(p, cotangentTile[i * d + c]));
                        keyGradient[c * threads + tid] = math.Add(keyGradient[c * threads + tid], math.Multiply(ds, queryTile[i * d + c]));
                    }
                }
            }
        }

        if (live)
        {
            for (int c = 0; c < d; c++)
            {
                element.Store(dK, (int)(kBase + c), keyGradient[c * threads + tid]);
                element.Store(dV, (int)(kBase + c), valueGradient[c * threads + tid]);
            }
        }
    }

    /// <summary>
    /// The queries a group of the forward or dQ kernel owns: consecutive rows of one head, this thread's among them
    /// (<see cref="Live"/> when it exists), where its query and its key/value head start, and how far into the keys the
    /// group reads (its last query's causal diagonal) and this thread reads (its own).
    /// </summary>
    private readonly struct QueryBlock
    {
        public readonly bool Live;
        public readonly long QueryBase;
        public readonly long KeyValueBase;
        public readonly int GroupEnd;
        public readonly int OwnEnd;

        public QueryBlock(AttentionShape shape, int threads, int d, int causal)
        {
            int queries = shape.QueryLength, keys = shape.KeyLength;
            int blocks = (queries + threads - 1) / threads;
            int pair = Grid.IdxX / blocks, first = Grid.IdxX % blocks * threads;
            int row = first + Group.IdxX;
            Live = row < queries;
            QueryBase = ((long)pair * queries + row) * d;
            KeyValueBase = KeyValueRow(shape, pair) * d;
            int last = first + threads - 1 < queries ? first + threads - 1 : queries - 1;
            GroupEnd = KeyEnd(last, queries, keys, causal);
            OwnEnd = KeyEnd(row, queries, keys, causal);
        }

        /// <summary>The keys query <paramref name="query"/> sees: all, or with the causal mask those up to q + (K − Q).</summary>
        private static int KeyEnd(int query, int queries, int keys, int causal)
            => causal != 0 && query + keys - queries + 1 < keys ? query + keys - queries + 1 : keys;
    }

    /// <summary>The first row of the key/value head that query head pair (batch · Heads + head) reads.</summary>
    private static long KeyValueRow(AttentionShape shape, int pair)
    {
        int group = shape.Heads / shape.KeyValueHeads;
        int batch = pair / shape.Heads, head = pair % shape.Heads;
        return ((long)batch * shape.KeyValueHeads + head / group) * shape.KeyLength;
    }

    /// <summary>P = exp(scale · s − lse), the exponent clamped to ≤ 0 as exp's argument must be.</summary>
    private static TAccumulator Probability<TAccumulator, TMath>(TMath math, TAccumulator s, TAccumulator factor, TAccumulator shift)
        where TAccumulator : unmanaged
        where TMath : struct, IGpuMath<TAccumulator>
    {
        var x = math.Subtract(math.Multiply(s, factor), shift);
        return math.Exp(math.Subtract(x, math.Max(x, math.Zero)));
    }
}
