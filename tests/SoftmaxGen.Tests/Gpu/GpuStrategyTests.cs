using System;
using System.Linq;
using System.Threading.Tasks;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

[CollectionDefinition(nameof(GpuStrategyCollection), DisableParallelization = true)]
public sealed class GpuStrategyCollection
{
}

/// <summary>
/// Each kernel shape runs and is right: the warp kernel for short slices, the register row kernel for short aligned
/// rows (16-byte moves), the shared-memory kernel, the streamed
/// (online) kernel for slices too long for shared memory, the lanes kernels with and without shared memory; forward
/// and backward. One abstract suite,
/// one subclass per backend, like <see cref="GpuNumericsSuite"/>. The launch counters are per process, hence the
/// collection that runs alone.
/// </summary>
public abstract class GpuStrategySuite(AcceleratorFixture fixture)
{
    [SkippableTheory]
    [InlineData("Rows", new[] { 5, 12 }, "WarpRows", "WarpRows")] // aligned rows of whole 16-byte chunks: in registers, 16 bytes a move
    [InlineData("Rows", new[] { 5, 13 }, "Warp", "Warp")]
    [InlineData("Rows", new[] { 7, 132 }, "WarpRows", "WarpRows")] // 16 units of eight and a tail of 4: the most four lanes hold
    [InlineData("Rows", new[] { 3, 136 }, "WarpRows", "WarpRows")] // 17 units: more than a warp of four holds, two warps a row
    [InlineData("Rows", new[] { 5, 516 }, "WarpRows", "WarpRows")] // 64 units and a tail of 4: the four warps of a group of 16
    [InlineData("Rows", new[] { 3, 520 }, "Cached", "Cached")] // 65 units: more than a group of 16 holds
    [InlineData("Rows", new[] { 3, 700 }, "Cached", "Cached")]
    [InlineData("Rows", new[] { 2, 9000 }, "Cached", "Cached")] // backward: room for B's slice, not the cotangent's
    [InlineData("Rows", new[] { 2, 13000 }, "Streamed", "Streamed")]
    // 1 009 and 13 041 leave 113 elements past the last multiple of 128: with 16 threads a group (the CPU accelerator's
    // most) some threads have 7 elements left after the forward loops' eight-wide steps, so a bound that let an
    // eight-wide step start one element short would read past the slice. On CUDA, 1 009 has 128 threads (most take one
    // eight-wide step, the last fifteen a four-wide one and singles) and 13 041 has 512 (three eight-wide steps, then
    // singles).
    [InlineData("Rows", new[] { 3, 1009 }, "Cached", "Cached")]
    [InlineData("Rows", new[] { 3, 13041 }, "Streamed", "Streamed")]
    [InlineData("RowsDouble", new[] { 2, 6500 }, "Streamed", "Streamed")]
    // Half rows too long for floats (52 000 bytes) keep halves (26 000 bytes): the forward A as stored, the backward B.
    [InlineData("RowsHalf", new[] { 2, 13000 }, "Cached", "Cached")]
    [InlineData("RowsHalf", new[] { 2, 24400 }, "Cached", "Cached")]
    [InlineData("RowsHalf", new[] { 2, 24450 }, "Streamed", "Streamed")] // 48 900 bytes of halves: past 48 KB less the scratch
    [InlineData("ScatteredHalf", new[] { 50, 1, 2, 301 }, "Streamed", "Cached")] // only the row kernel keeps A as stored
    [InlineData("Scattered", new[] { 40, 2, 3, 320 }, "Streamed", "Streamed")]
    [InlineData("Scattered", new[] { 2500, 1, 2, 5 }, "Streamed", "Streamed")] // runs of 5: each step of a thread crosses runs
    [InlineData("Scattered", new[] { 3, 40, 5, 70 }, "WarpCached", "WarpCached")] // 3 runs of 70: a warp's share of shared memory
    [InlineData("Scattered", new[] { 50, 2, 3, 70 }, "Cached", "Cached")] // 3 500 floats: past a warp's share
    [InlineData("Channels", new[] { 2, 13, 30, 30 }, "LanesCached", "LanesCached")]
    [InlineData("ChannelsDouble", new[] { 3, 5, 4, 9 }, "LanesCached", "LanesCached")]
    [InlineData("Channels", new[] { 2, 2000, 3, 3 }, "Lanes", "Lanes")]
    [InlineData("LogRows", new[] { 5, 12 }, "WarpRows", "WarpRows")]
    [InlineData("LogRows", new[] { 5, 11 }, "Warp", "Warp")]
    [InlineData("RowsDouble", new[] { 9, 34 }, "WarpRows", "WarpRows")]
    [InlineData("RowsHalf", new[] { 6, 24 }, "WarpRows", "WarpRows")]
    [InlineData("LogRows", new[] { 3, 1009 }, "Cached", "Cached")]
    [InlineData("LogRows", new[] { 2, 13000 }, "Streamed", "Streamed")]
    [InlineData("LogRowsHalf", new[] { 2, 13000 }, "Cached", "Cached")]
    [InlineData("LogScattered", new[] { 3, 40, 5, 70 }, "WarpCached", "WarpCached")]
    [InlineData("LogChannels", new[] { 2, 13, 30, 30 }, "LanesCached", "LanesCached")]
    [InlineData("LogChannelsDouble", new[] { 2, 2000, 3, 3 }, "Lanes", "Lanes")]
    public void EachKernelShapeRunsAndMatchesTheReference(string name, int[] shape, string forwardKernel, string backwardKernel) =>
        RunsAndMatchesTheReference(name, shape, forwardKernel, backwardKernel);

