using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Fused attention kernels for ILGPU: a thread per query row (forward, dQ) or per key row (dK, dV), its accumulators
/// of the head dimension in the group's dynamic shared memory (a slice per thread), keys and queries streamed from
/// device memory with an online softmax. Nothing of size queries × keys exists; every output element is written by
/// one thread in a fixed order, so results are deterministic without atomics.
/// </summary>
internal static class GpuAttentionKernels
{
    /// <summary>O and the log-sum-exp of one query row per thread.</summary>
    public static void Forward<TStorage, TAccumulator, TElement, TMath, THead>(
        ArrayView<TStorage> q, ArrayView<TStorage> k, ArrayView<TStorage> v, ArrayView<TStorage> o, ArrayView<float> lse,
        AttentionShape shape, float scale, int causal)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where THead : struct, IAttentionHead
    {
        var math = default(TMath);
        var element = default(TElement);
        int d = default(THead).Dim;
        var accumulator = SharedMemory.GetDynamic<TAccumulator>().SubView(Group.IdxX * d, d);
        int row = Grid.IdxX * Group.DimX + Group.IdxX;
        int queries = shape.QueryLength, keys = shape.KeyLength;
        if (row >= shape.Batch * shape.Heads * queries)
        {
            return;
        }

        int query = row % queries, pair = row / queries;
        int kvRow = KeyValueRow(shape, pair);
        int keyEnd = causal != 0 && query + keys - queries + 1 < keys ? query + keys - queries + 1 : keys;
        var factor = math.FromSingle(scale);
        for (int c = 0; c < d; c++)
        {
            accumulator[c] = math.Zero;
        }

        var max = math.NegativeInfinity;
        var sum = math.Zero;
        int qBase = row * d;
        for (int j = 0; j < keyEnd; j++)
        {
            int kBase = (kvRow + j) * d;
            var z = math.Multiply(Dot<TStorage, TAccumulator, TElement, TMath>(q, qBase, k, kBase, d), factor);
            var next = math.Max(max, z);
            var correction = math.IsNegativeInfinity(max) ? math.Zero : math.Exp(math.Subtract(max, next));
            var p = math.Exp(math.Subtract(z, next));
            sum = math.Add(math.Multiply(sum, correction), p);
            for (int c = 0; c < d; c++)
            {
                accumulator[c] = math.Add(math.Multiply(accumulator[c], correction), math.Multiply(p, element.Load(v, kBase + c)));
            }

            max = next;
        }

        var inverse = math.Reciprocal(sum);
        for (int c = 0; c < d; c++)
        {
            element.Store(o, qBase + c, math.Multiply(accumulator[c], inverse));
        }

        lse[row] = math.IsZero(sum) ? float.NegativeInfinity : math.ToSingle(math.Add(max, math.Log(sum)));
    }

    /// <summary>dQ of one query row per thread: Σ over its keys of dS · k, dS = scale · P ∘ (dP − D).</summary>
    public static void QueryGradient<TStorage, TAccumulator, TElement, TMath, THead>(
        ArrayView<TStorage> q, ArrayView<TStorage> k, ArrayView<TStorage> v, ArrayView<TStorage> o, ArrayView<float> lse, ArrayView<TStorage> dO,
        ArrayView<TStorage> dQ, AttentionShape shape, float scale, int causal)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where THead : struct, IAttentionHead
    {
        var math = default(TMath);
        var element = default(TElement);
        int d = default(THead).Dim;
        var accumulator = SharedMemory.GetDynamic<TAccumulator>().SubView(Group.IdxX * d, d);
        int row = Grid.IdxX * Group.DimX + Group.IdxX;
        int queries = shape.QueryLength, keys = shape.KeyLength;
        if (row >= shape.Batch * shape.Heads * queries)
        {
            return;
        }

        int query = row % queries;
        int kvRow = KeyValueRow(shape, row / queries);
        int keyEnd = causal != 0 && query + keys - queries + 1 < keys ? query + keys - queries + 1 : keys;
        var factor = math.FromSingle(scale);
        int qBase = row * d;
        var shift = math.FromSingle(lse[row]);
        var delta = Dot<TStorage, TAccumulator, TElement, TMath>(dO, qBase, o, qBase, d);
        for (int c = 0; c < d; c++)
        {
            accumulator[c] = math.Zero;
        }

        if (math.IsNegativeInfinity(shift))
        {
            keyEnd = 0; // a query that saw no key: zero gradients
        }

        for (int j = 0; j < keyEnd; j++)
        {
            int kBase = (kvRow + j) * d;
            var ds = ScoreGradient<TStorage, TAccumulator, TElement, TMath>(q, qBase, k, kBase, v, dO, d, factor, shift, delta);
            for (int c = 0; c < d; c++)
            {
                accumulator[c] = math.Add(accumulator[c], math.Multiply(ds, element.Load(k, kBase + c)));
            }
        }

        for (int c = 0; c < d; c++)
        {
            element.Store(dQ, qBase + c, accumulator[c]);
        }
    }

