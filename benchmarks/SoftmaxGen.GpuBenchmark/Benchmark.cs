using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.GpuBenchmark;

/// <summary>What to measure.</summary>
public sealed record BenchmarkOptions
{
    /// <summary>"best" (CUDA if present, else the CPU accelerator), "cuda" or "cpu".</summary>
    public string Device { get; init; } = "best";

    /// <summary>Elements of each tensor; rows = elements / slice length.</summary>
    public long Elements { get; init; } = 1L << 26;

    /// <summary>The slice lengths of the row layout.</summary>
    public int[] SliceLengths { get; init; } = [128, 512, 2048, 8192, 32768, 131072, 262144];

    /// <summary>Timed repetitions per case; the median is reported.</summary>
    public int Repetitions { get; init; } = 20;
}

/// <summary>One measured case: effective bandwidths, and their ratios to a device-to-device copy of the same bytes.</summary>
public sealed record BenchmarkRow(string Layout, int SliceLength, double CopyGBs, double ForwardGBs, double BackwardGBs, double FourCotangentsRatio)
{
    public double ForwardRatio => ForwardGBs / CopyGBs;

    public double BackwardRatio => BackwardGBs / CopyGBs;
}

/// <summary>
/// Forward and backward softmax on an ILGPU accelerator, as effective bandwidth (bytes that must move: forward reads A
/// and writes B, backward reads B and dB and writes dA) against a device-to-device copy of the same array, measured
/// in the same process; and the time of a backward pass with four cotangents over that with one (B is read once for
/// all four, so its floor is 3: nine arrays move instead of three). Each case is first checked against
/// the CPU path, so a fast wrong kernel cannot pass.
/// </summary>
public static class Benchmark
{
    public const double ForwardGoal = 0.8;
    public const double BackwardGoal = 0.7;

    public static IReadOnlyList<BenchmarkRow> Run(BenchmarkOptions options, TextWriter output)
    {
        using var context = Context.Create(builder => builder.Default());
        using var accelerator = CreateAccelerator(context, options.Device);
        output.WriteLine($"device: {accelerator.Name} ({accelerator.AcceleratorType}), warp {accelerator.WarpSize}, " +
                         $"max group {accelerator.MaxNumThreadsPerGroup}, memory {accelerator.MemorySize / (1 << 20)} MiB");
        output.WriteLine($"tensor: {options.Elements} float elements ({options.Elements * 4 / (1 << 20)} MiB), median of {options.Repetitions} runs");
        output.WriteLine();
        output.WriteLine("| layout | slice | copy GB/s | forward GB/s | forward / copy | backward GB/s | backward / copy | 4 cotangents / 1 |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");

        var rows = new List<BenchmarkRow>();
        foreach (int length in options.SliceLengths.Where(length => length <= options.Elements))
        {
            int[] shape = [(int)(options.Elements / length), length];
            rows.Add(Measure(accelerator, options, $"rows [{shape[0]}, {shape[1]}], s1 = {{1}}", length, shape, RowSoftmax.Forward, RowSoftmax.Backward));
            output.WriteLine(Format(rows[^1]));
        }

        // Channels: 64, and the counts on either side of where the lanes kernels stop keeping slices in shared memory
        // (at least two warps of lanes in 48 KB: up to about 190 floats forward, 95 backward on a CUDA device).
        foreach (int count in new[] { 64, 128, 256 })
        {
            int spatial = (int)Math.Max(1, Math.Sqrt(options.Elements / count / 16));
            int[] channels = [16, count, spatial, spatial];
            rows.Add(Measure(accelerator, options, $"channels [{string.Join(", ", channels)}], s1 = {{1}}", count, channels, ChannelSoftmax.Forward, ChannelSoftmax.Backward));
            output.WriteLine(Format(rows[^1]));
        }

        // The CPU issue's scattered case, [128, 32, 256, 32] at 128 Mi elements: slices of 32 × 32 gathered from 32 runs.
        long inner = Math.Max(1, options.Elements / (32 * 32));
        int middle = (int)Math.Min(256, inner);
        int[] scattered = [(int)Math.Max(1, inner / middle), 32, middle, 32];
        rows.Add(Measure(accelerator, options, $"scattered [{string.Join(", ", scattered)}], s1 = {{1, 3}}", 32 * 32, scattered, ScatteredSoftmax.Forward, ScatteredSoftmax.Backward));
        output.WriteLine(Format(rows[^1]));

        output.WriteLine();
        bool forward = rows.All(row => row.ForwardRatio >= ForwardGoal);
        bool backward = rows.All(row => row.BackwardRatio >= BackwardGoal);
        output.WriteLine($"goals: forward ≥ {ForwardGoal}× copy: {(forward ? "met" : "missed")}; backward ≥ {BackwardGoal}× copy: {(backward ? "met" : "missed")}" +
                         (accelerator.AcceleratorType == AcceleratorType.CPU ? " (CPU accelerator: a simulation, its speed means nothing)" : ""));
        return rows;
    }