    /// <summary>
    /// The backward kernels that read B from device memory (streamed slices, lanes without shared memory) take the
    /// cotangents four at a time: blocks of 1, 2, 3 and 4, alone and after full ones; run lengths that are not a multiple
    /// of four (the loops' tails); in place too (dA the same memory as dB), which must give the same bits.
    /// </summary>
    [SkippableTheory]
    [InlineData("Rows", 1, "Streamed")]
    [InlineData("Rows", 3, "Streamed")]
    [InlineData("Rows", 4, "Streamed")]
    [InlineData("RowsDouble", 6, "Streamed")]
    [InlineData("Scattered", 9, "Streamed")]
    [InlineData("Channels", 2, "Lanes")]
    [InlineData("Channels", 5, "Lanes")]
    [InlineData("Channels", 7, "Lanes")]
    [InlineData("ChannelsHalf", 3, "Lanes")]
    [InlineData("ChannelsDouble", 4, "Lanes")]
    [InlineData("LogRows", 3, "Streamed")]
    [InlineData("LogChannels", 5, "Lanes")]
    public void BackwardReadingBFromMemoryTakesAnyNumberOfCotangents(string name, int cotangents, string kernel)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        // Past shared memory: slices of 13 001 floats, 7 001 doubles, 21 000 floats; lanes of 2 001 channels.
        int[] shape = name switch
        {
            "Scattered" => [300, 1, 2, 70],
            "RowsDouble" => [2, 7001],
            "Rows" or "LogRows" => [2, 13001],
            _ => [2, 2001, 3, 3],
        };
        int count = TestData.Count(shape);
        var random = new Random(cotangents);
        var b = target.Round(Checks.ForwardReference(target, TestData.Logits(random, count), shape));
        var dB = target.Round(TestData.Logits(random, cotangents * count, 1));
        var strategy = Enum.Parse<GpuStrategy>(kernel);
        long before = EngineDiagnostics.Launched(strategy);
        var dA = target.Backward(b, dB, shape).Value;
        Assert.Equal(before + 1, EngineDiagnostics.Launched(strategy));
        Checks.AssertBackwardClose(target, b, dB, dA, shape, $"{name} × {cotangents}");

