using System;

namespace SoftmaxGen;

/// <summary>
/// Asks the SoftmaxGen source generator to emit a softmax specialised for one tensor layout into the
/// annotated <c>static partial class</c>: <c>Forward</c>, <c>Backward</c>, <c>Jacobian</c> and <c>LogSumExp</c> on
/// spans (CPU) and on ILGPU array views (GPU), with a scale, and optionally a mask, a bias and a causal mask, on the
/// logits.
/// </summary>
/// <remarks>
/// A tensor A of rank <see cref="Rank"/> has its axes split in two sets: the reduced axes s1
/// (<see cref="Axes"/>, any non-empty subset, in any order) and the batch axes s2 (all the others).
/// The generated code computes B = exp(z − max) / Σ_{s1} exp(z − max) for every batch index, stably, of the logits
/// z = scale · A (+ bias), excluded elements −∞.
/// <code>
/// [Softmax(5, 2, 3, 4)]                  // A ∈ R^{ijklm}, s1 = {k, l, m}, s2 = {i, j}
/// public static partial class BlockSoftmax { }
///
/// // attention scores [batch, heads, query, key]: padding mask over [batch, key], causal, a bias over [heads, query, key]
/// [Softmax(4, 3, MaskAxes = new[] { 0, 3 }, BiasAxes = new[] { 1, 2, 3 }, CausalQueryAxis = 2, CausalKeyAxis = 3)]
/// public static partial class Scores { }
/// </code>
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class SoftmaxAttribute : Attribute
{
    /// <summary>Declares a softmax over <paramref name="axes"/> of a tensor of rank <paramref name="rank"/>.</summary>
    /// <param name="rank">The number of axes of the tensor, 1 to 8.</param>
    /// <param name="axes">The reduced axes s1, each in [0, rank), without repeats; the rest are batch axes s2.</param>
    public SoftmaxAttribute(int rank, params int[] axes)
    {
        Rank = rank;
        Axes = axes ?? Array.Empty<int>();
    }

    /// <summary>The number of axes of the tensor.</summary>
    public int Rank { get; }

    /// <summary>The reduced axes s1.</summary>
    public int[] Axes { get; }

    /// <summary>The element type: <see cref="float"/> (the default), <see cref="double"/> or <see cref="System.Half"/>.</summary>
    public Type ElementType { get; set; } = typeof(float);

    /// <summary>
    /// The axes a mask spans (default: none, and no <c>mask</c> parameter). With axes listed, <c>Forward</c> and
    /// <c>LogSumExp</c> take a <c>mask</c> of one <see cref="bool"/> per index of those axes (dense, row-major in
    /// ascending axis order), broadcast over the other axes; an element whose entry is false is excluded: it is −∞
    /// whatever A holds there.
    /// </summary>
    public int[] MaskAxes { get; set; } = Array.Empty<int>();

    /// <summary>
    /// The axes a bias spans (default: none, and no <c>bias</c> parameter). With axes listed, <c>Forward</c> and
    /// <c>LogSumExp</c> take a <c>bias</c> (dense, row-major in ascending axis order) added to the scaled logits,
    /// broadcast over the other axes: z = scale · A + bias.
    /// </summary>
    public int[] BiasAxes { get; set; } = Array.Empty<int>();

    /// <summary>
    /// The query axis of a causal mask (default −1: none), a batch axis; set together with <see cref="CausalKeyAxis"/>,
    /// a reduced axis. The element at query index q and key index k is excluded where k &gt; q + (K − Q), Q and K the
    /// two extents: aligned at the bottom right, as FlashAttention and PyTorch's <c>causal_lower_right</c> do.
    /// </summary>
    public int CausalQueryAxis { get; set; } = -1;

    /// <summary>The key axis of a causal mask (default −1: none); see <see cref="CausalQueryAxis"/>.</summary>
    public int CausalKeyAxis { get; set; } = -1;

    /// <summary>
    /// Whether the GPU kernels compute exp with CUDA's approximate base-2 exponential (<c>ex2.approx</c>, one
    /// special-function instruction, about 2 ulp) instead of the default polynomial (about 1 ulp); default false.
    /// For float and Half elements only: a double softmax keeps its exp, and setting it with double is an error
    /// (SMG0012). The CPU path ignores it and computes the same exp either way. Outputs stay within a few ulp of the
    /// default's; on ILGPU's CPU accelerator and other non-CUDA backends the same reduction runs with a portable 2^u.
    /// </summary>
    public bool ApproximateGpuExp { get; set; }
}
