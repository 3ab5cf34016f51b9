using System;
using System.Linq;
using System.Numerics;
using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The row kernels (16-byte loads and stores) on ILGPU's CPU accelerator: the launcher takes them for aligned rows and
/// the element kernels otherwise (a view starting off a 16-byte boundary, a row length that is not a whole number of
/// 16 bytes), and both agree with the float64 reference; their lengths cover whole units of eight, a tail past the last
/// unit, and lengths that rule the row kernels out.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class GpuRowsTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private Accelerator Accelerator => fixture.Accelerator!;

    [Theory]
    // float: 1 024 (whole units of eight), 1 012 (a multiple of 4, not of 8: a tail of 4), 1 009 (not a multiple of 4).
    [InlineData("Rows", 1024, 0, true)]
    [InlineData("Rows", 1012, 0, true)]
    [InlineData("Rows", 1009, 0, false)]
    [InlineData("Rows", 1024, 1, false)]  // 4 bytes in: misaligned
    [InlineData("Rows", 1024, 4, true)]   // 16 bytes in: aligned
    [InlineData("Rows", 13000, 0, true)]  // past shared memory: the online kernel
    [InlineData("Rows", 13004, 2, false)]
    [InlineData("LogRows", 1012, 0, true)]
    [InlineData("LogRows", 13000, 0, true)]
    [InlineData("LogRows", 1012, 3, false)]
    // Half: 1 016 (a multiple of 8), 1 012 (of 4, not 8: 8 bytes short of a 16-byte row), 1 009.
    [InlineData("RowsHalf", 1016, 0, true)]
    [InlineData("RowsHalf", 1012, 0, false)]
    [InlineData("RowsHalf", 1016, 4, false)]  // 8 bytes in: misaligned
    [InlineData("RowsHalf", 1016, 8, true)]
    [InlineData("RowsHalf", 13000, 0, true)]
    [InlineData("LogRowsHalf", 13000, 0, true)]
    // double: 1 026 (a multiple of 2, not of 8: a tail of 2), 1 025 (odd), 6 500 (past shared memory).
    [InlineData("RowsDouble", 1026, 0, true)]
    [InlineData("RowsDouble", 1025, 0, false)]
    [InlineData("RowsDouble", 1026, 1, false)]
    [InlineData("RowsDouble", 6500, 0, true)]
    public void AlignedRowsTakeTheRowKernelsAndOthersTheElementKernels(string name, int length, int offset, bool rows)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [3, length];
        int count = TestData.Count(shape);
        var random = new Random(length + offset);
        var a = target.Round(TestData.Logits(random, count));
        var dB = target.Round(TestData.Logits(random, count, 1)); // one cotangent: rows past shared memory take the row kernel then
        double scale = 0.75;
        var scaled = target.WithScale(scale);

        long before = EngineDiagnostics.RowLaunches;
        var b = Run(name, Direction.Forward, offset, shape, (float)scale, a);
        Assert.Equal(before + (rows ? 1 : 0), EngineDiagnostics.RowLaunches);
        Checks.AssertForwardClose(scaled, a, b, shape, $"{name} forward, offset {offset}");

        var rounded = target.Round(b);
        before = EngineDiagnostics.RowLaunches;
        var dA = Run(name, Direction.Backward, offset, shape, (float)scale, rounded, dB);
        Assert.Equal(before + (rows ? 1 : 0), EngineDiagnostics.RowLaunches);
        Checks.AssertBackwardClose(scaled, rounded, dB, dA, shape, $"{name} backward, offset {offset}");
    }

    /// <summary>
    /// The backward row kernel's three ways of holding B (and the cotangent) against the element kernels on the same
    /// data: within the reference's bounds, and with one cotangent and one thread's worth of rows per group the same
    /// bits where the sum order is the same.
    /// </summary>
    [Theory]
    [InlineData("Rows", 700, 1)]      // B and the cotangent in shared memory
    [InlineData("Rows", 9000, 2)]     // B alone in shared memory
    [InlineData("Rows", 13000, 1)]    // B from device memory, one cotangent
    [InlineData("Rows", 13000, 3)]    // several cotangents past shared memory: the element kernel
    [InlineData("RowsHalf", 9000, 2)]
    [InlineData("RowsDouble", 6500, 1)]
    public void TheBackwardRowKernelAgreesWithTheElementKernel(string name, int length, int cotangents)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [2, length];
        int count = TestData.Count(shape);
        var random = new Random(length * cotangents);
        var b = target.Round(Checks.ForwardReference(target, TestData.Logits(random, count), shape));
        var dB = target.Round(TestData.Logits(random, cotangents * count, 1));

        long before = EngineDiagnostics.RowLaunches;
        var aligned = Run(name, Direction.Backward, 0, shape, 1f, b, dB);
        Assert.Equal(before + (length == 13000 && cotangents > 1 ? 0 : 1), EngineDiagnostics.RowLaunches);
        var misaligned = Run(name, Direction.Backward, 1, shape, 1f, b, dB);
        Assert.Equal(before + (length == 13000 && cotangents > 1 ? 0 : 1), EngineDiagnostics.RowLaunches);
        Checks.AssertBackwardClose(target, b, dB, aligned, shape, $"{name} rows × {cotangents}");
        Checks.AssertBackwardClose(target, b, dB, misaligned, shape, $"{name} elements × {cotangents}");
    }

    /// <summary>
    /// Aligned rows of up to <see cref="GpuKernels.WarpRowUnits"/> units of eight a lane take the register row
    /// kernels, forward and backward (three cotangents): on the CPU accelerator's warp of four, rows of up to 16 units
    /// (128 elements, and a tail of fewer than eight) a warp, up to 64 units (512 elements and a tail) the four warps
    /// of its largest group, 16 threads, whose groups then take several rows each (seven rows, a grid of four groups
    /// of 16 or eight of 8); others the element warp kernel or the row kernels with shared memory. A negative scale
    /// checks that the lanes past a row stay -∞ once scaled.
    /// </summary>
    [Theory]
    [InlineData("Rows", 4, 0, 0.75, "WarpRows")]   // no whole unit: the tail alone
    [InlineData("Rows", 8, 0, 0.75, "WarpRows")]
    [InlineData("Rows", 12, 0, -0.5, "WarpRows")]
    [InlineData("Rows", 100, 0, 0.75, "WarpRows")] // 12 units and a tail of 4
    [InlineData("Rows", 128, 0, -1.25, "WarpRows")]
    [InlineData("Rows", 132, 0, 0.75, "WarpRows")] // 16 units and a tail of 4: the most a warp of four holds
    [InlineData("Rows", 132, 4, 0.75, "WarpRows")] // 16 bytes in: aligned
    [InlineData("Rows", 132, 1, 0.75, "Cached")]   // misaligned: the element kernels
    [InlineData("Rows", 12, 2, 0.75, "Warp")]
    [InlineData("Rows", 13, 0, 0.75, "Warp")]      // not a whole number of 16 bytes
    [InlineData("Rows", 136, 0, 0.75, "WarpRows")] // 17 units: 8 lanes, two warps a row
    [InlineData("Rows", 256, 0, -0.5, "WarpRows")]
    [InlineData("Rows", 300, 0, 0.75, "WarpRows")] // 37 units and a tail of 4: 16 lanes, four warps a row
    [InlineData("Rows", 516, 0, -1.25, "WarpRows")] // 64 units and a tail of 4: the most four warps of four hold
    [InlineData("Rows", 516, 4, 0.75, "WarpRows")]
    [InlineData("Rows", 516, 1, 0.75, "Cached")]
    [InlineData("Rows", 520, 0, 0.75, "Cached")]   // 65 units: the row kernel with shared memory
    [InlineData("LogRows", 100, 0, 0.75, "WarpRows")]
    [InlineData("LogRows", 4, 0, -2.0, "WarpRows")]
    [InlineData("LogRows", 300, 0, -0.5, "WarpRows")]
    [InlineData("RowsHalf", 8, 0, 0.75, "WarpRows")]
    [InlineData("RowsHalf", 120, 0, -0.5, "WarpRows")]
    [InlineData("RowsHalf", 128, 0, 0.75, "WarpRows")]
    [InlineData("RowsHalf", 136, 0, 0.75, "WarpRows")]
    [InlineData("RowsHalf", 512, 0, -0.5, "WarpRows")]
    [InlineData("RowsHalf", 12, 0, 0.75, "Warp")]  // 24 bytes
    [InlineData("LogRowsHalf", 64, 0, 0.75, "WarpRows")]
    [InlineData("LogRowsHalf", 264, 0, 0.75, "WarpRows")]
    [InlineData("RowsDouble", 2, 0, 0.75, "WarpRows")]
    [InlineData("RowsDouble", 34, 0, -0.5, "WarpRows")]
    [InlineData("RowsDouble", 6, 0, 0.75, "WarpRows")]    // a tail of 6: two elements on lanes 0 and 1
    [InlineData("RowsDouble", 38, 0, -0.5, "WarpRows")]
    [InlineData("RowsDouble", 130, 0, 0.75, "WarpRows")] // 16 units and a tail of 2
    [InlineData("RowsDouble", 130, 1, 0.75, "Cached")]
    [InlineData("RowsDouble", 138, 0, -0.5, "WarpRows")]
    [InlineData("RowsDouble", 514, 0, 0.75, "WarpRows")] // 64 units and a tail of 2
    [InlineData("RowsDouble", 15, 0, 0.75, "Warp")]
    public void AlignedRowsThatFitTheRegistersTakeTheRegisterRowKernels(string name, int length, int offset, double scale, string strategy)
    {
        var expected = Enum.Parse<GpuStrategy>(strategy);
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [7, length];
        int count = TestData.Count(shape);
        var random = new Random(length * 3 + offset);
        var a = target.Round(TestData.Logits(random, count));
        var dB = target.Round(TestData.Logits(random, 3 * count, 1));
        var scaled = target.WithScale(scale);

        long before = EngineDiagnostics.Launched(expected);
        var b = Run(name, Direction.Forward, offset, shape, (float)scale, a);
        Assert.Equal(before + 1, EngineDiagnostics.Launched(expected));
        Checks.AssertForwardClose(scaled, a, b, shape, $"{name} forward, length {length}, offset {offset}");

        var rounded = target.Round(b);
        before = EngineDiagnostics.Launched(expected);
        var dA = Run(name, Direction.Backward, offset, shape, (float)scale, rounded, dB);
        Assert.Equal(before + 1, EngineDiagnostics.Launched(expected));
        Checks.AssertBackwardClose(scaled, rounded, dB, dA, shape, $"{name} backward × 3, length {length}, offset {offset}");
    }

    /// <summary>
    /// On a CPU device with NVIDIA's warp of 32, rows take runs of 4, 8, 16 and 32 lanes (8, 4, 2 and 1 rows a warp),
    /// with row counts that leave the last warp's later runs past the last row, and 64, 128 and 256 lanes (2, 4 and 8
    /// warps a row, a group a row; 70 rows of 64 lanes and 18 of 256 are more than their grids of 64 and 16 groups,
    /// so that some groups take two rows).
    /// </summary>
    [Theory]
    [InlineData("Rows", 13, 20, 4)]
    [InlineData("Rows", 6, 200, 8)]
    [InlineData("Rows", 3, 500, 16)]
    [InlineData("Rows", 3, 1028, 32)]
    [InlineData("LogRows", 11, 36, 4)]
    [InlineData("RowsHalf", 5, 248, 8)]
    [InlineData("RowsDouble", 5, 302, 16)]
    [InlineData("Rows", 70, 1036, 64)]     // 129 units and a tail of 4
    [InlineData("LogRows", 3, 4096, 128)]
    [InlineData("RowsHalf", 3, 2056, 128)]
    [InlineData("Rows", 18, 8196, 256)]    // 1 024 units and a tail of 4: the most eight warps hold
    [InlineData("RowsDouble", 2, 8194, 256)]
    public void RunsOfLanesShareOrSpanThirtyTwoWideWarps(string name, int rows, int length, int lanes)
    {
        using var context = Context.Create(builder => builder.CPU(CPUDevice.Nvidia));
        using var accelerator = context.CreateCPUAccelerator(0);
        Assert.Equal(lanes, GpuLaunch.WarpRows(GpuDevice.Of(accelerator), rows, length)!.Value.Lanes);
        var target = Layouts.GetGpu(name, accelerator);
        int[] shape = [rows, length];
        int count = TestData.Count(shape);
        var random = new Random(count);
        var a = target.Round(TestData.Logits(random, count));
        var dB = target.Round(TestData.Logits(random, 2 * count, 1));

        long before = EngineDiagnostics.Launched(GpuStrategy.WarpRows);
        var b = target.Forward(a, shape).Value;
        Assert.Equal(before + 1, EngineDiagnostics.Launched(GpuStrategy.WarpRows));
        Checks.AssertForwardClose(target, a, b, shape, $"{name} forward, warp 32");

        var rounded = target.Round(b);
        var dA = target.Backward(rounded, dB, shape).Value;
        Assert.Equal(before + 2, EngineDiagnostics.Launched(GpuStrategy.WarpRows));
        Checks.AssertBackwardClose(target, rounded, dB, dA, shape, $"{name} backward × 2, warp 32");
    }

    /// <summary>
    /// Log-sum-exp over aligned rows: rows the registers of a warp or of a group's warps hold (on the CPU accelerator,
    /// up to 132 elements a warp of four, up to 516 four warps) take the register row kernel, longer ones the online row kernel, a group a row; a view of A off a
    /// 16-byte boundary, or a row that is not a whole number of 16 bytes, the element kernel. All agree with the float64
    /// reference; a negative scale checks that the lanes past a row stay -∞ once scaled.
    /// </summary>
    [Theory]
    [InlineData("Rows", 4, 0, -0.5, "WarpRows")]   // the tail alone
    [InlineData("Rows", 100, 0, 0.75, "WarpRows")] // 12 units and a tail of 4
    [InlineData("Rows", 132, 0, -1.25, "WarpRows")]
    [InlineData("Rows", 132, 4, 0.75, "WarpRows")] // 16 bytes in: aligned
    [InlineData("Rows", 132, 1, 0.75, "Elements")]
    [InlineData("Rows", 13, 0, 0.75, "Elements")]
    [InlineData("Rows", 136, 0, 0.75, "WarpRows")] // 17 units: two warps a row
    [InlineData("Rows", 516, 0, -0.5, "WarpRows")] // 64 units and a tail of 4: four warps a row
    [InlineData("Rows", 520, 0, 0.75, "Rows")]     // 65 units: the online row kernel
    [InlineData("Rows", 1012, 0, -0.5, "Rows")]
    [InlineData("Rows", 1012, 3, 0.75, "Elements")]
    [InlineData("LogRows", 100, 0, 0.75, "WarpRows")]
    [InlineData("RowsHalf", 8, 0, 0.75, "WarpRows")]
    [InlineData("RowsHalf", 128, 0, -0.5, "WarpRows")]
    [InlineData("RowsHalf", 512, 0, 0.75, "WarpRows")]
    [InlineData("RowsHalf", 1016, 0, 0.75, "Rows")]
    [InlineData("RowsHalf", 1016, 4, 0.75, "Elements")]
    [InlineData("RowsHalf", 12, 0, 0.75, "Elements")]
    [InlineData("RowsDouble", 2, 0, 0.75, "WarpRows")]
    [InlineData("RowsDouble", 38, 0, -0.5, "WarpRows")]
    [InlineData("RowsDouble", 130, 0, 0.75, "WarpRows")]
    [InlineData("RowsDouble", 258, 0, -0.5, "WarpRows")]
    [InlineData("RowsDouble", 1026, 0, 0.75, "Rows")]
    [InlineData("RowsDouble", 1025, 0, 0.75, "Elements")]
    public void AlignedRowsTakeTheRowLogSumExpKernels(string name, int length, int offset, double scale, string kernel)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [7, length];
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(length * 5 + offset), count));

        long rows = EngineDiagnostics.RowLaunches;
        long registers = EngineDiagnostics.Launched(GpuStrategy.WarpRows);
        var lse = Run(name, Direction.LogSumExp, offset, shape, (float)scale, a);
        Assert.Equal(rows + (kernel == "Elements" ? 0 : 1), EngineDiagnostics.RowLaunches);
        Assert.Equal(registers + (kernel == "WarpRows" ? 1 : 0), EngineDiagnostics.Launched(GpuStrategy.WarpRows));
        Checks.AssertLogSumExpClose(target.WithScale(scale), a, shape, lse, $"{name} logsumexp, length {length}, offset {offset}");
    }

    /// <summary>
    /// Log-sum-exp's special rows in registers and in the online pass: all -∞ gives -∞, a NaN NaN, a +∞ +∞, a +∞ with a
    /// NaN NaN whichever comes first in the row (the max of the two depends on their order), two +∞ +∞, some -∞ among
    /// finite values changes nothing but the sum; the other rows are unaffected.
    /// </summary>
    [Theory]
    [InlineData("Rows", 12)]
    [InlineData("Rows", 100)]
    [InlineData("Rows", 300)]
    [InlineData("Rows", 1012)]
    [InlineData("RowsHalf", 64)]
    [InlineData("RowsHalf", 512)]
    [InlineData("RowsHalf", 1016)]
    [InlineData("RowsDouble", 34)]
    [InlineData("RowsDouble", 138)]
    [InlineData("RowsDouble", 1026)]
    public void TheRowLogSumExpKernelsGiveSpecialRowsTheirValues(string name, int length)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [16, length];
        var random = new Random(length);
        var a = target.Round(TestData.Logits(random, TestData.Count(shape)));
        for (int row = 0; row < shape[0]; row++)
        {
            var span = a.AsSpan(row * length, length);
            switch (row % 8)
            {
                case 0:
                    span.Fill(double.NegativeInfinity);
                    break;
                case 1:
                    span[random.Next(length)] = double.NaN;
                    break;
                case 2:
                    span[random.Next(length)] = double.PositiveInfinity;
                    break;
                case 3:
                    span[0] = double.NaN;
                    span[^1] = double.PositiveInfinity;
                    break;
                case 4:
                    span[0] = double.PositiveInfinity;
                    span[^1] = double.NaN;
                    break;
                case 5:
                    for (int i = 0; i < length; i += 2) span[i] = double.NegativeInfinity;
                    break;
                case 6:
                    span[0] = double.PositiveInfinity;
                    span[^1] = double.PositiveInfinity;
                    break;
            }
        }

        long rows = EngineDiagnostics.RowLaunches;
        var lse = target.LogSumExp(a, shape).Value;
        Assert.Equal(rows + 1, EngineDiagnostics.RowLaunches);
        Checks.AssertLogSumExpClose(target, a, shape, lse, $"{name} logsumexp of special rows, length {length}");
    }

    private enum Direction
    {
        Forward,
        Backward,
        LogSumExp,
    }

    /// <summary>Runs a launcher on views that start <paramref name="offset"/> elements into their buffers.</summary>
    private double[] Run(string name, Direction direction, int offset, int[] shape, float scale, double[] first, double[]? second = null) => name switch
    {
        "Rows" => Run<float>(direction, offset, shape, scale, first, second, Rows.Forward, Rows.Backward, Rows.LogSumExp),
        "LogRows" => Run<float>(direction, offset, shape, scale, first, second, LogRows.Forward, LogRows.Backward, LogRows.LogSumExp),
        "RowsHalf" => Run<System.Half>(direction, offset, shape, scale, first, second, RowsHalf.Forward, RowsHalf.Backward, RowsHalf.LogSumExp),
        "LogRowsHalf" => Run<System.Half>(direction, offset, shape, scale, first, second, LogRowsHalf.Forward, LogRowsHalf.Backward, LogRowsHalf.LogSumExp),
        "RowsDouble" => Run<double>(direction, offset, shape, scale, first, second, RowsDouble.Forward, RowsDouble.Backward, RowsDouble.LogSumExp),
        _ => throw new ArgumentException(name, nameof(name)),
    };

    private double[] Run<T>(
        Direction direction, int offset, int[] shape, float scale, double[] first, double[]? second, GpuForwardMethod<T> forward, GpuBackwardMethod<T> backward, GpuLogSumExpMethod<T> logSumExp)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int length = direction switch
        {
            Direction.Forward => first.Length,
            Direction.Backward => second!.Length,
            _ => first.Length / shape[^1],
        };
        using var x = Upload(Elements<T>.From(first), offset);
        using var y = Upload(Elements<T>.From(second ?? []), offset);
        using var output = Upload(Elements<T>.Poisoned(length), offset);
        ArrayView<T> outputView = output.View.SubView(offset, length);
        if (direction == Direction.Forward)
        {
            forward(Accelerator, x.View.SubView(offset, first.Length), outputView, shape, scale);
        }
        else if (direction == Direction.LogSumExp)
        {
            logSumExp(Accelerator, x.View.SubView(offset, first.Length), outputView, shape, scale);
        }
        else
        {
            backward(Accelerator, x.View.SubView(offset, first.Length), y.View.SubView(offset, second!.Length), outputView, shape, scale);
        }

        Accelerator.Synchronize();
        return outputView.GetAsArray<T>().Select(double.CreateTruncating).ToArray();
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] values, int offset)
        where T : unmanaged
    {
        var buffer = Accelerator.Allocate1D<T>(values.Length + offset + 1);
        buffer.View.SubView(offset, values.Length).CopyFromCPU(values);
        return buffer;
    }
}

