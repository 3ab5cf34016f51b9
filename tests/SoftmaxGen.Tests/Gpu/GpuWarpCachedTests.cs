using System;
using System.Linq;
using System.Reflection;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime.Cuda;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using SoftmaxGen.Generated.SoftmaxGen.Tests;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The warp-per-slice kernels with the slice in shared memory (<see cref="GpuStrategy.WarpCached"/>) on ILGPU's CPU
/// accelerator (warps of 4, groups of 16: four warps, 12 KB of the 48 KB a warp, 3 072 floats or 1 536 doubles):
/// slices of several runs past a warp's registers take them, forward and backward (one to three cotangents, B's slice
/// and the cotangent's side by side or B's alone), for float, double and Half, softmax and log-softmax, with a bias or
/// a causal mask, and agree with the float64 reference; against the group kernel run with a group of one warp they give
/// the same bits.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class GpuWarpCachedTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private Accelerator Accelerator => fixture.Accelerator!;

    [Theory]
    [InlineData("Scattered", new[] { 2, 3, 5, 8 }, 1, "Warp")]             // 16 elements: a warp of four's registers
    [InlineData("Scattered", new[] { 3, 40, 5, 70 }, 1, "WarpCached")]     // 3 runs of 70
    [InlineData("Scattered", new[] { 32, 5, 3, 32 }, 2, "WarpCached")]     // 32 runs of 32: 1 024 elements
    [InlineData("Scattered", new[] { 40, 2, 3, 51 }, 3, "WarpCached")]     // 2 040: B's slice alone in the warp's share
    [InlineData("Scattered", new[] { 60, 2, 3, 51 }, 1, "WarpCached")]     // 3 060: just within the share
    [InlineData("Scattered", new[] { 60, 2, 3, 52 }, 1, "Cached")]         // 3 120: past it, a group
    [InlineData("Scattered", new[] { 41, 3, 2, 5 }, 2, "WarpCached")]      // runs of 5: a lane's steps cross runs
    [InlineData("ScatteredDouble", new[] { 30, 2, 3, 51 }, 2, "WarpCached")]
    [InlineData("ScatteredDouble", new[] { 30, 2, 3, 52 }, 1, "Cached")]   // 1 560 doubles: past the share
    [InlineData("ScatteredHalf", new[] { 32, 3, 2, 32 }, 2, "WarpCached")]
    [InlineData("Alternating", new[] { 3, 2, 4, 3, 7 }, 3, "WarpCached")]  // three reduced axes: 12 runs of 7
    [InlineData("LogScattered", new[] { 32, 3, 2, 32 }, 2, "WarpCached")]
    [InlineData("LogScatteredDouble", new[] { 9, 2, 3, 33 }, 1, "WarpCached")]
    [InlineData("LogScatteredHalf", new[] { 17, 2, 2, 19 }, 3, "WarpCached")]
    [InlineData("BiasedScattered", new[] { 20, 3, 2, 24 }, 2, "WarpCached")] // the bias through the forward loads
    [InlineData("CausalOuter", new[] { 2, 30, 30, 8 }, 1, "WarpCached")]   // the causal mask: whole runs excluded
    [InlineData("LogCausalOuter", new[] { 2, 24, 24, 9 }, 2, "WarpCached")]
    public void SlicesOfSeveralRunsTakeAWarpAndMatchTheReference(string name, int[] shape, int cotangents, string strategy)
    {
        var expected = Enum.Parse<GpuStrategy>(strategy);
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        var random = new Random(count + cotangents);
        var a = target.Round(TestData.Logits(random, count));
        var dB = target.Round(TestData.Logits(random, cotangents * count, 1));

        long before = EngineDiagnostics.Launched(expected);
        var b = target.Forward(a, shape).Value;
        Assert.Equal(before + 1, EngineDiagnostics.Launched(expected));
        Checks.AssertForwardClose(target, a, b, shape, $"{name} forward");

        var rounded = target.Round(b);
        before = EngineDiagnostics.Launched(expected);
        var dA = target.Backward(rounded, dB, shape).Value;
        Assert.Equal(before + 1, EngineDiagnostics.Launched(expected));
        Checks.AssertBackwardClose(target, rounded, dB, dA, shape, $"{name} backward × {cotangents}");
    }

    /// <summary>
    /// The warp kernels do <see cref="GpuKernels.ForwardSlicesCached"/>'s and <see cref="GpuKernels.BackwardSlicesCached"/>'s
    /// arithmetic with the warp for the group: launched with groups of one warp, whose second reduction step changes no
    /// bit, the group kernels give the same bits, forward and backward (with the cotangent in shared memory and without).
    /// </summary>
    [Theory]
    [InlineData(new[] { 32, 5, 3, 32 }, 0.75f, 1)]
    [InlineData(new[] { 30, 2, 3, 51 }, -1.5f, 3)]
    [InlineData(new[] { 40, 2, 3, 51 }, 2f, 2)]     // B's slice alone in shared memory
    [InlineData(new[] { 41, 3, 2, 5 }, 1f, 2)]
    public void TheWarpKernelsGiveTheGroupKernelsBitsOnAGroupOfOneWarp(int[] shape, float scale, int cotangents)
    {
        var layout = new Scattered_Layout(shape);
        var logLayout = new LogScattered_Layout(shape);
        int count = TestData.Count(shape);
        var random = new Random(count);
        var a = TestData.Logits(random, count).Select(value => (float)value).ToArray();
        var dB = TestData.Logits(random, cotangents * count, 1).Select(value => (float)value).ToArray();

        var warp = Forward(a, (x, y) => Scattered.Forward(Accelerator, x, y, shape, scale), GpuStrategy.WarpCached);
        var group = ForwardOnOneWarp<Scattered_Layout, Softmax>(a, layout, scale);
        Assert.Equal(Bits(group), Bits(warp));
        var logWarp = Forward(a, (x, y) => LogScattered.Forward(Accelerator, x, y, shape, scale), GpuStrategy.WarpCached);
        Assert.Equal(Bits(ForwardOnOneWarp<LogScattered_Layout, LogSoftmax>(a, logLayout, scale)), Bits(logWarp));

        var dA = Backward(warp, dB, (x, y, z) => Scattered.Backward(Accelerator, x, y, z, shape, scale));
        var cotangentCached = GpuLaunch.Choose(Accelerator, layout, sizeof(float), sizeof(float), backward: true).CotangentCached;
        Assert.Equal(Bits(BackwardOnOneWarp<Scattered_Layout, Softmax>(warp, dB, layout, cotangents, scale, cotangentCached)), Bits(dA));
        var logDA = Backward(logWarp, dB, (x, y, z) => LogScattered.Backward(Accelerator, x, y, z, shape, scale));
        Assert.Equal(Bits(BackwardOnOneWarp<LogScattered_Layout, LogSoftmax>(logWarp, dB, logLayout, cotangents, scale, cotangentCached)), Bits(logDA));
    }

    /// <summary>The cotangent's slice goes beside B's where both fit a warp's share: B's alone past half of it.</summary>
    [Theory]
    [InlineData(new[] { 60, 2, 1, 25 }, true)]   // 1 500 floats: 12 000 bytes for both, of 12 288
    [InlineData(new[] { 60, 2, 1, 26 }, false)]  // 1 560: 12 480 for both
    public void TheBackwardWarpKernelKeepsTheCotangentWhereBothFit(int[] shape, bool cotangentCached)
    {
        var layout = new Scattered_Layout(shape);
        var launch = GpuLaunch.Choose(Accelerator, layout, sizeof(float), sizeof(float), backward: true);
        Assert.Equal((GpuStrategy.WarpCached, cotangentCached), (launch.Strategy, launch.CotangentCached));
        Assert.Equal(launch.GroupSize / Accelerator.WarpSize * layout.SliceLength * (cotangentCached ? 2 : 1), launch.SharedElements);
        BackwardMatchesTheReference("Scattered", shape, 2);
    }

    /// <summary>On a CPU device with NVIDIA's warp of 32: 32-wide shuffles, runs of 32 loaded one a step.</summary>
    [Theory]
    [InlineData("Scattered", new[] { 32, 3, 2, 32 })]
    [InlineData("ScatteredDouble", new[] { 12, 2, 2, 45 })]
    [InlineData("LogScatteredHalf", new[] { 32, 2, 2, 32 })]
    public void ThirtyTwoWideWarpsTakeSlicesOfSeveralRuns(string name, int[] shape)
    {
        using var context = Context.Create(builder => builder.CPU(CPUDevice.Nvidia));
        using var accelerator = context.CreateCPUAccelerator(0);
        var target = Layouts.GetGpu(name, accelerator);
        int count = TestData.Count(shape);
        var random = new Random(count);
        var a = target.Round(TestData.Logits(random, count));
        var dB = target.Round(TestData.Logits(random, 2 * count, 1));

        long before = EngineDiagnostics.Launched(GpuStrategy.WarpCached);
        var b = target.Forward(a, shape).Value;
        var rounded = target.Round(b);
        var dA = target.Backward(rounded, dB, shape).Value;
        Assert.Equal(before + 2, EngineDiagnostics.Launched(GpuStrategy.WarpCached));
        Checks.AssertForwardClose(target, a, b, shape, $"{name} forward, warp 32");
        Checks.AssertBackwardClose(target, rounded, dB, dA, shape, $"{name} backward × 2, warp 32");
    }

    private static int[] Bits(float[] values) => values.Select(BitConverter.SingleToInt32Bits).ToArray();

    private void BackwardMatchesTheReference(string name, int[] shape, int cotangents)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        var random = new Random(count);
        var b = target.Round(Checks.ForwardReference(target, TestData.Logits(random, count), shape));
        var dB = target.Round(TestData.Logits(random, cotangents * count, 1));
        long before = EngineDiagnostics.Launched(GpuStrategy.WarpCached);
        var dA = target.Backward(b, dB, shape).Value;
        Assert.Equal(before + 1, EngineDiagnostics.Launched(GpuStrategy.WarpCached));
        Checks.AssertBackwardClose(target, b, dB, dA, shape, $"{name} backward × {cotangents}");
    }

    private float[] Forward(float[] a, Action<ArrayView<float>, ArrayView<float>> forward, GpuStrategy strategy)
    {
        using var x = Accelerator.Allocate1D(a);
        using var y = Accelerator.Allocate1D(Enumerable.Repeat(float.NaN, a.Length).ToArray());
        long before = EngineDiagnostics.Launched(strategy);
        forward(x.View, y.View);
        Accelerator.Synchronize();
        Assert.Equal(before + 1, EngineDiagnostics.Launched(strategy));
        return y.GetAsArray1D();
    }

    private float[] Backward(float[] b, float[] dB, Action<ArrayView<float>, ArrayView<float>, ArrayView<float>> backward)
    {
        using var x = Accelerator.Allocate1D(b);
        using var d = Accelerator.Allocate1D(dB);
        using var y = Accelerator.Allocate1D(Enumerable.Repeat(float.NaN, dB.Length).ToArray());
        long before = EngineDiagnostics.Launched(GpuStrategy.WarpCached);
        backward(x.View, d.View, y.View);
        Accelerator.Synchronize();
        Assert.Equal(before + 1, EngineDiagnostics.Launched(GpuStrategy.WarpCached));
        return y.GetAsArray1D();
    }

    /// <summary>The group kernel, a group of one warp per slice.</summary>
    private float[] ForwardOnOneWarp<TLayout, TOp>(float[] a, TLayout layout, float scale)
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var kernel = Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, TLayout, GpuInputLoads<float, float, GpuSingle, GpuFloatMath<GpuExp>, TLayout>>(
            GpuKernels.ForwardSlicesCached<float, float, GpuInputLoads<float, float, GpuSingle, GpuFloatMath<GpuExp>, TLayout>, GpuFloatMath<GpuExp>, TLayout, TOp>);
        using var x = Accelerator.Allocate1D(a);
        using var y = Accelerator.Allocate1D(Enumerable.Repeat(float.NaN, a.Length).ToArray());
        var loads = new GpuInputLoads<float, float, GpuSingle, GpuFloatMath<GpuExp>, TLayout>(scale, default, default, layout, 0, 0);
        kernel(Accelerator.DefaultStream, OneWarpAGroup(layout, 1), x.View, y.View, layout, loads);
        Accelerator.Synchronize();
        return y.GetAsArray1D();
    }

    private float[] BackwardOnOneWarp<TLayout, TOp>(float[] b, float[] dB, TLayout layout, int cotangents, float scale, bool cotangentCached)
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var kernel = Accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, TLayout, int, int, GpuScaledStores<float, float, GpuSingle, GpuFloatMath<GpuExp>>>(
            GpuKernels.BackwardSlicesCached<float, float, GpuScaledStores<float, float, GpuSingle, GpuFloatMath<GpuExp>>, GpuFloatMath<GpuExp>, TLayout, TOp>);
        using var x = Accelerator.Allocate1D(b);
        using var d = Accelerator.Allocate1D(dB);
        using var y = Accelerator.Allocate1D(Enumerable.Repeat(float.NaN, dB.Length).ToArray());
        kernel(Accelerator.DefaultStream, OneWarpAGroup(layout, cotangentCached ? 2 : 1), x.View, d.View, y.View, layout, cotangents, cotangentCached ? 1 : 0, new GpuScaledStores<float, float, GpuSingle, GpuFloatMath<GpuExp>>(scale));
        Accelerator.Synchronize();
        return y.GetAsArray1D();
    }

    private KernelConfig OneWarpAGroup<TLayout>(TLayout layout, int slicesKept)
        where TLayout : struct, IGpuSoftmaxLayout
        => new(layout.SliceCount, Accelerator.WarpSize, SharedMemoryConfig.RequestDynamic<float>(slicesKept * layout.SliceLength));
}

