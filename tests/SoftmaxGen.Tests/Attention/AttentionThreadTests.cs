using System;
using SoftmaxGen;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Fused;

/// <summary>
/// Attention results are bitwise identical for one thread and for two, at both CPU vector widths, and each matches the
/// float64 reference. The thread count is process-wide: these run in the non-parallel thread-count collection.
/// </summary>
[Collection(nameof(ThreadCountCollection))]
public sealed class AttentionThreadTests
{
    [Theory]
    [InlineData("AttentionFloat64Causal", false)]
    [InlineData("AttentionFloat64Causal", true)]
    [InlineData("AttentionFloat256", false)]
    [InlineData("AttentionFloat256", true)]
    [InlineData("AttentionDouble16Causal", false)]
    [InlineData("AttentionDouble16Causal", true)]
    [InlineData("AttentionHalf80", false)]
    [InlineData("AttentionHalf80", true)]
    public void OneThreadAndTwoGiveTheSameBitsAtBothWidths(string kernelName, bool vectorOnly) => KernelWidths.Run(vectorOnly, () =>
    {
        var kernel = AttentionKernels.Get(kernelName);
        // Four key/value items (backward) and 16 or more query tiles (forward): enough work for two threads.
        var shape = new AttentionShape(2, 4, 2, 70, 130);
        Assert.True((long)shape.Batch * shape.Heads * shape.QueryLength * shape.KeyLength * Math.Max(1, kernel.HeadDim / 8) >= 4 * CpuParallel.SerialElements, "too small to be split");
        var inputs = kernel.Inputs(seed: 17, shape);
        int saved = CpuSoftmax.MaxDegreeOfParallelism;
        AttentionOutputs one, two;
        try
        {
            CpuSoftmax.MaxDegreeOfParallelism = 1;
            one = kernel.RunCpu(inputs, shape, kernel.Scale);
            CpuSoftmax.MaxDegreeOfParallelism = 2;
            two = kernel.RunCpu(inputs, shape, kernel.Scale);
        }
        finally
        {
            CpuSoftmax.MaxDegreeOfParallelism = saved;
        }

        AttentionChecks.BitwiseEqual(one, two, "one thread against two");
        AttentionChecks.AgainstReference(inputs, two, shape, kernel.HeadDim, kernel.Scale, kernel.Causal, kernel.CpuBounds);
    });
}
