using System;
using System.Linq;
using ILGPU.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// A class declared with ApproximateGpuExp runs other arithmetic than the same layout without it: on ILGPU's CPU
/// accelerator its exp is the portable 2^u of the approximate path, whose bits differ from the default polynomial's
/// for some elements, while both stay within the reference's bounds (the numerical suite runs the Fast* classes whole).
/// </summary>
public sealed class GpuApproximateExpTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    [Fact]
    public void TheOptionChangesTheExpTheKernelsCompute()
    {
        var accelerator = fixture.Accelerator!;
        int[] shape = [8, 257];
        var random = new Random(20261206);
        var a = Enumerable.Range(0, 8 * 257).Select(_ => (float)(random.NextDouble() * 40 - 20)).ToArray();

        var plain = Run(accelerator, a, (input, output) => Rows.Forward(accelerator, input, output, shape));
        var fast = Run(accelerator, a, (input, output) => FastRows.Forward(accelerator, input, output, shape));

        int differing = plain.Zip(fast).Count(pair => pair.First != pair.Second);
        Assert.True(differing > 0, "FastRows computed exactly what Rows did: the approximate exp was not used");
        var target = Layouts.GetGpu("FastRows", accelerator);
        Checks.AssertForwardClose(target, Array.ConvertAll(a, value => (double)value), Array.ConvertAll(fast, value => (double)value), shape, "FastRows forward");
    }

    private static float[] Run(Accelerator accelerator, float[] a, Action<ILGPU.ArrayView<float>, ILGPU.ArrayView<float>> forward)
    {
        using var input = accelerator.Allocate1D(a);
        using var output = accelerator.Allocate1D<float>(a.Length);
        forward(input.View, output.View);
        accelerator.Synchronize();
        return output.GetAsArray1D();
    }
}
