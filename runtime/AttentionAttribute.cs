using System;

namespace SoftmaxGen;

/// <summary>
/// Asks the SoftmaxGen source generator to emit fused scaled dot-product attention for one head dimension into the
/// annotated <c>static partial class</c>: <c>Forward</c> (O and the log-sum-exp of each query's scores) and
/// <c>Backward</c> (dQ, dK, dV), on spans (CPU) and on ILGPU array views (GPU). The scores Q Kᵀ and the probabilities
/// are never stored: extra memory does not grow with the sequence lengths.
/// </summary>
/// <remarks>
/// <code>
/// [Attention(64, Causal = true)]
/// public static partial class CausalAttention64 { }
///
/// CausalAttention64.Forward(q, k, v, o, lse, new AttentionShape(batch, heads, heads, queries, keys), 1 / MathF.Sqrt(64));
/// </code>
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class AttentionAttribute : Attribute
{
    /// <summary>Declares attention for heads of <paramref name="headDim"/> elements.</summary>
    /// <param name="headDim">The head dimension, 1 to 256, fixed at compile time.</param>
    public AttentionAttribute(int headDim) => HeadDim = headDim;

    /// <summary>The head dimension: the length of every query, key and value vector.</summary>
    public int HeadDim { get; }

    /// <summary>The element type: <see cref="float"/> (the default), <see cref="double"/>, or <see cref="System.Half"/> (computed in float).</summary>
    public Type ElementType { get; set; } = typeof(float);

    /// <summary>
    /// Whether keys after the query are excluded, aligned bottom-right: key k is excluded for query q when
    /// k &gt; q + (KeyLength − QueryLength).
    /// </summary>
    public bool Causal { get; set; }
}
