using System;

namespace SoftmaxGen;

/// <summary>
/// Asks the SoftmaxGen source generator to emit a softmax specialised for one tensor layout into the
/// annotated <c>static partial class</c>: <c>Forward</c>, <c>Backward</c> and <c>Jacobian</c> on spans
/// (CPU) and on ILGPU array views (GPU).
/// </summary>
/// <remarks>
/// A tensor A of rank <see cref="Rank"/> has its axes split in two sets: the reduced axes s1
/// (<see cref="Axes"/>, any non-empty subset, in any order) and the batch axes s2 (all the others).
/// The generated code computes B = exp(A) / Σ_{s1} exp(A) for every batch index, stably.
/// <code>
/// [Softmax(5, 2, 3, 4)]                  // A ∈ R^{ijklm}, s1 = {k, l, m}, s2 = {i, j}
/// public static partial class BlockSoftmax { }
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
}
