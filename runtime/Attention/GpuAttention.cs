using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The fused attention launchers on ILGPU that generated code calls, one entry per element type. Each call enqueues its
/// kernels on the stream and returns without synchronising: the forward one kernel, the backward two (dQ; dK and dV).
/// Both sides of a group's work sit in shared memory: its own rows and accumulators, and a staged tile of the other side.
/// The generated method validates the arguments (<see cref="AttentionArguments"/>) first.
/// </summary>
/// <remarks>
/// The log-sum-exp travels in float for every element type, as the contract has it: for double the backward's
/// probabilities carry float's relative error times the log-sum-exp's magnitude (the CPU backward recomputes it in double).
/// </remarks>
public static class GpuAttention
{
    /// <summary>Enqueues O = softmax(scale · Q Kᵀ over the keys, causal keys excluded) V and each query's log-sum-exp.</summary>
    public static void Forward<THead>(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, ArrayView<float> lse, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => GpuAttentionLauncher<float, float, GpuSingle, GpuFloatMath<GpuExp>, THead>.Forward(stream, q, k, v, o, lse, shape, scale, causal);

    /// <inheritdoc cref="Forward{THead}(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, AttentionShape, float, bool)"/>
    public static void Forward<THead>(AcceleratorStream stream, ArrayView<double> q, ArrayView<double> k, ArrayView<double> v, ArrayView<double> o, ArrayView<float> lse, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => GpuAttentionLauncher<double, double, GpuDouble, GpuDoubleMath, THead>.Forward(stream, q, k, v, o, lse, shape, scale, causal);

    /// <inheritdoc cref="Forward{THead}(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, AttentionShape, float, bool)"/>
    public static void Forward<THead>(AcceleratorStream stream, ArrayView<System.Half> q, ArrayView<System.Half> k, ArrayView<System.Half> v, ArrayView<System.Half> o, ArrayView<float> lse, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => GpuAttentionLauncher<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, THead>.Forward(stream, q.Cast<ILGPU.Half>(), k.Cast<ILGPU.Half>(), v.Cast<ILGPU.Half>(), o.Cast<ILGPU.Half>(), lse, shape, scale, causal);

    /// <summary>Enqueues dQ, dK and dV from O, the log-sum-exp and dO.</summary>
    public static void Backward<THead>(
        AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, ArrayView<float> lse, ArrayView<float> dO,
        ArrayView<float> dQ, ArrayView<float> dK, ArrayView<float> dV, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => GpuAttentionLauncher<float, float, GpuSingle, GpuFloatMath<GpuExp>, THead>.Backward(stream, q, k, v, o, lse, dO, dQ, dK, dV, shape, scale, causal);

    /// <inheritdoc cref="Backward{THead}(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, AttentionShape, float, bool)"/>
    public static void Backward<THead>(
        AcceleratorStream stream, ArrayView<double> q, ArrayView<double> k, ArrayView<double> v, ArrayView<double> o, ArrayView<float> lse, ArrayView<double> dO,
        ArrayView<double> dQ, ArrayView<double> dK, ArrayView<double> dV, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => GpuAttentionLauncher<double, double, GpuDouble, GpuDoubleMath, THead>.Backward(stream, q, k, v, o, lse, dO, dQ, dK, dV, shape, scale, causal);

    /// <inheritdoc cref="Backward{THead}(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, AttentionShape, float, bool)"/>
    public static void Backward<THead>(
        AcceleratorStream stream, ArrayView<System.Half> q, ArrayView<System.Half> k, ArrayView<System.Half> v, ArrayView<System.Half> o, ArrayView<float> lse, ArrayView<System.Half> dO,
        ArrayView<System.Half> dQ, ArrayView<System.Half> dK, ArrayView<System.Half> dV, AttentionShape shape, float scale, bool causal)
        where THead : struct, IAttentionHead
        => GpuAttentionLauncher<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, THead>.Backward(
            stream, q.Cast<ILGPU.Half>(), k.Cast<ILGPU.Half>(), v.Cast<ILGPU.Half>(), o.Cast<ILGPU.Half>(), lse, dO.Cast<ILGPU.Half>(),
            dQ.Cast<ILGPU.Half>(), dK.Cast<ILGPU.Half>(), dV.Cast<ILGPU.Half>(), shape, scale, causal);
}

/// <summary>Loads (through <see cref="KernelCache"/>) and launches the attention kernels for one element type and head dimension.</summary>
internal static class GpuAttentionLauncher<TStorage, TAccumulator, TElement, TMath, THead>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
    where TElement : struct, IGpuElement<TStorage, TAccumulator>
    where TMath : struct, IGpuMath<TAccumulator>
    where THead : struct, IAttentionHead
{
    /// <summary>Bytes of dynamic shared memory a group may ask for on any CUDA device without opting in.</summary>
    private const int SharedBudget = 48 * 1024;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<float>, AttentionShape, float, int, AttentionTiling> ForwardRows =
        GpuAttentionKernels.Forward<TStorage, TAccumulator, TElement, TMath, THead>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<float>, ArrayView<TStorage>, ArrayView<TStorage>, AttentionShape, float, int, AttentionTiling> QueryRows =
        GpuAttentionKernels.QueryGradient<TStorage, TAccumulator, TElement, TMath, THead>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<float>, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, AttentionShape, float, int, AttentionTiling> KeyRows =
        GpuAttentionKernels.KeyValueGradient<TStorage, TAccumulator, TElement, TMath, THead>;

    /// <summary>Every kernel this launcher may load, each as instantiated for it: what ahead-of-time compilation must cover.</summary>
    internal static IReadOnlyList<Delegate> Kernels => [ForwardRows, QueryRows, KeyRows];

    public static void Forward(AcceleratorStream stream, ArrayView<TStorage> q, ArrayView<TStorage> k, ArrayView<TStorage> v, ArrayView<TStorage> o, ArrayView<float> lse, AttentionShape shape, float scale, bool causal)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        var kernel = KernelCache.Get(accelerator, ForwardRows, static owner => owner.LoadKernel(ForwardRows));
        var (config, tiling) = Config(accelerator, shape.Batch * shape.Heads, shape.QueryLength, rowVectors: 2, tileVectors: 2, tileScalars: 0);
        kernel(stream, config, q, k, v, o, lse, shape, scale, causal ? 1 : 0, tiling);
    }

    public static void Backward(
        AcceleratorStream stream, ArrayView<TStorage> q, ArrayView<TStorage> k, ArrayView<TStorage> v, ArrayView<TStorage> o, ArrayView<float> lse, ArrayView<TStorage> dO,
        ArrayView<TStorage> dQ, ArrayView<TStorage> dK, ArrayView<TStorage> dV, AttentionShape shape, float scale, bool causal)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        var queryRows = KernelCache.Get(accelerator, QueryRows, static owner => owner.LoadKernel(QueryRows));
        var keyRows = KernelCache.Get(accelerator, KeyRows, static owner => owner.LoadKernel(KeyRows));
        var (queryConfig, queryTiling) = Config(accelerator, shape.Batch * shape.Heads, shape.QueryLength, rowVectors: 3, tileVectors: 2, tileScalars: 0);
        queryRows(stream, queryConfig, q, k, v, o, lse, dO, dQ, shape, scale, causal ? 1 : 0, queryTiling);
        var (keyConfig, keyTiling) = Config(accelerator, shape.Batch * shape.KeyValueHeads, shape.KeyLength, rowVectors: 4, tileVectors: 2, tileScalars: 2);
        keyRows(stream, keyConfig, q, k, v, o, lse, dO, dK, dV, shape, scale, causal ? 1 : 0, keyTiling);
    }

    /// <summary>
    /// A group per block of consecutive rows of one head, a thread per row, in whole warps (up to eight): as many as
    /// leave room in shared memory for each thread's <paramref name="rowVectors"/> head-dimension rows and a staged tile
    /// of at least a warp's rows (<paramref name="tileVectors"/> head-dimension vectors and <paramref name="tileScalars"/>
    /// values each); the tile takes the rest, at most the group's thread count.
    /// </summary>
    private static (KernelConfig Config, AttentionTiling Tiling) Config(Accelerator accelerator, int heads, int rows, int rowVectors, int tileVectors, int tileScalars)
    {
        int warp = accelerator.WarpSize, d = default(THead).Dim, size = Unsafe.SizeOf<TAccumulator>();
        long budget = Math.Min(SharedBudget, accelerator.MaxSharedMemoryPerGroup) / size;
        long perRow = (long)rowVectors * d, perTileRow = (long)tileVectors * d + tileScalars;
        int threads = Math.Min(accelerator.MaxNumThreadsPerGroup, 8 * warp) / warp * warp;
        while (threads > warp && threads * perRow + Math.Min(threads, warp) * perTileRow > budget)
        {
            threads -= warp;
        }

        while (threads > 1 && threads * perRow + perTileRow > budget)
        {
            threads /= 2; // heads too wide for a warp's rows: fewer threads than a warp
        }

        int tile = (int)Math.Clamp((budget - threads * perRow) / perTileRow, 1, threads);
        int blocks = (rows + threads - 1) / threads;
        var config = new KernelConfig(heads * blocks, threads, SharedMemoryConfig.RequestDynamic<TAccumulator>((int)(threads * perRow + tile * perTileRow)));
        return (config, new AttentionTiling(threads, tile));
    }

    private static void RequireContextFor(Accelerator accelerator) => GpuContext.RequireDoubleArithmetic<TAccumulator>(accelerator, "Double attention");
}
