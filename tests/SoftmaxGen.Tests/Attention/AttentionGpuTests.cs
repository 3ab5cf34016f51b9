using System;
using System.Diagnostics;
using ILGPU;
using ILGPU.Runtime;
using SoftmaxGen;
using SoftmaxGen.Tests.Gpu;
using Xunit;

namespace SoftmaxGen.Tests.Fused;

/// <summary>
/// The ILGPU launchers of the attention classes (accelerator and stream overloads) against the float64 reference, with
/// the bounds of <see cref="AttentionBounds"/> (double: <see cref="AttentionBounds.DoubleGpu"/>, the backward taking the
/// float lse as given). Small shapes: ILGPU's CPU accelerator runs every thread one after another.
/// </summary>
public abstract class AttentionGpuSuite(AcceleratorFixture fixture)
{
    public static TheoryData<string, int, int, int, int, int> Cases() => new()
    {
        { "AttentionFloat1", 2, 1, 1, 3, 2 },
        { "AttentionFloat7Causal", 1, 4, 1, 9, 4 },
        { "AttentionFloat7Causal", 1, 2, 2, 3, 8 },
        { "AttentionFloat16", 2, 4, 2, 5, 7 },
        { "AttentionFloat64Causal", 1, 2, 1, 6, 6 },
        { "AttentionFloat256", 1, 2, 1, 3, 5 },
        { "AttentionDouble7", 1, 4, 2, 5, 6 },
        { "AttentionDouble16Causal", 1, 2, 2, 7, 3 },
        { "AttentionHalf16", 1, 4, 2, 5, 7 },
        { "AttentionHalf64Causal", 1, 2, 1, 4, 9 },
        { "AttentionHalf80", 1, 4, 1, 6, 3 },
    };

    private Accelerator Accelerator
    {
        get
        {
            Skip.If(fixture.Accelerator is null, "no device of this kind on this machine");
            return fixture.Accelerator!;
        }
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackwardMatchTheFloat64Reference(string kernelName, int batch, int heads, int keyValueHeads, int queries, int keys)
    {
        var accelerator = Accelerator;
        var kernel = AttentionKernels.Get(kernelName);
        var shape = new AttentionShape(batch, heads, keyValueHeads, queries, keys);
        var inputs = kernel.Inputs(seed: 100 + queries * 10 + keys, shape);

        var outputs = kernel.RunAccelerator(accelerator, inputs, shape, kernel.Scale);

        AttentionChecks.AgainstReference(inputs, outputs, shape, kernel.HeadDim, kernel.Scale, kernel.Causal, kernel.GpuBounds);
        AttentionChecks.QueriesWithoutKeysAreZero(outputs, shape, kernel.HeadDim, kernel.Causal);
    }

    /// <summary>
    /// The stream overloads on a stream of the caller's own give the bits of the accelerator overloads once the stream is
    /// synchronised; on a CUDA device the calls return before the kernels finish (they only enqueue).
    /// </summary>
    [SkippableFact]
    public void TheStreamOverloadsEnqueueOnTheGivenStream()
    {
        var accelerator = Accelerator;
        var kernel = AttentionKernels.Get<float>("AttentionFloat16");
        var shape = new AttentionShape(1, 2, 1, 5, 6);
        var inputs = kernel.Inputs(seed: 9, shape);
        var expected = kernel.RunAccelerator(accelerator, inputs, shape, kernel.Scale);

        using var stream = accelerator.CreateStream();
        using var q = accelerator.Allocate1D(AttentionKernel<float>.To(inputs.Q));
        using var k = accelerator.Allocate1D(AttentionKernel<float>.To(inputs.K));
        using var v = accelerator.Allocate1D(AttentionKernel<float>.To(inputs.V));
        using var dO = accelerator.Allocate1D(AttentionKernel<float>.To(inputs.DO));
        using var o = accelerator.Allocate1D(AttentionKernel<float>.Poisoned(inputs.Q.Length));
        using var lse = accelerator.Allocate1D(AttentionKernel<float>.Poisoned(10));
        using var dQ = accelerator.Allocate1D(AttentionKernel<float>.Poisoned(inputs.Q.Length));
        using var dK = accelerator.Allocate1D(AttentionKernel<float>.Poisoned(inputs.K.Length));
        using var dV = accelerator.Allocate1D(AttentionKernel<float>.Poisoned(inputs.V.Length));
        accelerator.Synchronize();
        kernel.ForwardStream(stream, q.View, k.View, v.View, o.View, lse.View, shape, kernel.Scale);
        kernel.BackwardStream(stream, q.View, k.View, v.View, o.View, lse.View, dO.View, dQ.View, dK.View, dV.View, shape, kernel.Scale);
        stream.Synchronize();
        var actual = new AttentionOutputs(
            AttentionKernel<float>.From(o.GetAsArray1D()), lse.GetAsArray1D(),
            AttentionKernel<float>.From(dQ.GetAsArray1D()), AttentionKernel<float>.From(dK.GetAsArray1D()), AttentionKernel<float>.From(dV.GetAsArray1D()));

        AttentionChecks.BitwiseEqual(expected, actual, "stream overloads against accelerator overloads");
        AttentionChecks.AgainstReference(inputs, actual, shape, kernel.HeadDim, kernel.Scale, kernel.Causal, kernel.GpuBounds);
    }

    /// <summary>
    /// On a CUDA device a forward of a few milliseconds returns to the caller before it finishes: the call takes a small
    /// part of the time the stream's synchronisation then waits. The CPU accelerator runs kernels inside the launch.
    /// </summary>
    [SkippableFact]
    public void OnCudaTheForwardReturnsBeforeTheKernelFinishes()
    {
        var accelerator = Accelerator;
        Skip.If(accelerator.AcceleratorType != AcceleratorType.Cuda, "only a CUDA device runs kernels asynchronously");
        var shape = new AttentionShape(1, 8, 8, 4096, 4096);
        using var stream = accelerator.CreateStream();
        using var q = accelerator.Allocate1D<float>(8 * 4096 * 64);
        using var k = accelerator.Allocate1D<float>(8 * 4096 * 64);
        using var v = accelerator.Allocate1D<float>(8 * 4096 * 64);
        using var o = accelerator.Allocate1D<float>(8 * 4096 * 64);
        using var lse = accelerator.Allocate1D<float>(8 * 4096);
        q.MemSetToZero();
        k.MemSetToZero();
        v.MemSetToZero();
        AttentionFloat64.Forward(stream, q.View, k.View, v.View, o.View, lse.View, shape, 0.125f); // loads the kernel
        stream.Synchronize();

        var call = Stopwatch.StartNew();
        AttentionFloat64.Forward(stream, q.View, k.View, v.View, o.View, lse.View, shape, 0.125f);
        call.Stop();
        var wait = Stopwatch.StartNew();
        stream.Synchronize();
        wait.Stop();

        Assert.True(wait.Elapsed > call.Elapsed, $"the call took {call.Elapsed.TotalMilliseconds} ms, the wait after it {wait.Elapsed.TotalMilliseconds} ms");
        Assert.All(lse.GetAsArray1D(), value => Assert.Equal(MathF.Log(4096), value, 3e-6f * MathF.Log(4096)));
    }
}

public sealed class CpuAcceleratorAttention(CpuAcceleratorFixture fixture) : AttentionGpuSuite(fixture), IClassFixture<CpuAcceleratorFixture>
{
}

public sealed class CudaAttention(CudaFixture fixture) : AttentionGpuSuite(fixture), IClassFixture<CudaFixture>
{
}
