using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Samples.Attention;

public delegate void FusedForward<T>(ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, Span<T> o, Span<float> lse, AttentionShape shape, float scale);

public delegate void FusedBackward<T>(
    ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> o, ReadOnlySpan<float> lse, ReadOnlySpan<T> dO,
    Span<T> dQ, Span<T> dK, Span<T> dV, AttentionShape shape, float scale);

public delegate void FusedDeviceForward(
    Accelerator accelerator, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, ArrayView<float> lse, AttentionShape shape, float scale);

public delegate void FusedDeviceBackward(
    Accelerator accelerator, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, ArrayView<float> lse, ArrayView<float> dO,
    ArrayView<float> dQ, ArrayView<float> dK, ArrayView<float> dV, AttentionShape shape, float scale);

/// <summary>One generated [Attention] class in float: its name, its CPU entry points and its ILGPU launchers.</summary>
public sealed record FusedAttentionClass(string Name, FusedForward<float> Forward, FusedBackward<float> Backward, FusedDeviceForward DeviceForward, FusedDeviceBackward DeviceBackward);

/// <summary>The outputs of one fused forward and backward pass.</summary>
public sealed record FusedResult<T>(T[] Output, float[] LogSumExp, T[] DQ, T[] DK, T[] DV);

/// <summary>
/// The generated fused attention classes of this sample (FusedAttentionClasses.cs), looked up by head dimension. They
/// compute O = softmax(scale · Q Kᵀ) V and the gradients without storing anything of size sequence × sequence.
/// </summary>
public static class FusedAttention
{
    /// <summary>The head dimensions with a generated float class.</summary>
    public static IReadOnlyList<int> HeadDims { get; } = [8, 16, 32, 64, 128];

    /// <summary>The generated float class for <paramref name="headDim"/>, or null when the sample has none.</summary>
    public static FusedAttentionClass? Find(int headDim, bool causal) => (headDim, causal) switch
    {
        (8, false) => new("[Attention(8)] Attention8", Attention8.Forward, Attention8.Backward, Attention8.Forward, Attention8.Backward),
        (8, true) => new("[Attention(8, Causal = true)] CausalAttention8", CausalAttention8.Forward, CausalAttention8.Backward, CausalAttention8.Forward, CausalAttention8.Backward),
        (16, false) => new("[Attention(16)] Attention16", Attention16.Forward, Attention16.Backward, Attention16.Forward, Attention16.Backward),
        (16, true) => new("[Attention(16, Causal = true)] CausalAttention16", CausalAttention16.Forward, CausalAttention16.Backward, CausalAttention16.Forward, CausalAttention16.Backward),
        (32, false) => new("[Attention(32)] Attention32", Attention32.Forward, Attention32.Backward, Attention32.Forward, Attention32.Backward),
        (32, true) => new("[Attention(32, Causal = true)] CausalAttention32", CausalAttention32.Forward, CausalAttention32.Backward, CausalAttention32.Forward, CausalAttention32.Backward),
        (64, false) => new("[Attention(64)] Attention64", Attention64.Forward, Attention64.Backward, Attention64.Forward, Attention64.Backward),
        (64, true) => new("[Attention(64, Causal = true)] CausalAttention64", CausalAttention64.Forward, CausalAttention64.Backward, CausalAttention64.Forward, CausalAttention64.Backward),
        (128, false) => new("[Attention(128)] Attention128", Attention128.Forward, Attention128.Backward, Attention128.Forward, Attention128.Backward),
        (128, true) => new("[Attention(128, Causal = true)] CausalAttention128", CausalAttention128.Forward, CausalAttention128.Backward, CausalAttention128.Forward, CausalAttention128.Backward),
        _ => null,
    };

    /// <summary>The head dimension of the double-precision classes, which the gradient check uses.</summary>
    public const int DoubleHeadDim = 4;

    /// <summary>The generated double class for the gradient check.</summary>
    public static (FusedForward<double> Forward, FusedBackward<double> Backward) Double(bool causal) => causal
        ? (CausalAttentionDouble4.Forward, CausalAttentionDouble4.Backward)
        : (AttentionDouble4.Forward, AttentionDouble4.Backward);

    /// <summary>Runs forward then backward on the CPU into fresh arrays.</summary>
    public static FusedResult<T> Run<T>(FusedForward<T> forward, FusedBackward<T> backward, ProblemSize size, T[] q, T[] k, T[] v, T[] dO)
    {
        var shape = size.ToAttentionShape();
        float scale = (float)size.Scale;
        var o = new T[size.TokenElements];
        var lse = new float[size.RowElements];
        var dQ = new T[size.TokenElements];
        var dK = new T[size.TokenElements];
        var dV = new T[size.TokenElements];
        forward(q, k, v, o, lse, shape, scale);
        backward(q, k, v, o, lse, dO, dQ, dK, dV, shape, scale);
        return new FusedResult<T>(o, lse, dQ, dK, dV);
    }
}