/// <summary>
/// The warp kernels compile, for SM_70, SM_80 and SM_90, to PTX with warp shuffles and no barrier (the group kernels of
/// the same layouts have <c>bar.sync</c>: the check tells the two apart) and no local memory; with and without a bias.
/// Their loads are of one element: a slice's runs need not start on 16-byte boundaries.
/// </summary>
public sealed class GpuWarpCachedPtxTests : IDisposable
{
    private readonly Context _context = Context.Create(builder => builder.CPU());

    [Theory]
    [InlineData(typeof(float), typeof(Scattered_Layout))]
    [InlineData(typeof(double), typeof(ScatteredDouble_Layout))]
    [InlineData(typeof(System.Half), typeof(ScatteredHalf_Layout))]
    [InlineData(typeof(float), typeof(BiasedScattered_Layout))]
    public void TheWarpKernelsReduceWithShufflesAndNoBarrier(Type element, Type layout)
    {
        var (storage, accumulator, type, math) = element == typeof(float) ? (typeof(float), typeof(float), typeof(GpuSingle), typeof(GpuFloatMath<GpuExp>))
            : element == typeof(double) ? (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath))
            : (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), typeof(GpuFloatMath<GpuExp>));
        var launcher = typeof(GpuLauncher<,,,,,>).MakeGenericType(storage, accumulator, type, math, layout, typeof(Softmax));
        var kernels = ((System.Collections.Generic.IReadOnlyList<Delegate>)launcher.GetProperty("Kernels", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)
            .Select(kernel => kernel.Method).ToList();
        foreach (var (architecture, instructionSet) in new[] { (CudaArchitecture.SM_70, CudaInstructionSet.ISA_60), (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70), (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78) })
        {
            using var backend = new PTXBackend(_context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            foreach (var (warp, group) in new[] { ("ForwardSlicesWarpCached", "ForwardSlicesCached"), ("BackwardSlicesWarpCached", "BackwardSlicesCached") })
            {
                string ptx = Ptx(backend, kernels.Single(kernel => kernel.Name == warp));
                string what = $"{element.Name} {layout.Name} {warp} {architecture}";
                Assert.True(ptx.Contains("shfl.sync.bfly", StringComparison.Ordinal), $"{what}: no shuffle");
                Assert.False(ptx.Contains("bar.sync", StringComparison.Ordinal) || ptx.Contains("barrier", StringComparison.Ordinal), $"{what}: a barrier");
                Assert.False(ptx.Contains(".local", StringComparison.Ordinal), $"{what}: local memory");
                Assert.Contains("bar.sync", Ptx(backend, kernels.Single(kernel => kernel.Name == group)));
            }
        }
    }

    public void Dispose() => _context.Dispose();

    private static string Ptx(PTXBackend backend, MethodInfo kernel) =>
        ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
}
