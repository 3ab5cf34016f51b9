using System;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The stream overloads on a stream of the caller's own (the numerical suite calls the accelerator ones), and views that
/// live on another accelerator than the stream's.
/// </summary>
public sealed class GpuStreamTests
{
    private static readonly int[] Shape = [3, 5, 2, 2]; // NCHW: 12 slices of 5 channels

    [Fact]
    public void TheStreamOverloadsOnAStreamOfOurOwnMatchTheAcceleratorOnes()
    {
        using var context = Context.Create(builder => builder.CPU());
        using var accelerator = context.CreateCPUAccelerator(0);
        using var stream = accelerator.CreateStream();
        var a = Array.ConvertAll(TestData.Logits(new Random(3), 60), value => (float)value);
        var dB = Array.ConvertAll(TestData.Logits(new Random(4), 120, 1), value => (float)value);
        using var aBuffer = accelerator.Allocate1D(a);
        using var bBuffer = accelerator.Allocate1D<float>(60);
        using var dBBuffer = accelerator.Allocate1D(dB);
        using var dABuffer = accelerator.Allocate1D<float>(120);
        using var jacobianBuffer = accelerator.Allocate1D<float>(3600);

        Channels.Forward(accelerator, aBuffer.View, bBuffer.View, Shape);
        Channels.Backward(accelerator, bBuffer.View, dBBuffer.View, dABuffer.View, Shape);
        Channels.Jacobian(accelerator, bBuffer.View, jacobianBuffer.View, Shape);
        accelerator.Synchronize();
        var (b, dA, jacobian) = (bBuffer.GetAsArray1D(), dABuffer.GetAsArray1D(), jacobianBuffer.GetAsArray1D());

        bBuffer.MemSetToZero();
        dABuffer.MemSetToZero();
        jacobianBuffer.MemSetToZero();
        accelerator.Synchronize();
        Channels.Forward(stream, aBuffer.View, bBuffer.View, Shape);
        Channels.Backward(stream, bBuffer.View, dBBuffer.View, dABuffer.View, Shape);
        Channels.Jacobian(stream, bBuffer.View, jacobianBuffer.View, Shape);
        stream.Synchronize();

        Assert.Equal(b, bBuffer.GetAsArray1D());
        Assert.Equal(dA, dABuffer.GetAsArray1D());
        Assert.Equal(jacobian, jacobianBuffer.GetAsArray1D());
        Assert.Contains(jacobian, value => value != 0);
    }

    [Fact]
    public void ViewsOnAnotherAcceleratorAreRefusedBeforeAnythingRuns()
    {
        using var context = Context.Create(builder => builder.CPU());
        using var here = context.CreateCPUAccelerator(0);
        using var there = context.CreateCPUAccelerator(0);
        using var a = there.Allocate1D<float>(60);
        using var b = here.Allocate1D<float>(60);
        using var jacobian = here.Allocate1D<float>(3600);
        jacobian.MemSetToZero();
        here.Synchronize();

        var forward = Assert.Throws<ArgumentException>(() => Channels.Forward(here, a.View, b.View, Shape));
        Assert.Equal("a", forward.ParamName);
        Assert.Contains("lives on", forward.Message);
        var backward = Assert.Throws<ArgumentException>(() => Channels.Backward(here, b.View, a.View, b.View, Shape));
        Assert.Equal("dB", backward.ParamName);
        var refused = Assert.Throws<ArgumentException>(() => Channels.Jacobian(here, a.View, jacobian.View, Shape));
        Assert.Equal("b", refused.ParamName);
        Assert.Contains("lives on", refused.Message);
        Assert.All(jacobian.GetAsArray1D(), value => Assert.Equal(0f, value));
    }

    /// <summary>
    /// A slice within 8 192 elements of int.MaxValue would wrap the kernels' int indices: refused, naming the shape,
    /// before any kernel runs (the views here are far too short for the layout, so a launch would fail otherwise).
    /// </summary>
    [Fact]
    public void ASliceTooLongForTheKernelsIndicesIsRefusedBeforeAnythingRuns()
    {
        using var context = Context.Create(builder => builder.CPU());
        using var accelerator = context.CreateCPUAccelerator(0);
        using var a = accelerator.Allocate1D(new float[] { 1f, 2f, 3f, 4f });
        using var b = accelerator.Allocate1D(new[] { float.NaN, float.NaN, float.NaN, float.NaN });
        var layout = new SoftmaxGen.Generated.SoftmaxGen.Tests.Rows_Layout([1, GpuKernels.MaxSliceLength + 1]);

        var forward = Assert.Throws<ArgumentException>(() => GpuSoftmax.Forward(accelerator.DefaultStream, a.View, default, default, b.View, layout, 1f, SoftmaxOperation.Softmax));
        Assert.Equal("shape", forward.ParamName);
        Assert.Contains("too long for the GPU kernels", forward.Message);
        var backward = Assert.Throws<ArgumentException>(() => GpuSoftmax.Backward(accelerator.DefaultStream, a.View, a.View, b.View, 1, layout, 1f, SoftmaxOperation.Softmax));
        Assert.Equal("shape", backward.ParamName);
        var logSumExp = Assert.Throws<ArgumentException>(() => GpuSoftmax.LogSumExp(accelerator.DefaultStream, a.View, default, default, b.View, layout, 1f));
        Assert.Equal("shape", logSumExp.ParamName);
        accelerator.Synchronize();
        Assert.All(b.GetAsArray1D(), value => Assert.True(float.IsNaN(value)));
        Assert.Equal(int.MaxValue - 8192, GpuKernels.MaxSliceLength);
    }
}
