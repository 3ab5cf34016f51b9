using System;

namespace SoftmaxGen;

/// <summary>
/// Asks the SoftmaxGen source generator to emit a log-softmax specialised for one tensor layout into the annotated
/// <c>static partial class</c>: <c>Forward</c>, <c>Backward</c>, <c>Jacobian</c> and <c>LogSumExp</c> on spans (CPU)
/// and on ILGPU array views (GPU). The same arguments as <see cref="SoftmaxAttribute"/>.
/// </summary>
/// <remarks>
/// The generated code computes B = A − max − log Σ_{s1} exp(A − max) for every batch index, stably.
/// <code>
/// [LogSoftmax(2, 1)]                     // [tokens, vocabulary]: log-probabilities over the vocabulary
/// public static partial class TokenLogits { }
/// </code>
/// </remarks>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class LogSoftmaxAttribute : Attribute
{
    /// <summary>Declares a log-softmax over <paramref name="axes"/> of a tensor of rank <paramref name="rank"/>.</summary>
    /// <param name="rank">The number of axes of the tensor, 1 to 8.</param>
    /// <param name="axes">The reduced axes s1, each in [0, rank), without repeats; the rest are batch axes s2.</param>
    public LogSoftmaxAttribute(int rank, params int[] axes)
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
