using System;
using System.Linq;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

[CollectionDefinition(nameof(ThreadCountCollection), DisableParallelization = true)]
public sealed class ThreadCountCollection
{
}

/// <summary>Results are bitwise identical for any number of threads: one thread against all, and against more than the cores.</summary>
/// <remarks><see cref="ThreadCountTestsOnVectorT"/> runs them again with the <c>Vector&lt;T&gt;</c> kernels.</remarks>
[Collection(nameof(ThreadCountCollection))]
public class ThreadCountTests
{
    /// <summary>Whether the CPU kernels take <c>Vector&lt;T&gt;</c> even where Vector512 is accelerated.</summary>
    protected virtual bool VectorOnly => false;

    [Theory]
    [InlineData("Rows", new[] { 512, 513 })]
    [InlineData("Columns", new[] { 700, 511 })]
    [InlineData("Channels", new[] { 8, 33, 40, 31 })]
    [InlineData("Scattered", new[] { 9, 30, 31, 37 })]
    [InlineData("SeedDouble", new[] { 6, 5, 17, 30, 19 })]
    [InlineData("EvenAxesHalf", new[] { 3, 4, 5, 6, 4, 7, 2, 21 })]
    [InlineData("OddAxes", new[] { 3, 4, 5, 6, 4, 7, 2, 21 })]
    public void ForwardAndBackwardDoNotDependOnTheThreadCount(string name, int[] shape) => KernelWidths.Run(VectorOnly, () =>
    {
        var target = Layouts.Get(name);
        int count = TestData.Count(shape);
        Assert.True(count >= 4 * CpuParallel.SerialElements, "the tensor must be large enough to be split between threads");
        var random = new Random(count);
        var a = TestData.Logits(random, count);
        var dB = TestData.Logits(random, 2 * count, 1);

        Checks.AssertThreadCountDoesNotMatter(target, a, dB, shape);
    });

    [Fact]
    public void MaxDegreeOfParallelismRefusesLessThanOne()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => CpuSoftmax.MaxDegreeOfParallelism = 0);
    }
}

/// <summary>The thread-count checks with the <c>Vector&lt;T&gt;</c> kernels, which AVX2 and ARM machines run.</summary>
[Collection(nameof(ThreadCountCollection))]
public sealed class ThreadCountTestsOnVectorT : ThreadCountTests
{
    protected override bool VectorOnly => true;
}