    /// <summary>
    /// dK and dV of one key row per thread, summed over every query head that shares its key/value head and every query
    /// that sees it: dV = Σ P · dO, dK = Σ dS · q.
    /// </summary>
    public static void KeyValueGradient<TStorage, TAccumulator, TElement, TMath, THead>(
        ArrayView<TStorage> q, ArrayView<TStorage> k, ArrayView<TStorage> v, ArrayView<TStorage> o, ArrayView<float> lse, ArrayView<TStorage> dO,
        ArrayView<TStorage> dK, ArrayView<TStorage> dV, AttentionShape shape, float scale, int causal)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where THead : struct, IAttentionHead
    {
        var math = default(TMath);
        var element = default(TElement);
        int d = default(THead).Dim;
        var shared = SharedMemory.GetDynamic<TAccumulator>();
        var keyGradient = shared.SubView(2 * Group.IdxX * d, d);
        var valueGradient = shared.SubView((2 * Group.IdxX + 1) * d, d);
        int row = Grid.IdxX * Group.DimX + Group.IdxX;
        int queries = shape.QueryLength, keys = shape.KeyLength;
        if (row >= shape.Batch * shape.KeyValueHeads * keys)
        {
            return;
        }

        int key = row % keys, kvPair = row / keys;
        int group = shape.Heads / shape.KeyValueHeads;
        int batch = kvPair / shape.KeyValueHeads;
        int firstHead = kvPair % shape.KeyValueHeads * group;
        int queryStart = causal != 0 && key - (keys - queries) > 0 ? key - (keys - queries) : 0;
        var factor = math.FromSingle(scale);
        int kBase = row * d;
        for (int c = 0; c < d; c++)
        {
            keyGradient[c] = math.Zero;
            valueGradient[c] = math.Zero;
        }

        for (int h = 0; h < group; h++)
        {
            int rowOrigin = (batch * shape.Heads + firstHead + h) * queries;
            for (int i = queryStart; i < queries; i++)
            {
                var shift = math.FromSingle(lse[rowOrigin + i]);
                if (math.IsNegativeInfinity(shift))
                {
                    continue;
                }

                int qBase = (rowOrigin + i) * d;
                var delta = Dot<TStorage, TAccumulator, TElement, TMath>(dO, qBase, o, qBase, d);
                var p = Probability<TStorage, TAccumulator, TElement, TMath>(q, qBase, k, kBase, d, factor, shift);
                var dp = Dot<TStorage, TAccumulator, TElement, TMath>(dO, qBase, v, kBase, d);
                var ds = math.Multiply(math.Multiply(p, math.Subtract(dp, delta)), factor);
                for (int c = 0; c < d; c++)
                {
                    valueGradient[c] = math.Add(valueGradient[c], math.Multiply(p, element.Load(dO, qBase + c)));
                    keyGradient[c] = math.Add(keyGradient[c], math.Multiply(ds, element.Load(q, qBase + c)));
                }
            }
        }

        for (int c = 0; c < d; c++)
        {
            element.Store(dK, kBase + c, keyGradient[c]);
            element.Store(dV, kBase + c, valueGradient[c]);
        }
    }

    /// <summary>The first row of the key/value head that query head pair (batch · Heads + head) reads.</summary>
    private static int KeyValueRow(AttentionShape shape, int pair)
    {
        int group = shape.Heads / shape.KeyValueHeads;
        int batch = pair / shape.Heads, head = pair % shape.Heads;
        return (batch * shape.KeyValueHeads + head / group) * shape.KeyLength;
    }

    private static TAccumulator Dot<TStorage, TAccumulator, TElement, TMath>(ArrayView<TStorage> x, int xBase, ArrayView<TStorage> y, int yBase, int d)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
    {
        var math = default(TMath);
        var element = default(TElement);
        var total = math.Zero;
        for (int c = 0; c < d; c++)
        {
            total = math.Add(total, math.Multiply(element.Load(x, xBase + c), element.Load(y, yBase + c)));
        }

        return total;
    }

    /// <summary>P = exp(scale · q · k − lse), the exponent clamped to ≤ 0 as exp's argument must be.</summary>
    private static TAccumulator Probability<TStorage, TAccumulator, TElement, TMath>(ArrayView<TStorage> q, int qBase, ArrayView<TStorage> k, int kBase, int d, TAccumulator factor, TAccumulator shift)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
    {
        var math = default(TMath);
        var x = math.Subtract(math.Multiply(Dot<TStorage, TAccumulator, TElement, TMath>(q, qBase, k, kBase, d), factor), shift);
        return math.Exp(math.Subtract(x, math.Max(x, math.Zero)));
    }

    /// <summary>dS = scale · P ∘ (dO · v − D) for one (query, key) pair.</summary>
    private static TAccumulator ScoreGradient<TStorage, TAccumulator, TElement, TMath>(
        ArrayView<TStorage> q, int qBase, ArrayView<TStorage> k, int kBase, ArrayView<TStorage> v, ArrayView<TStorage> dO, int d, TAccumulator factor, TAccumulator shift, TAccumulator delta)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
    {
        var math = default(TMath);
        var p = Probability<TStorage, TAccumulator, TElement, TMath>(q, qBase, k, kBase, d, factor, shift);
        var dp = Dot<TStorage, TAccumulator, TElement, TMath>(dO, qBase, v, kBase, d);
        return math.Multiply(math.Multiply(p, math.Subtract(dp, delta)), factor);
    }
}
