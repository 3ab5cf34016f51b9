using System;

namespace SoftmaxGen.Samples.Attention;

/// <summary>
/// The sizes of one attention problem in this sample: Q, K, V are [Batch, Heads, Sequence, HeadDim]; S and P are
/// [Batch, Heads, Sequence, Sequence]. Every query head has its own key/value head and queries and keys have the same
/// length; <see cref="ToAttentionShape"/> gives the library's <see cref="AttentionShape"/> for the fused classes.
/// </summary>
public readonly record struct ProblemSize(int Batch, int Heads, int Sequence, int HeadDim)
{
    public int Pairs => Batch * Heads;

    public int TokenElements => Pairs * Sequence * HeadDim;

    public int ScoreElements => Pairs * Sequence * Sequence;

    /// <summary>The elements of the log-sum-exp the fused forward writes: one per query row.</summary>
    public int RowElements => Pairs * Sequence;

    /// <summary>The shape of S and P, as the generated softmax takes it.</summary>
    public int[] ScoreShape => [Batch, Heads, Sequence, Sequence];

    /// <summary>1/√headDim, the scale of the scores.</summary>
    public double Scale => 1 / Math.Sqrt(HeadDim);

    /// <summary>The same problem as the fused attention classes take it: as many key/value heads as heads, as many keys as queries.</summary>
    public AttentionShape ToAttentionShape() => new(Batch, Heads, KeyValueHeads: Heads, QueryLength: Sequence, KeyLength: Sequence);

    public override string ToString() => $"[batch {Batch}, heads {Heads}, seq {Sequence}, headDim {HeadDim}]";
}