    public static Accelerator CreateAccelerator(Context context, string device)
    {
        var cuda = context.Devices.Where(candidate => candidate.AcceleratorType == AcceleratorType.Cuda).ToList();
        return device switch
        {
            "cuda" when cuda.Count == 0 => throw new InvalidOperationException("no CUDA device found"),
            "cuda" => cuda[0].CreateAccelerator(context),
            "cpu" => context.Devices.First(candidate => candidate.AcceleratorType == AcceleratorType.CPU).CreateAccelerator(context),
            "best" => (cuda.Count > 0 ? cuda[0] : context.Devices.First(candidate => candidate.AcceleratorType == AcceleratorType.CPU)).CreateAccelerator(context),
            _ => throw new ArgumentException($"unknown device '{device}': use best, cuda or cpu", nameof(device)),
        };
    }

    private delegate void Forward(Accelerator accelerator, ArrayView<float> a, ArrayView<float> b, ReadOnlySpan<int> shape);

    private delegate void Backward(Accelerator accelerator, ArrayView<float> b, ArrayView<float> dB, ArrayView<float> dA, ReadOnlySpan<int> shape);

    private static BenchmarkRow Measure(Accelerator accelerator, BenchmarkOptions options, string name, int sliceLength, int[] shape, Forward forward, Backward backward)
    {
        long count = shape.Aggregate(1L, (product, extent) => product * extent);
        var random = new Random(1);
        var a = new float[count];
        var dB = new float[count];
        for (long i = 0; i < count; i++)
        {
            a[i] = (float)(random.NextDouble() * 8 - 4);
            dB[i] = (float)(random.NextDouble() * 2 - 1);
        }

        // Four cotangents: the first is dB, the others dB scaled, so each pullback differs.
        var dB4 = new float[4 * count];
        for (int k = 0; k < 4; k++)
        {
            float scale = 1 - 0.25f * k;
            for (long i = 0; i < count; i++)
            {
                dB4[k * count + i] = scale * dB[i];
            }
        }

        using var aBuffer = accelerator.Allocate1D(a);
        using var bBuffer = accelerator.Allocate1D<float>(count);
        using var dBBuffer = accelerator.Allocate1D(dB);
        using var dABuffer = accelerator.Allocate1D<float>(count);
        using var dB4Buffer = accelerator.Allocate1D(dB4);
        using var dA4Buffer = accelerator.Allocate1D<float>(4 * count);

        Verify(accelerator, name, shape, a, dB, aBuffer, bBuffer, dBBuffer, dABuffer, forward, backward);
        Verify(accelerator, $"{name}, 4 cotangents", shape, a, dB4, aBuffer, bBuffer, dB4Buffer, dA4Buffer, forward, backward);

        double bytes = count * sizeof(float);
        double copy = 2 * bytes / Median(options.Repetitions, accelerator, () => aBuffer.View.CopyTo(dABuffer.View));
        double forwardRate = 2 * bytes / Median(options.Repetitions, accelerator, () => forward(accelerator, aBuffer.View, bBuffer.View, shape));
        double backwardTime = Median(options.Repetitions, accelerator, () => backward(accelerator, bBuffer.View, dBBuffer.View, dABuffer.View, shape));
        double backward4Time = Median(options.Repetitions, accelerator, () => backward(accelerator, bBuffer.View, dB4Buffer.View, dA4Buffer.View, shape));
        return new BenchmarkRow(name, sliceLength, copy / 1e9, forwardRate / 1e9, 3 * bytes / backwardTime / 1e9, backward4Time / backwardTime);
    }

