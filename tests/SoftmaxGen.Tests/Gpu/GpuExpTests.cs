using System;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The kernels' exp computed by a kernel on the device, against Math.Exp with the bounds of <see cref="GpuMathTests"/>:
/// a backend may compile the arithmetic differently from .NET (CUDA's ptxas may fuse a multiply and an add, which
/// changes bits, not the bound), and subnormal results must survive it (no flush to zero).
/// </summary>
public abstract class GpuExpSuite(AcceleratorFixture fixture)
{
    [SkippableFact]
    public void FloatExpOnTheDeviceMatchesMathExp()
    {
        var x = ExpArguments.Float();
        ExpArguments.AssertClose(x, Run<float>(x, FloatExp));
    }

    [SkippableFact]
    public void DoubleExpOnTheDeviceMatchesMathExp()
    {
        var x = ExpArguments.Double();
        ExpArguments.AssertClose(x, Run<double>(x, DoubleExp));
    }

    /// <summary>
    /// The approximate exp as the launchers pick it for the accelerator: CUDA's ex2.approx (about 2 ulp) after the ln 2
    /// reduction, the portable 2^u elsewhere; held to 3 ulp.
    /// </summary>
    [SkippableFact]
    public void FastFloatExpOnTheDeviceMatchesMathExp()
    {
        var x = ExpArguments.Float();
        bool cuda = fixture.Accelerator?.AcceleratorType == AcceleratorType.Cuda;
        ExpArguments.AssertClose(x, Run<float>(x, cuda ? CudaFastFloatExp : PortableFastFloatExp), ulps: 3);
    }

    internal static void CudaFastFloatExp(Index1D i, ArrayView<float> x, ArrayView<float> y) => y[i] = GpuMath.FastExp<CudaExp2>(x[i]);

    internal static void PortableFastFloatExp(Index1D i, ArrayView<float> x, ArrayView<float> y) => y[i] = GpuMath.FastExp<PortableExp2>(x[i]);

    internal static void FloatExp(Index1D i, ArrayView<float> x, ArrayView<float> y) => y[i] = GpuMath.Exp(x[i]);

    internal static void DoubleExp(Index1D i, ArrayView<double> x, ArrayView<double> y) => y[i] = GpuMath.Exp(x[i]);

    /// <summary>y = exp(x) by a kernel, y poisoned with NaN first so that an element the kernel skips fails the bound.</summary>
    private T[] Run<T>(T[] x, Action<Index1D, ArrayView<T>, ArrayView<T>> kernel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Skip.If(fixture.Accelerator is null, "no device of this kind on this machine");
        var accelerator = fixture.Accelerator!;
        using var input = accelerator.Allocate1D(x);
        var poison = new T[x.Length];
        Array.Fill(poison, T.NaN);
        using var output = accelerator.Allocate1D(poison);
        accelerator.LoadAutoGroupedStreamKernel(kernel)((int)input.Length, input.View, output.View);
        accelerator.Synchronize();
        return output.GetAsArray1D();
    }
}

public sealed class CpuAcceleratorExp(CpuAcceleratorFixture fixture) : GpuExpSuite(fixture), IClassFixture<CpuAcceleratorFixture>
{
}

public sealed class CudaExp(CudaFixture fixture) : GpuExpSuite(fixture), IClassFixture<CudaFixture>
{
}
