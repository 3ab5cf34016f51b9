using System;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using SoftmaxGen.Generated.SoftmaxGen.Tests;
using SoftmaxGen.Runtime;
using Xunit;
using Half = System.Half;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The cached backward kernels keep Half slices as stored, 2 bytes an element, on ILGPU's CPU accelerator (48 KB a
/// group less 256 bytes of scratch: 24 448 halves, or 12 224 of B and as many of the cotangent): slices too long for a
/// float cache take them, rows (<see cref="GpuKernels.BackwardRows"/>) and slices of several runs
/// (<see cref="GpuKernels.BackwardSlicesCached"/>), with the cotangent kept beside B where both fit; they agree with
/// the float64 reference and, bit for bit, with the same kernel reading B from device memory
/// (<see cref="GpuKernels.BackwardRows"/> with nothing cached) or the streamed kernel
/// (<see cref="GpuKernels.BackwardSlicesGlobal"/>), whose sums take the same order on the same group. Forward rows
/// too long for a cache of floats keep A as stored (<see cref="GpuKernels.ForwardRowsCachedAsStored"/>), with the bits
/// of the kernel that keeps floats.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class GpuHalfCacheTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private Accelerator Accelerator => fixture.Accelerator!;

    [Theory]
    [InlineData("RowsHalf", new[] { 2, 12000 }, 2, true)]        // both: 48 000 bytes of halves (96 000 as floats)
    [InlineData("RowsHalf", new[] { 2, 13000 }, 1, false)]       // B alone: 26 000 bytes (52 000 as floats: streamed)
    [InlineData("RowsHalf", new[] { 2, 24400 }, 3, false)]       // B alone: 48 800 bytes, just within
    [InlineData("LogRowsHalf", new[] { 2, 20000 }, 2, false)]
    [InlineData("ScatteredHalf", new[] { 40, 1, 2, 300 }, 2, true)]  // 12 000 in 40 runs: both
    [InlineData("ScatteredHalf", new[] { 50, 1, 2, 301 }, 1, false)] // 15 050: B alone
    [InlineData("LogScatteredHalf", new[] { 70, 1, 2, 300 }, 3, false)]
    public void HalfSlicesTooLongForAFloatCacheTakeTheCachedBackward(string name, int[] shape, int cotangents, bool cotangentCached)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        int length = Checks.SliceLength(target, shape);
        var random = new Random(count + cotangents);
        var b = target.Round(Checks.ForwardReference(target, TestData.Logits(random, count), shape));
        var dB = target.Round(TestData.Logits(random, cotangents * count, 1));
        bool rows = name.Contains("Rows", StringComparison.Ordinal);

        IGpuSoftmaxLayout layout = name switch
        {
            "RowsHalf" => new RowsHalf_Layout(shape),
            "LogRowsHalf" => new LogRowsHalf_Layout(shape),
            "ScatteredHalf" => new ScatteredHalf_Layout(shape),
            _ => new LogScatteredHalf_Layout(shape),
        };
        var launch = GpuLaunch.Choose(Accelerator, layout, sizeof(float), 2, backward: true);
        Assert.Equal((GpuStrategy.Cached, cotangentCached, (cotangentCached ? 2 : 1) * length, false), (launch.Strategy, launch.CotangentCached, launch.SharedElements, launch.SharedOptIn));
        // Kept as floats, the slice would stream, or B's would go alone.
        var asFloats = GpuLaunch.Choose(Accelerator, layout, sizeof(float), sizeof(float), backward: true);
        Assert.True(asFloats.Strategy == GpuStrategy.Streamed || (cotangentCached && !asFloats.CotangentCached), $"{name}: {asFloats}");

        long before = EngineDiagnostics.Launched(GpuStrategy.Cached);
        long rowsBefore = EngineDiagnostics.RowLaunches;
        var dA = Backward(name, b, dB, shape, 1f);
        Assert.Equal(before + 1, EngineDiagnostics.Launched(GpuStrategy.Cached));
        Assert.Equal(rowsBefore + (rows ? 1 : 0), EngineDiagnostics.RowLaunches);
        Checks.AssertBackwardClose(target, b, dB, dA.Select(value => (double)value).ToArray(), shape, $"{name} × {cotangents}");

        // The same data with B read from device memory in both passes: the same sums in the same order.
        var fromMemory = rows
            ? RowsFromMemory(name, b, dB, shape, cotangents, launch)
            : SlicesFromMemory(name, b, dB, shape, cotangents, launch);
        Assert.Equal(Bits(fromMemory), Bits(dA));
    }

    /// <summary>
    /// Half forward rows too long for floats in shared memory (12 224 on the CPU accelerator) whose halves fit (up to
    /// 24 448) keep A as stored (<see cref="GpuKernels.ForwardRowsCachedAsStored"/>): the output, poisoned with NaN
    /// before the call, agrees with the float64 reference and, within one unit in the last place of Half (its sums
    /// are grouped as two passes, not as an online pass), with <see cref="GpuKernels.ForwardRowsOnline"/> on the same
    /// groups. Past 24 448 halves the rows stream.
    /// </summary>
    [Theory]
    [InlineData("RowsHalf", 12_232, 0.75f)]   // just past floats (48 928 bytes of them)
    [InlineData("RowsHalf", 24_448, 1f)]      // 48 896 bytes of halves, just within
    [InlineData("LogRowsHalf", 12_232, 1f)]
    [InlineData("LogRowsHalf", 20_000, -0.5f)]
    [InlineData("RowsHalf", 24_456, 1f)]      // past halves too: streamed
    public void HalfForwardRowsTooLongForAFloatCacheKeepAAsStored(string name, int length, float scale)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [3, length];
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(length), count));
        IGpuSoftmaxLayout layout = name == "RowsHalf" ? new RowsHalf_Layout(shape) : new LogRowsHalf_Layout(shape);
        var launch = GpuLaunch.Choose(Accelerator, layout, sizeof(float), 2, backward: false);
        bool stored = length <= 24_448;
        Assert.Equal((stored ? GpuStrategy.Cached : GpuStrategy.Streamed, stored, stored ? length : 0, false), (launch.Strategy, launch.CacheStored, launch.SharedElements, launch.SharedOptIn));

        long before = EngineDiagnostics.Launched(launch.Strategy);
        long rowsBefore = EngineDiagnostics.RowLaunches;
        var b = Forward(name, a, shape, scale);
        Assert.Equal(before + 1, EngineDiagnostics.Launched(launch.Strategy));
        Assert.Equal(rowsBefore + 1, EngineDiagnostics.RowLaunches);
        Checks.AssertForwardClose(target.WithScale(scale), a, b.Select(value => (double)value).ToArray(), shape, $"{name} {length}");

        var online = RowsKernel(name, shape, a, scale, launch, stored: null);
        for (int i = 0; i < count; i++)
        {
            Assert.True(Math.Abs(BitConverter.HalfToInt16Bits(b[i]) - BitConverter.HalfToInt16Bits(online[i])) <= 1, $"{name} {length} [{i}]: {b[i]} against the online kernel's {online[i]}");
        }
    }

    /// <summary>
    /// Keeping A as stored gives the bits of keeping floats: the logits recomputed from the cache are those the first
    /// pass loaded, and the sums take the same order. Both row kernels on the same rows, groups and scale, rows short
    /// enough for floats.
    /// </summary>
    [Theory]
    [InlineData("RowsHalf", 4_096, 0.75f)]
    [InlineData("RowsHalf", 1_000, -1.5f)]
    [InlineData("LogRowsHalf", 4_096, 1f)]
    [InlineData("LogRowsHalf", 2_008, 3f)]
    public void KeepingAAsStoredGivesTheBitsOfKeepingFloats(string name, int length, float scale)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [5, length];
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(length + 1), count));
        IGpuSoftmaxLayout layout = name == "RowsHalf" ? new RowsHalf_Layout(shape) : new LogRowsHalf_Layout(shape);
        var launch = GpuLaunch.Choose(Accelerator, layout, sizeof(float), 2, backward: false);
        Assert.Equal((GpuStrategy.Cached, false), (launch.Strategy, launch.CacheStored));

        var floats = RowsKernel(name, shape, a, scale, launch, stored: false);
        var halves = RowsKernel(name, shape, a, scale, launch, stored: true);
        Assert.Equal(Bits(floats), Bits(halves));
        Assert.Equal(Bits(floats), Bits(Forward(name, a, shape, scale)));
        Checks.AssertForwardClose(target.WithScale(scale), a, halves.Select(value => (double)value).ToArray(), shape, $"{name} {length}");
    }

    /// <summary>
    /// The Half forward row kernel that keeps A as stored copies it to shared memory and reads it back 16 bits at a
    /// time (<c>st.shared.b16</c>, <c>ld.shared.b16</c>: eight stores a unit, eight loads a unit in each of the sum and
    /// output passes), with A's and B's 16-byte moves, with and without options, for SM_70, SM_80 and SM_90: the only
    /// 32-bit shared accesses are the group reductions' scratch.
    /// </summary>
    [Theory]
    [InlineData(typeof(RowsHalf_Layout), typeof(Softmax))]
    [InlineData(typeof(LogRowsHalf_Layout), typeof(LogSoftmax))]
    [InlineData(typeof(AttentionHalf_Layout), typeof(Softmax))]
    public void TheHalfForwardRowKernelKeepingAAsStoredMovesSixteenBitsOfSharedMemory(Type layout, Type operation)
    {
        using var context = Context.Create(builder => builder.CPU());
        foreach (var (architecture, instructionSet) in new[] { (CudaArchitecture.SM_70, CudaInstructionSet.ISA_60), (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70), (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78) })
        {
            using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            string ptx = Ptx(backend, typeof(ILGPU.Half), typeof(GpuHalf), layout, operation, "ForwardRowsCachedAsStored");
            string what = $"{layout.Name} ForwardRowsCachedAsStored {architecture}";
            Assert.True(Count(ptx, "st.shared.b16") >= 8, $"{what}: {Count(ptx, "st.shared.b16")} 16-bit shared stores");
            Assert.True(Count(ptx, "ld.shared.b16") >= 16, $"{what}: {Count(ptx, "ld.shared.b16")} 16-bit shared loads");
            Assert.True(Count(ptx, "st.shared.f32") <= 2, $"{what}: {Count(ptx, "st.shared.f32")} 32-bit shared stores");
            Assert.True(Count(ptx, "ld.shared.f32") <= 4, $"{what}: {Count(ptx, "ld.shared.f32")} 32-bit shared loads");
            Assert.True(Regex.IsMatch(ptx, @"^\s*ld(\.global)?\.v4\.b32\s", RegexOptions.Multiline), $"{what}: no 16-byte load");
            Assert.True(Regex.IsMatch(ptx, @"^\s*st(\.global)?\.v4\.b32\s", RegexOptions.Multiline), $"{what}: no 16-byte store");
            Assert.DoesNotContain(".local", ptx);
        }
    }

    /// <summary>
    /// The Half backward kernels copy B and the cotangent to shared memory and read them back 16 bits at a time
    /// (<c>st.shared.b16</c>, <c>ld.shared.b16</c>), for SM_70, SM_80 and SM_90: the only 32-bit shared accesses left are
    /// the group reduction's scratch (one store and one load; none in the warp kernel). The float kernels have no 16-bit
    /// shared access, and the Half forward kernels keep floats (logits, then exponentials).
    /// </summary>
    [Theory]
    [InlineData(typeof(RowsHalf_Layout), "BackwardRows")]
    [InlineData(typeof(RowsHalf_Layout), "BackwardSlicesCached")]
    [InlineData(typeof(ScatteredHalf_Layout), "BackwardSlicesCached")]
    [InlineData(typeof(ScatteredHalf_Layout), "BackwardSlicesWarpCached")]
    [InlineData(typeof(LogScatteredHalf_Layout), "BackwardSlicesWarpCached")]
    public void TheHalfBackwardKernelsMoveSixteenBitsOfSharedMemory(Type layout, string kernel)
    {
        var floatLayout = layout == typeof(RowsHalf_Layout) ? typeof(Rows_Layout) : layout == typeof(ScatteredHalf_Layout) ? typeof(Scattered_Layout) : typeof(LogScattered_Layout);
        var operation = layout == typeof(LogScatteredHalf_Layout) ? typeof(LogSoftmax) : typeof(Softmax);
        using var context = Context.Create(builder => builder.CPU());
        foreach (var (architecture, instructionSet) in new[] { (CudaArchitecture.SM_70, CudaInstructionSet.ISA_60), (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70), (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78) })
        {
            using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            string ptx = Ptx(backend, typeof(ILGPU.Half), typeof(GpuHalf), layout, operation, kernel);
            string what = $"{layout.Name} {kernel} {architecture}";
            // Four of B and four of the cotangent a step of the slice kernels; eight of each a unit of the row kernel.
            Assert.True(Count(ptx, "st.shared.b16") >= 8, $"{what}: {Count(ptx, "st.shared.b16")} 16-bit shared stores");
            Assert.True(Count(ptx, "ld.shared.b16") >= 8, $"{what}: {Count(ptx, "ld.shared.b16")} 16-bit shared loads");
            int scratch = kernel.Contains("Warp", StringComparison.Ordinal) ? 0 : 1;
            Assert.True(Count(ptx, "st.shared.f32") <= scratch, $"{what}: {Count(ptx, "st.shared.f32")} 32-bit shared stores");
            Assert.True(Count(ptx, "ld.shared.f32") <= scratch, $"{what}: {Count(ptx, "ld.shared.f32")} 32-bit shared loads");
            Assert.DoesNotContain(".local", ptx);

            string single = Ptx(backend, typeof(float), typeof(GpuSingle), floatLayout, operation, kernel);
            Assert.Equal(0, Count(single, "st.shared.b16") + Count(single, "ld.shared.b16"));
            Assert.True(Count(single, "st.shared.f32") >= 8, $"{floatLayout.Name} {kernel} {architecture}: float cache");

            string forward = Ptx(backend, typeof(ILGPU.Half), typeof(GpuHalf), layout, operation, kernel.Contains("Rows", StringComparison.Ordinal) ? "ForwardRowsCached" : kernel.Replace("Backward", "Forward", StringComparison.Ordinal));
            Assert.Equal(0, Count(forward, "st.shared.b16") + Count(forward, "ld.shared.b16"));
        }
    }

    private Half[] Forward(string name, double[] a, int[] shape, float scale)
    {
        using var x = Accelerator.Allocate1D(a.Select(value => (Half)value).ToArray());
        using var y = Accelerator.Allocate1D(Enumerable.Repeat(Half.NaN, a.Length).ToArray());
        GpuForwardMethod<Half> forward = name == "RowsHalf" ? RowsHalf.Forward : LogRowsHalf.Forward;
        forward(Accelerator, x.View, y.View, shape, scale);
        Accelerator.Synchronize();
        return y.GetAsArray1D();
    }

    /// <summary>
    /// A forward row kernel on the launch's groups: <see cref="GpuKernels.ForwardRowsCachedAsStored"/>
    /// (<paramref name="stored"/>), <see cref="GpuKernels.ForwardRowsCached"/> (not), or, null,
    /// <see cref="GpuKernels.ForwardRowsOnline"/>.
    /// </summary>
    private Half[] RowsKernel(string name, int[] shape, double[] a, float scale, GpuLaunch launch, bool? stored) => name == "RowsHalf"
        ? RowsKernel<RowsHalf_Layout, Softmax>(new RowsHalf_Layout(shape), a, scale, launch, stored)
        : RowsKernel<LogRowsHalf_Layout, LogSoftmax>(new LogRowsHalf_Layout(shape), a, scale, launch, stored);

    private Half[] RowsKernel<TLayout, TOp>(TLayout layout, double[] a, float scale, GpuLaunch launch, bool? stored)
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var kernel = Accelerator.LoadKernel<ArrayView<ILGPU.Half>, ArrayView<ILGPU.Half>, TLayout, GpuInputLoads<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, TLayout>>(stored switch
        {
            true => GpuKernels.ForwardRowsCachedAsStored<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, TLayout, TOp>,
            false => GpuKernels.ForwardRowsCached<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, TLayout, TOp>,
            null => GpuKernels.ForwardRowsOnline<ILGPU.Half, float, GpuInputLoads<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, TLayout>, GpuFloatMath<GpuExp>, TLayout, TOp>,
        });
        var config = stored switch
        {
            true => new KernelConfig(launch.Groups, launch.GroupSize, SharedMemoryConfig.RequestDynamic<ILGPU.Half>(layout.SliceLength)),
            false => new KernelConfig(launch.Groups, launch.GroupSize, SharedMemoryConfig.RequestDynamic<float>(layout.SliceLength)),
            null => new KernelConfig(launch.Groups, launch.GroupSize),
        };
        var input = new GpuInputLoads<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, TLayout>(scale, default, default, layout, 0, 0);
        using var x = Accelerator.Allocate1D(a.Select(value => (Half)value).ToArray());
        using var y = Accelerator.Allocate1D(Enumerable.Repeat(Half.NaN, a.Length).ToArray());
        kernel(Accelerator.DefaultStream, config, ((ArrayView<Half>)x.View).Cast<ILGPU.Half>(), ((ArrayView<Half>)y.View).Cast<ILGPU.Half>(), layout, input);
        Accelerator.Synchronize();
        return y.GetAsArray1D();
    }

    private static int[] Bits(Half[] values) => values.Select(value => (int)BitConverter.HalfToInt16Bits(value)).ToArray();

    private static int Count(string ptx, string instruction) =>
        Regex.Matches(ptx, @"^\s*" + Regex.Escape(instruction) + @"\s", RegexOptions.Multiline).Count;

    private Half[] Backward(string name, double[] b, double[] dB, int[] shape, float scale)
    {
        using var x = Accelerator.Allocate1D(b.Select(value => (Half)value).ToArray());
        using var d = Accelerator.Allocate1D(dB.Select(value => (Half)value).ToArray());
        using var y = Accelerator.Allocate1D(Enumerable.Repeat(Half.NaN, dB.Length).ToArray());
        GpuBackwardMethod<Half> backward = name switch
        {
            "RowsHalf" => RowsHalf.Backward,
            "LogRowsHalf" => LogRowsHalf.Backward,
            "ScatteredHalf" => ScatteredHalf.Backward,
            _ => LogScatteredHalf.Backward,
        };
        backward(Accelerator, x.View, d.View, y.View, shape, scale);
        Accelerator.Synchronize();
        return y.GetAsArray1D();
    }

    /// <summary><see cref="GpuKernels.BackwardRows"/> with nothing cached, on the launch the launcher took.</summary>
    private Half[] RowsFromMemory(string name, double[] b, double[] dB, int[] shape, int cotangents, GpuLaunch launch) => name == "RowsHalf"
        ? RowsFromMemory<RowsHalf_Layout, Softmax>(new RowsHalf_Layout(shape), b, dB, cotangents, launch)
        : RowsFromMemory<LogRowsHalf_Layout, LogSoftmax>(new LogRowsHalf_Layout(shape), b, dB, cotangents, launch);

    private Half[] RowsFromMemory<TLayout, TOp>(TLayout layout, double[] b, double[] dB, int cotangents, GpuLaunch launch)
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var kernel = Accelerator.LoadKernel<ArrayView<ILGPU.Half>, ArrayView<ILGPU.Half>, ArrayView<ILGPU.Half>, TLayout, int, int, float>(
            GpuKernels.BackwardRows<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, TLayout, TOp>);
        return Launch(b, dB, (x, d, y) => kernel(Accelerator.DefaultStream, new KernelConfig(launch.Groups, launch.GroupSize), x, d, y, layout, cotangents, 0, 1f));
    }

    /// <summary><see cref="GpuKernels.BackwardSlicesGlobal"/>, on the launch the launcher took.</summary>
    private Half[] SlicesFromMemory(string name, double[] b, double[] dB, int[] shape, int cotangents, GpuLaunch launch) => name == "ScatteredHalf"
        ? SlicesFromMemory<ScatteredHalf_Layout, Softmax>(new ScatteredHalf_Layout(shape), b, dB, cotangents, launch)
        : SlicesFromMemory<LogScatteredHalf_Layout, LogSoftmax>(new LogScatteredHalf_Layout(shape), b, dB, cotangents, launch);

    private Half[] SlicesFromMemory<TLayout, TOp>(TLayout layout, double[] b, double[] dB, int cotangents, GpuLaunch launch)
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var kernel = Accelerator.LoadKernel<ArrayView<ILGPU.Half>, ArrayView<ILGPU.Half>, ArrayView<ILGPU.Half>, TLayout, int, GpuScaledStores<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>>>(
            GpuKernels.BackwardSlicesGlobal<ILGPU.Half, float, GpuScaledStores<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>>, GpuFloatMath<GpuExp>, TLayout, TOp>);
        return Launch(b, dB, (x, d, y) => kernel(Accelerator.DefaultStream, new KernelConfig(launch.Groups, launch.GroupSize), x, d, y, layout, cotangents, new GpuScaledStores<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>>(1f)));
    }

    private Half[] Launch(double[] b, double[] dB, Action<ArrayView<ILGPU.Half>, ArrayView<ILGPU.Half>, ArrayView<ILGPU.Half>> run)
    {
        using var x = Accelerator.Allocate1D(b.Select(value => (Half)value).ToArray());
        using var d = Accelerator.Allocate1D(dB.Select(value => (Half)value).ToArray());
        using var y = Accelerator.Allocate1D(Enumerable.Repeat(Half.NaN, dB.Length).ToArray());
        run(((ArrayView<Half>)x.View).Cast<ILGPU.Half>(), ((ArrayView<Half>)d.View).Cast<ILGPU.Half>(), ((ArrayView<Half>)y.View).Cast<ILGPU.Half>());
        Accelerator.Synchronize();
        return y.GetAsArray1D();
    }

    private static string Ptx(PTXBackend backend, Type storage, Type element, Type layout, Type operation, string kernelName)
    {
        var launcher = typeof(GpuLauncher<,,,,,>).MakeGenericType(storage, typeof(float), element, typeof(GpuFloatMath<GpuExp>), layout, operation);
        var kernel = ((System.Collections.Generic.IReadOnlyList<Delegate>)launcher.GetProperty("Kernels", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)
            .Single(candidate => candidate.Method.Name == kernelName).Method;
        return ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
    }
}