    /// <summary>The measured kernels must give the CPU path's results (within float rounding) before they are timed.</summary>
    private static void Verify(
        Accelerator accelerator, string name, int[] shape, float[] a, float[] dB,
        MemoryBuffer1D<float, Stride1D.Dense> aBuffer, MemoryBuffer1D<float, Stride1D.Dense> bBuffer,
        MemoryBuffer1D<float, Stride1D.Dense> dBBuffer, MemoryBuffer1D<float, Stride1D.Dense> dABuffer,
        Forward forward, Backward backward)
    {
        forward(accelerator, aBuffer.View, bBuffer.View, shape);
        backward(accelerator, bBuffer.View, dBBuffer.View, dABuffer.View, shape);
        accelerator.Synchronize();
        var b = bBuffer.GetAsArray1D();
        var dA = dABuffer.GetAsArray1D();

        var expectedB = new float[a.Length];
        var expectedDA = new float[dB.Length];
        if (shape.Length == 2)
        {
            RowSoftmax.Forward(a, expectedB, shape);
            RowSoftmax.Backward(b, dB, expectedDA, shape);
        }
        else if (name.StartsWith("channels", StringComparison.Ordinal))
        {
            ChannelSoftmax.Forward(a, expectedB, shape);
            ChannelSoftmax.Backward(b, dB, expectedDA, shape);
        }
        else
        {
            ScatteredSoftmax.Forward(a, expectedB, shape);
            ScatteredSoftmax.Backward(b, dB, expectedDA, shape);
        }

        double worstB = 0, worstDA = 0;
        for (int i = 0; i < a.Length; i++)
        {
            worstB = Math.Max(worstB, Math.Abs(b[i] - expectedB[i]) / (Math.Abs(expectedB[i]) + 1e-30));
        }

        for (int i = 0; i < dA.Length; i++)
        {
            worstDA = Math.Max(worstDA, Math.Abs(dA[i] - expectedDA[i]));
        }

        if (!(worstB < 1e-4) || !(worstDA < 1e-5))
        {
            throw new InvalidOperationException($"{name}: the accelerator disagrees with the CPU path (forward relative {worstB:G3}, backward {worstDA:G3})");
        }
    }

    private static double Median(int repetitions, Accelerator accelerator, Action launch)
    {
        launch(); // warm up: compiles the kernel and touches the memory
        accelerator.Synchronize();
        var seconds = new double[repetitions];
        for (int i = 0; i < repetitions; i++)
        {
            var clock = Stopwatch.StartNew();
            launch();
            accelerator.Synchronize();
            seconds[i] = clock.Elapsed.TotalSeconds;
        }

        Array.Sort(seconds);
        return seconds[repetitions / 2];
    }

    private static string Format(BenchmarkRow row) =>
        $"| {row.Layout} | {row.SliceLength} | {row.CopyGBs:F1} | {row.ForwardGBs:F1} | {row.ForwardRatio:F2} | {row.BackwardGBs:F1} | {row.BackwardRatio:F2} | {row.FourCotangentsRatio:F2} |";
}
