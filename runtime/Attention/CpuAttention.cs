using System;
using System.Numerics;
using System.Runtime.Intrinsics;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The fused attention kernels on the CPU that generated code calls, one entry per element type. The generated
/// method validates the arguments (<see cref="AttentionArguments"/>) first; the type argument THead is the
/// generated head-dimension constant. Threads: up to <see cref="CpuSoftmax.MaxDegreeOfParallelism"/>, results bitwise
/// identical for any number.
/// </summary>
public static unsafe class CpuAttention
{
    /// <summary>O = softmax(scale · Q Kᵀ over the keys, causal keys excluded) V, and each query's log-sum-exp.</summary>
    public static void Forward<THead>(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o, Span<float> lse, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => Forward<float, float, Native<float, Vector512<float>, Simd512<float>>, Native<float, Vector<float>, SimdVector<float>>, THead>(q, k, v, o, lse, shape, scale, causal);

    /// <inheritdoc cref="Forward{THead}(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, AttentionShape, float, bool)"/>
    public static void Forward<THead>(ReadOnlySpan<double> q, ReadOnlySpan<double> k, ReadOnlySpan<double> v, Span<double> o, Span<float> lse, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => Forward<double, double, Native<double, Vector512<double>, Simd512<double>>, Native<double, Vector<double>, SimdVector<double>>, THead>(q, k, v, o, lse, shape, scale, causal);

    /// <inheritdoc cref="Forward{THead}(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, AttentionShape, float, bool)"/>
    public static void Forward<THead>(ReadOnlySpan<Half> q, ReadOnlySpan<Half> k, ReadOnlySpan<Half> v, Span<Half> o, Span<float> lse, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => Forward<Half, float, Half512, HalfVector, THead>(q, k, v, o, lse, shape, scale, causal);

    /// <summary>dQ, dK and dV from O, the log-sum-exp and dO, P recomputed tile by tile.</summary>
    public static void Backward<THead>(
        ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, ReadOnlySpan<float> o, ReadOnlySpan<float> lse, ReadOnlySpan<float> dO,
        Span<float> dQ, Span<float> dK, Span<float> dV, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => Backward<float, float, Native<float, Vector512<float>, Simd512<float>>, Native<float, Vector<float>, SimdVector<float>>, THead>(q, k, v, o, lse, dO, dQ, dK, dV, shape, scale, causal);

    /// <inheritdoc cref="Backward{THead}(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, AttentionShape, float, bool)"/>
    public static void Backward<THead>(
        ReadOnlySpan<double> q, ReadOnlySpan<double> k, ReadOnlySpan<double> v, ReadOnlySpan<double> o, ReadOnlySpan<float> lse, ReadOnlySpan<double> dO,
        Span<double> dQ, Span<double> dK, Span<double> dV, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => Backward<double, double, Native<double, Vector512<double>, Simd512<double>>, Native<double, Vector<double>, SimdVector<double>>, THead>(q, k, v, o, lse, dO, dQ, dK, dV, shape, scale, causal);

    /// <inheritdoc cref="Backward{THead}(ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float}, Span{float}, AttentionShape, float, bool)"/>
    public static void Backward<THead>(
        ReadOnlySpan<Half> q, ReadOnlySpan<Half> k, ReadOnlySpan<Half> v, ReadOnlySpan<Half> o, ReadOnlySpan<float> lse, ReadOnlySpan<Half> dO,
        Span<Half> dQ, Span<Half> dK, Span<Half> dV, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => Backward<Half, float, Half512, HalfVector, THead>(q, k, v, o, lse, dO, dQ, dK, dV, shape, scale, causal);

    private static void Forward<TStorage, T, TIO512, TIOVector, THead>(
        ReadOnlySpan<TStorage> q, ReadOnlySpan<TStorage> k, ReadOnlySpan<TStorage> v, Span<TStorage> o, Span<float> lse, AttentionShape shape, float scale, bool causal)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TIO512 : struct, IStorage<TStorage, T, Vector512<T>>
        where TIOVector : struct, IStorage<TStorage, T, Vector<T>>
        where THead : struct, IAttentionHead
    {
        fixed (TStorage* pq = q)
        fixed (TStorage* pk = k)
        fixed (TStorage* pv = v)
        fixed (TStorage* po = o)
        fixed (float* plse = lse)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuAttentionKernels<TStorage, T, Vector512<T>, Simd512<T>, TIO512, THead>.Forward(pq, pk, pv, po, plse, shape, T.CreateTruncating(scale), causal);
            }
            else
            {
                CpuAttentionKernels<TStorage, T, Vector<T>, SimdVector<T>, TIOVector, THead>.Forward(pq, pk, pv, po, plse, shape, T.CreateTruncating(scale), causal);
            }
        }
    }

    private static void Backward<TStorage, T, TIO512, TIOVector, THead>(
        ReadOnlySpan<TStorage> q, ReadOnlySpan<TStorage> k, ReadOnlySpan<TStorage> v, ReadOnlySpan<TStorage> o, ReadOnlySpan<float> lse, ReadOnlySpan<TStorage> dO,
        Span<TStorage> dQ, Span<TStorage> dK, Span<TStorage> dV, AttentionShape shape, float scale, bool causal)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TIO512 : struct, IStorage<TStorage, T, Vector512<T>>
        where TIOVector : struct, IStorage<TStorage, T, Vector<T>>
        where THead : struct, IAttentionHead
    {
        fixed (TStorage* pq = q)
        fixed (TStorage* pk = k)
        fixed (TStorage* pv = v)
        fixed (TStorage* po = o)
        fixed (float* plse = lse)
        fixed (TStorage* pdO = dO)
        fixed (TStorage* pdQ = dQ)
        fixed (TStorage* pdK = dK)
        fixed (TStorage* pdV = dV)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuAttentionKernels<TStorage, T, Vector512<T>, Simd512<T>, TIO512, THead>.Backward(pq, pk, pv, po, plse, pdO, pdQ, pdK, pdV, shape, T.CreateTruncating(scale), causal);
            }
            else
            {
                CpuAttentionKernels<TStorage, T, Vector<T>, SimdVector<T>, TIOVector, THead>.Backward(pq, pk, pv, po, plse, pdO, pdQ, pdK, pdV, shape, T.CreateTruncating(scale), causal);
            }
        }
    }
}