        var inPlace = target.BackwardInPlace(b, dB, shape);
        Assert.True(dA.AsSpan().SequenceEqual(inPlace), $"{name} × {cotangents}: in place differs from out of place");
    }

    protected Accelerator Accelerator
    {
        get
        {
            Skip.If(fixture.Accelerator is null, "no device of this kind on this machine");
            return fixture.Accelerator!;
        }
    }

    protected void RunsAndMatchesTheReference(string name, int[] shape, string forwardKernel, string backwardKernel)
    {
        var forward = Enum.Parse<GpuStrategy>(forwardKernel);
        var backward = Enum.Parse<GpuStrategy>(backwardKernel);
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        var random = new Random(count);
        var a = target.Round(TestData.Logits(random, count));
        var dB = target.Round(TestData.Logits(random, 2 * count, 1));

        long before = EngineDiagnostics.Launched(forward);
        var b = target.Forward(a, shape).Value;
        Assert.Equal(before + 1, EngineDiagnostics.Launched(forward));
        Checks.AssertForwardClose(target, a, b, shape, $"{name} forward");

        var rounded = target.Round(b);
        before = EngineDiagnostics.Launched(backward);
        var dA = target.Backward(rounded, dB, shape).Value;
        Assert.Equal(before + 1, EngineDiagnostics.Launched(backward));
        Checks.AssertBackwardClose(target, rounded, dB, dA, shape, $"{name} backward");
    }
}

[Collection(nameof(GpuStrategyCollection))]
public sealed class CpuAcceleratorStrategies(CpuAcceleratorFixture fixture) : GpuStrategySuite(fixture), IClassFixture<CpuAcceleratorFixture>
{
}

/// <summary>
/// On a CUDA device, also tensors with more slices than one launch has groups (the grid is capped at four times the
/// groups the device keeps in flight: on an H100, 4 224 groups of 256 threads or 16 896 of 64), so that every kernel's
/// loop over its slices strides past the grid; and slices of odd lengths far past shared memory.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class CudaStrategies(CudaFixture fixture) : GpuStrategySuite(fixture), IClassFixture<CudaFixture>
{
    [SkippableTheory]
    [InlineData("Rows", new[] { 40000, 40 }, "WarpRows", "WarpRows")]
    [InlineData("RowsHalf", new[] { 40000, 100 }, "Warp", "Warp")]
    [InlineData("Rows", new[] { 17000, 200 }, "WarpRows", "WarpRows")] // 25 units of eight: 8 lanes a row, 4 rows a warp
    [InlineData("Rows", new[] { 17000, 1028 }, "WarpRows", "WarpRows")] // 128 units and a tail of 4: a whole warp a row
    [InlineData("Rows", new[] { 17000, 1036 }, "WarpRows", "WarpRows")] // 129 units: past a warp's registers, two warps a row
    [InlineData("RowsDouble", new[] { 17000, 200 }, "WarpRows", "WarpRows")]
    [InlineData("RowsDouble", new[] { 17000, 1030 }, "WarpRows", "WarpRows")]
    [InlineData("Rows", new[] { 5000, 8196 }, "WarpRows", "WarpRows")] // 1 024 units and a tail of 4: eight warps a row
    [InlineData("RowsHalf", new[] { 5000, 8192 }, "WarpRows", "WarpRows")]
    [InlineData("RowsDouble", new[] { 5000, 8194 }, "WarpRows", "WarpRows")]
    [InlineData("Rows", new[] { 2000, 8200 }, "Cached", "Cached")] // 1 025 units: past eight warps' registers
    [InlineData("Rows", new[] { 200, 20000 }, "Cached", "Cached")] // 80 KB: past 48 KB, within the opt-in maximum of compute capability 7.0 and later
    [InlineData("RowsHalf", new[] { 300, 10000 }, "Cached", "Cached")]
    [InlineData("Scattered", new[] { 10, 900, 20, 21 }, "WarpCached", "WarpCached")]
    [InlineData("Scattered", new[] { 32, 40, 300, 32 }, "WarpCached", "WarpCached")] // 32 runs of 32, a warp each: 4 KB of a warp's 6 KB
    [InlineData("ScatteredHalf", new[] { 32, 40, 300, 32 }, "WarpCached", "WarpCached")]
    [InlineData("Scattered", new[] { 80, 300, 2, 21 }, "Cached", "Cached")] // 1 680 floats: past a warp's 1 536
    [InlineData("Rows", new[] { 6, 300001 }, "Streamed", "Streamed")]
    [InlineData("Scattered", new[] { 100, 3, 4, 700 }, "Streamed", "Streamed")]
    [InlineData("Channels", new[] { 8, 300, 41, 37 }, "Lanes", "Lanes")]
    [InlineData("Channels", new[] { 4, 64, 99, 101 }, "LanesCached", "LanesCached")]
    [InlineData("Columns", new[] { 2, 1100001 }, "LanesCached", "LanesCached")]
    [InlineData("LogRows", new[] { 40000, 41 }, "Warp", "Warp")]
    [InlineData("LogRowsHalf", new[] { 300, 10000 }, "Cached", "Cached")]
    [InlineData("LogRows", new[] { 6, 300001 }, "Streamed", "Streamed")]
    [InlineData("LogChannels", new[] { 8, 300, 41, 37 }, "Lanes", "Lanes")]
    public void LargeTensorsRunAndMatchTheReference(string name, int[] shape, string forwardKernel, string backwardKernel) =>
        RunsAndMatchesTheReference(name, shape, forwardKernel, backwardKernel);
}