/// <summary>
/// The row kernels compile to PTX that moves 16 bytes per load and store (<c>.v4.f32</c> for float, <c>.v4.b32</c> for
/// Half, <c>.v2.f64</c> for double), for SM_70, SM_80 and SM_90. At ILGPU's default level (O1) the moves use generic
/// addresses (<c>ld.v4.f32</c>); at O2, whose address-space inference marks kernel views global, they are
/// <c>ld.global.v4.f32</c>. The element kernels of the same layouts have no vector move at all: the check tells the two
/// apart, so a row kernel that fell back to element loads fails it.
/// </summary>
public sealed class GpuRowsPtxTests : IDisposable
{
    private readonly Context _release = Context.Create(builder => builder.CPU());
    private readonly Context _o2 = Context.Create(builder => builder.CPU().Optimize(OptimizationLevel.O2));

    public static TheoryData<string, string> Cases() => new()
    {
        { "float", "v4.f32" },
        { "half", "v4.b32" },
        { "double", "v2.f64" },
    };

    [Theory, MemberData(nameof(Cases))]
    public void TheRowKernelsLoadAndStoreSixteenBytesAtATime(string element, string form)
    {
        foreach (var architecture in new[] { CudaArchitecture.SM_70, CudaArchitecture.SM_80, CudaArchitecture.SM_90 })
        {
            foreach (var (context, space) in new[] { (_release, @"(\.global)?"), (_o2, @"\.global") })
            {
                foreach (var kernel in new[] { "ForwardRowsCached", "ForwardRowsOnline", "BackwardRows" })
                {
                    string ptx = Ptx(context, element, kernel, architecture);
                    string what = $"{element} {kernel} {architecture} {context.Properties.OptimizationLevel}";
                    Assert.True(Regex.IsMatch(ptx, @"\bld" + space + @"\." + Regex.Escape(form) + @"\s"), $"{what}: no 16-byte load");
                    Assert.True(Regex.IsMatch(ptx, @"\bst" + space + @"\." + Regex.Escape(form) + @"\s"), $"{what}: no 16-byte store");
                }

                foreach (var kernel in new[] { "ForwardSlicesCached", "ForwardSlicesOnline", "BackwardSlicesCached" })
                {
                    string ptx = Ptx(context, element, kernel, architecture);
                    Assert.DoesNotContain(".v4.", ptx);
                    Assert.DoesNotContain(".v2.", ptx);
                }
            }
        }
    }

