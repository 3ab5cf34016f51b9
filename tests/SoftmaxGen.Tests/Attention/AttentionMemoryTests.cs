using System;
using System.Linq;
using SoftmaxGen;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Fused;

/// <summary>
/// The span overloads allocate little managed memory, and none that grows with the key length: nothing of size
/// queries × keys exists. Measured on one thread (MaxDegreeOfParallelism 1, so that the count is this thread's), after
/// a warm-up call of each size. Not a timing test.
/// </summary>
[Collection(nameof(ThreadCountCollection))]
public sealed class AttentionMemoryTests
{
    private const long Small = 16 * 1024;

    [Theory]
    [InlineData("AttentionFloat64Causal")]
    [InlineData("AttentionDouble16Causal")]
    [InlineData("AttentionHalf80")]
    public void ManagedAllocationsAreSmallAndDoNotGrowWithTheKeyLength(string kernelName)
    {
        var kernel = AttentionKernels.Get(kernelName);
        int saved = CpuSoftmax.MaxDegreeOfParallelism;
        try
        {
            CpuSoftmax.MaxDegreeOfParallelism = 1;
            var (forward512, backward512) = Measure(kernel, 512);
            var (forward8192, backward8192) = Measure(kernel, 8192);

            Assert.True(forward512 < Small && backward512 < Small, $"K = 512: forward {forward512} B, backward {backward512} B");
            Assert.True(forward8192 <= forward512, $"the forward allocated {forward512} B at K = 512 and {forward8192} B at K = 8192");
            Assert.True(backward8192 <= backward512, $"the backward allocated {backward512} B at K = 512 and {backward8192} B at K = 8192");
        }
        finally
        {
            CpuSoftmax.MaxDegreeOfParallelism = saved;
        }
    }

    private static (long Forward, long Backward) Measure(AttentionKernel kernel, int keys) => kernel switch
    {
        AttentionKernel<float> f => Measure(f, keys),
        AttentionKernel<double> d => Measure(d, keys),
        AttentionKernel<Half> h => Measure(h, keys),
        _ => throw new ArgumentException(kernel.Name),
    };

    private static (long Forward, long Backward) Measure<T>(AttentionKernel<T> kernel, int keys)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var shape = new AttentionShape(1, 2, 1, 64, keys);
        var inputs = kernel.Inputs(seed: 1, shape);
        T[] q = AttentionKernel<T>.To(inputs.Q), k = AttentionKernel<T>.To(inputs.K), v = AttentionKernel<T>.To(inputs.V), dO = AttentionKernel<T>.To(inputs.DO);
        T[] o = new T[q.Length], dQ = new T[q.Length], dK = new T[k.Length], dV = new T[v.Length];
        var lse = new float[shape.Batch * shape.Heads * shape.QueryLength];
        var forward = kernel.Forward;
        var backward = kernel.Backward;
        float scale = kernel.Scale;

        forward(q, k, v, o, lse, shape, scale);
        backward(q, k, v, o, lse, dO, dQ, dK, dV, shape, scale);

        long before = GC.GetAllocatedBytesForCurrentThread();
        forward(q, k, v, o, lse, shape, scale);
        long afterForward = GC.GetAllocatedBytesForCurrentThread();
        backward(q, k, v, o, lse, dO, dQ, dK, dV, shape, scale);
        long afterBackward = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(lse.All(float.IsFinite), "the measured calls ran");
        return (afterForward - before, afterBackward - afterForward);
    }
}
