using System;

namespace SoftmaxGen.Samples.Attention;

/// <summary>The sizes of one attention problem: Q, K, V are [Batch, Heads, Sequence, HeadDim]; S and P are [Batch, Heads, Sequence, Sequence].</summary>
public readonly record struct AttentionShape(int Batch, int Heads, int Sequence, int HeadDim)
{
    public int Pairs => Batch * Heads;

    public int TokenElements => Pairs * Sequence * HeadDim;

    public int ScoreElements => Pairs * Sequence * Sequence;

    /// <summary>The shape of S and P, as the generated softmax takes it.</summary>
    public int[] ScoreShape => [Batch, Heads, Sequence, Sequence];

    /// <summary>1/√headDim, the scale of the scores.</summary>
    public double Scale => 1 / Math.Sqrt(HeadDim);

    public override string ToString() => $"[batch {Batch}, heads {Heads}, seq {Sequence}, headDim {HeadDim}]";
}