/// <summary>
/// The kernel cache, the launch choice where the launch counters cannot tell (whether a cached backward pass keeps the
/// cotangent too), and a CPU device with NVIDIA's warp of 32 so that the 32-wide reductions run here too.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class GpuStrategyTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    [Fact]
    public void KernelsAreLoadedOncePerAcceleratorAndDroppedWithIt()
    {
        using var context = Context.Create(builder => builder.CPU());
        var accelerator = context.CreateCPUAccelerator(0);
        var target = Layouts.GetGpu("Channels", accelerator);
        var shape = new[] { 2, 3, 4, 5 };
        var a = TestData.Logits(new Random(5), TestData.Count(shape));

        Assert.Equal(0, EngineDiagnostics.KernelsLoaded(accelerator));
        var first = target.Forward(a, shape).Value;
        Assert.Equal(1, EngineDiagnostics.KernelsLoaded(accelerator));
        Parallel.For(0, 8, _ => Assert.Equal(first, target.Forward(a, shape).Value));
        Assert.Equal(1, EngineDiagnostics.KernelsLoaded(accelerator));

        accelerator.Dispose();
        Assert.Equal(0, EngineDiagnostics.KernelsLoaded(accelerator));
    }

    [Theory]
    [InlineData(700, true, 1400)] // B's slice and a cotangent's: 5.6 KB
    [InlineData(6000, true, 12000)] // 48 KB: just fits
    [InlineData(6200, false, 6200)] // both would not fit (49.6 KB): B's slice only
    [InlineData(12000, false, 12000)]
    public void ABackwardPassKeepsTheCotangentInSharedMemoryOnlyWhereBothFit(int length, bool cotangentCached, int sharedElements)
    {
        var layout = new SoftmaxGen.Generated.SoftmaxGen.Tests.Rows_Layout([3, length]);
        var launch = GpuLaunch.Choose(fixture.Accelerator!, layout, sizeof(float), sizeof(float), backward: true);
        Assert.Equal(GpuStrategy.Cached, launch.Strategy);
        Assert.Equal(cotangentCached, launch.CotangentCached);
        Assert.Equal(sharedElements, launch.SharedElements);

        var forward = GpuLaunch.Choose(fixture.Accelerator!, layout, sizeof(float), sizeof(float), backward: false);
        Assert.Equal((GpuStrategy.Cached, false, length), (forward.Strategy, forward.CotangentCached, forward.SharedElements));
    }

    /// <summary>
    /// A Half backward pass keeps B and the cotangent as stored, 2 bytes an element: both fit up to 12 224 halves (48 KB
    /// less the scratch of 64 floats), B's alone up to 24 448; the forward keeps floats, 12 224 of them, and past that A
    /// as stored, up to 24 448 too.
    /// </summary>
    [Theory]
    [InlineData(6200, true, 12400, false)]    // both: 24 800 bytes (as floats, B's slice alone)
    [InlineData(12224, true, 24448, false)]   // both: 48 896 bytes, just within
    [InlineData(12225, false, 12225, true)]
    [InlineData(24448, false, 24448, true)]
    public void AHalfBackwardPassKeepsTheCotangentAsStoredWhereBothFit(int length, bool cotangentCached, int sharedElements, bool forwardStored)
    {
        var layout = new SoftmaxGen.Generated.SoftmaxGen.Tests.RowsHalf_Layout([3, length]);
        var launch = GpuLaunch.Choose(fixture.Accelerator!, layout, sizeof(float), 2, backward: true);
        Assert.Equal((GpuStrategy.Cached, cotangentCached, sharedElements), (launch.Strategy, launch.CotangentCached, launch.SharedElements));

        var forward = GpuLaunch.Choose(fixture.Accelerator!, layout, sizeof(float), 2, backward: false);
        Assert.Equal((GpuStrategy.Cached, forwardStored, length), (forward.Strategy, forward.CacheStored, forward.SharedElements));
    }

    [Theory]
    [InlineData("Rows", new[] { 3, 20 })]
    [InlineData("Rows", new[] { 3, 300 })]
    [InlineData("Rows", new[] { 2, 13000 })]
    [InlineData("Seed", new[] { 2, 2, 3, 5, 7 })]
    [InlineData("ScatteredDouble", new[] { 3, 5, 6, 33 })]
    [InlineData("EvenAxesHalf", new[] { 2, 1, 3, 2, 2, 1, 2, 35 })]
    public void ThirtyTwoWideWarpsGiveTheSameResults(string name, int[] shape)
    {
        using var context = Context.Create(builder => builder.CPU(CPUDevice.Nvidia));
        using var accelerator = context.CreateCPUAccelerator(0);
        Assert.Equal(32, accelerator.WarpSize);
        var target = Layouts.GetGpu(name, accelerator);
        int count = TestData.Count(shape);
        var random = new Random(count);
        var a = target.Round(TestData.Logits(random, count));
        var b = target.Forward(a, shape).Value;
        Checks.AssertClose(Reference.Forward(a, shape, target.Axes), b, Checks.Tolerance(target, Checks.SliceLength(target, shape)), 4 * target.Tiny, $"{name} forward, warp 32");
        var dB = target.Round(TestData.Logits(random, count, 1));
        var dA = target.Backward(target.Round(b), dB, shape).Value;
        var expected = Reference.Backward(target.Round(b), dB, shape, target.Axes);
        Checks.AssertClose(expected, dA, 64 * target.Epsilon, 1e-6, $"{name} backward, warp 32");
    }
}

/// <summary>What a context must offer: nothing special, except that double data needs real 64-bit arithmetic.</summary>
public sealed class GpuContextTests
{
    [Fact]
    public void ADoubleSoftmaxRefusesAContextThatComputesDoublesAsFloats()
    {
        using var context = Context.Create(builder => builder.CPU().Math(MathMode.Fast32BitOnly));
        using var accelerator = context.CreateCPUAccelerator(0);
        var target = Layouts.GetGpu("RowsDouble", accelerator);
        var shape = new[] { 3, 5 };
        var outcome = target.Forward(TestData.Logits(new Random(1), 15), shape);
        var error = Assert.IsType<InvalidOperationException>(outcome.Error);
        Assert.Contains("Fast32BitOnly", error.Message);
        Assert.Contains("Context.Create", error.Message);
        Assert.All(outcome.Output, value => Assert.True(double.IsNaN(value), "nothing may be written"));

        // float data is fine in such a context.
        var single = Layouts.GetGpu("Rows", accelerator).Forward(TestData.Logits(new Random(1), 15), shape);
        Assert.Null(single.Error);
    }
}