    /// <summary>
    /// The forward row kernels of a layout with a mask, a bias and a causal mask (Attention) keep A's 16-byte loads
    /// and B's 16-byte stores, and load the bias, contiguous along the row, 16 bytes at a time too.
    /// </summary>
    [Theory, MemberData(nameof(Cases))]
    public void TheRowKernelsWithOptionsLoadAndStoreSixteenBytesAtATime(string element, string form)
    {
        foreach (var architecture in new[] { CudaArchitecture.SM_70, CudaArchitecture.SM_80, CudaArchitecture.SM_90 })
        {
            foreach (var (context, space) in new[] { (_release, @"(\.global)?"), (_o2, @"\.global") })
            {
                foreach (var kernel in new[] { "ForwardRowsCached", "ForwardRowsOnline" })
                {
                    string ptx = Ptx(context, element, kernel, architecture, options: true);
                    string what = $"{element} {kernel} with options {architecture} {context.Properties.OptimizationLevel}";
                    var load = new Regex(@"^\s*ld" + space + @"\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
                    Assert.True(load.Matches(ptx).Count >= 2, $"{what}: {load.Matches(ptx).Count} 16-byte loads, fewer than A's and the bias's");
                    Assert.True(Regex.IsMatch(ptx, @"\bst" + space + @"\." + Regex.Escape(form) + @"\s"), $"{what}: no 16-byte store");
                }
            }
        }
    }

    /// <summary>
    /// The register row kernels hold a lane's row in registers: eight 16-byte loads of float a row (four of Half,
    /// sixteen of double; backward as many again for the cotangent), all issued before the first arithmetic on what
    /// they load, no local memory, and warp shuffles for the reductions; for rows of several warps one barrier a
    /// reduction (forward the max and the sum, backward each cotangent's dot product) and the words of shared memory
    /// it passes the warps' values through.
    /// </summary>
    [Theory]
    [InlineData("float", "v4.f32", "f32", 8)]
    [InlineData("half", "v4.b32", "f32", 4)]
    [InlineData("double", "v2.f64", "f64", 16)]
    public void TheRegisterRowKernelsLoadWholeRowsSixteenBytesAtATimeBeforeUsingThem(string element, string form, string arithmetic, int moves)
    {
        foreach (var architecture in new[] { CudaArchitecture.SM_70, CudaArchitecture.SM_80, CudaArchitecture.SM_90 })
        {
            foreach (var (context, space) in new[] { (_release, @"(\.global)?"), (_o2, @"\.global") })
            {
                foreach (var (kernel, loads, barriers) in new[] { ("ForwardRowsWarp", moves, 2), ("BackwardRowsWarp", 2 * moves, 1) })
                {
                    string ptx = Ptx(context, element, kernel, architecture);
                    string what = $"{element} {kernel} {architecture} {context.Properties.OptimizationLevel}";
                    var load = new Regex(@"^\s*ld" + space + @"\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
                    var store = new Regex(@"^\s*st" + space + @"\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
                    Assert.True(loads == load.Matches(ptx).Count, $"{what}: {load.Matches(ptx).Count} 16-byte loads, not {loads}");
                    Assert.True(moves == store.Matches(ptx).Count, $"{what}: {store.Matches(ptx).Count} 16-byte stores, not {moves}");
                    Assert.DoesNotContain(".local", ptx);
                    Assert.Contains("shfl.sync.bfly", ptx);
                    AssertCrossWarpReductions(ptx, barriers, what);
                    var use = new Regex(@"^\s*(add|sub|mul|fma|max|min)(\.[a-z]+)*\." + arithmetic + @"\s", RegexOptions.Multiline).Match(ptx);
                    Assert.True(use.Success, $"{what}: no arithmetic");
                    Assert.True(load.Matches(ptx).Last().Index < use.Index, $"{what}: a load after the first arithmetic");
                }
            }
        }
    }

    /// <summary>
    /// The register row kernels with a mask, a bias and a causal mask (Attention) load A and the bias, contiguous along
    /// the row, 16 bytes at a time (as many moves of each) and store B 16 bytes at a time; log-sum-exp in registers
    /// loads A as the forward does, with and without options, all of A's loads before the first arithmetic where there
    /// are no options, and stores one value a row. None uses local memory; all reduce with warp shuffles, and across
    /// the warps of a row with one barrier for the max and one for the sum.
    /// </summary>
    [Theory]
    [InlineData("float", "v4.f32", "f32", 8)]
    [InlineData("half", "v4.b32", "f32", 4)]
    [InlineData("double", "v2.f64", "f64", 16)]
    public void TheRegisterRowKernelsWithOptionsAndTheirLogSumExpMoveSixteenBytesAtATime(string element, string form, string arithmetic, int moves)
    {
        foreach (var architecture in new[] { CudaArchitecture.SM_70, CudaArchitecture.SM_80, CudaArchitecture.SM_90 })
        {
            foreach (var (context, space) in new[] { (_release, @"(\.global)?"), (_o2, @"\.global") })
            {
                var load = new Regex(@"^\s*ld" + space + @"\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
                var store = new Regex(@"^\s*st" + space + @"\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
                foreach (var (kernel, options, loads, stores) in new[]
                {
                    ("ForwardRowsWarp", true, 2 * moves, moves),
                    ("LogSumExpRowsWarp", false, moves, 0),
                    ("LogSumExpRowsWarp", true, 2 * moves, 0),
                })
                {
                    string ptx = Ptx(context, element, kernel, architecture, options);
                    string what = $"{element} {kernel}{(options ? " with options" : "")} {architecture} {context.Properties.OptimizationLevel}";
                    Assert.True(loads == load.Matches(ptx).Count, $"{what}: {load.Matches(ptx).Count} 16-byte loads, not {loads}");
                    Assert.True(stores == store.Matches(ptx).Count, $"{what}: {store.Matches(ptx).Count} 16-byte stores, not {stores}");
                    Assert.DoesNotContain(".local", ptx);
                    Assert.Contains("shfl.sync.bfly", ptx);
                    AssertCrossWarpReductions(ptx, 2, what);
                    if (!options)
                    {
                        var use = new Regex(@"^\s*(add|sub|mul|fma|max|min)(\.[a-z]+)*\." + arithmetic + @"\s", RegexOptions.Multiline).Match(ptx);
                        Assert.True(use.Success, $"{what}: no arithmetic");
                        Assert.True(load.Matches(ptx).Last().Index < use.Index, $"{what}: a load after the first arithmetic");
                    }
                }
            }
        }
    }

    /// <summary>The online log-sum-exp row kernel loads A 16 bytes at a time, with and without options, and stores no 16 bytes.</summary>
    [Theory, MemberData(nameof(Cases))]
    public void TheOnlineLogSumExpRowKernelLoadsSixteenBytesAtATime(string element, string form)
    {
        foreach (var architecture in new[] { CudaArchitecture.SM_70, CudaArchitecture.SM_80, CudaArchitecture.SM_90 })
        {
            foreach (var (context, space) in new[] { (_release, @"(\.global)?"), (_o2, @"\.global") })
            {
                foreach (bool options in new[] { false, true })
                {
                    string ptx = Ptx(context, element, "LogSumExpRowsOnline", architecture, options);
                    string what = $"{element} LogSumExpRowsOnline{(options ? " with options" : "")} {architecture} {context.Properties.OptimizationLevel}";
                    Assert.True(Regex.IsMatch(ptx, @"\bld" + space + @"\." + Regex.Escape(form) + @"\s"), $"{what}: no 16-byte load");
                    Assert.False(Regex.IsMatch(ptx, @"\bst(\.global)?\." + Regex.Escape(form) + @"\s"), $"{what}: a 16-byte store");
                }
            }
        }
    }

    public void Dispose()
    {
        _release.Dispose();
        _o2.Dispose();
    }

    /// <summary>
    /// A register row kernel's reductions across the warps of a row: <paramref name="barriers"/> barriers, and one
    /// word a warp of shared memory stored and loaded back (scalar moves: the 16-byte ones are device memory's).
    /// </summary>
    private static void AssertCrossWarpReductions(string ptx, int barriers, string what)
    {
        int count = Regex.Matches(ptx, @"^\s*bar(rier)?\.sync\b", RegexOptions.Multiline).Count;
        Assert.True(barriers == count, $"{what}: {count} barriers, not {barriers}");
        Assert.Matches(new Regex(@"^\s*st\.shared\.[a-z]\d+\s", RegexOptions.Multiline), ptx);
        Assert.Matches(new Regex(@"^\s*ld\.shared\.[a-z]\d+\s", RegexOptions.Multiline), ptx);
    }

    private static string Ptx(Context context, string element, string kernelName, CudaArchitecture architecture, bool options = false)
    {
        var (storage, accumulator, type, math, layout) = options ? element switch
        {
            "float" => (typeof(float), typeof(float), typeof(GpuSingle), typeof(GpuFloatMath<GpuExp>), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.Attention_Layout)),
            "double" => (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.AttentionDouble_Layout)),
            _ => (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), typeof(GpuFloatMath<GpuExp>), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.AttentionHalf_Layout)),
        } : element switch
        {
            "float" => (typeof(float), typeof(float), typeof(GpuSingle), typeof(GpuFloatMath<GpuExp>), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.Rows_Layout)),
            "double" => (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.RowsDouble_Layout)),
            _ => (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), typeof(GpuFloatMath<GpuExp>), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.RowsHalf_Layout)),
        };
        var launcher = typeof(GpuLauncher<,,,,,>).MakeGenericType(storage, accumulator, type, math, layout, typeof(Softmax));
        var kernel = ((System.Collections.Generic.IReadOnlyList<Delegate>)launcher.GetProperty("Kernels", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)
            .Single(candidate => candidate.Method.Name == kernelName).Method;
        var instructionSet = architecture == CudaArchitecture.SM_90 ? CudaInstructionSet.ISA_78 : architecture == CudaArchitecture.SM_80 ? CudaInstructionSet.ISA_70 : CudaInstructionSet.ISA_60;
        using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
        return ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
    }
}
