using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.GpuBenchmark;

/// <summary>What to measure.</summary>
public sealed record BenchmarkOptions
{
    /// <summary>Print the PTX report (<see cref="PtxReport"/>) instead of measuring.</summary>
    public bool Ptx { get; init; }

    /// <summary>"best" (CUDA if present, else the CPU accelerator), "cuda" or "cpu".</summary>
    public string Device { get; init; } = "best";

    /// <summary>Elements of each tensor; rows = elements / slice length.</summary>
    public long Elements { get; init; } = 1L << 26;

    /// <summary>The slice lengths of the row layout.</summary>
    public int[] SliceLengths { get; init; } = [128, 512, 2048, 8192, 32768, 131072, 262144];

    /// <summary>Timed repetitions per case; the median is reported.</summary>
    public int Repetitions { get; init; } = 20;

    /// <summary>The element type: "float", "double" or "half".</summary>
    public string Type { get; init; } = "float";
}

/// <summary>One measured case: effective bandwidths, and their ratios to a device-to-device copy of the same bytes.</summary>
public sealed record BenchmarkRow(string Layout, int SliceLength, double CopyGBs, double ForwardGBs, double BackwardGBs, double FourCotangentsRatio)
{
    public double ForwardRatio => ForwardGBs / CopyGBs;

    public double BackwardRatio => BackwardGBs / CopyGBs;
}

/// <summary>What one case should reach on a CUDA device: forward / copy and backward / copy at least these.</summary>
public readonly record struct BandwidthGoal(double Forward, double Backward)
{
    /// <summary>
    /// Rows of up to 16 384 floats or halves, or 8 192 doubles: 0.85 / 0.90. Longer float rows up to 58 048, which a
    /// device that lets a kernel opt in to 227 KB of shared memory reads once: 0.80 / 0.80. Rows read twice: 0.62 / 0.58,
    /// under the 0.67 / 0.60 that moving 3N for 2N counted (forward) and 5N for 3N (backward) allows. Channels and slices
    /// of several runs: 0.80 / 0.80.
    /// </summary>
    public static BandwidthGoal For(string type, bool rows, int sliceLength) =>
        !rows ? new(0.80, 0.80)
        : sliceLength <= (type == "double" ? 8192 : 16384) ? new(0.85, 0.90)
        : type == "float" && sliceLength <= 58048 ? new(0.80, 0.80)
        : new(0.62, 0.58);

    public bool MetBy(BenchmarkRow row) => row.ForwardRatio >= Forward && row.BackwardRatio >= Backward;
}

/// <summary>
/// Forward and backward softmax on an ILGPU accelerator, as effective bandwidth (bytes that must move: forward reads A
/// and writes B, backward reads B and dB and writes dA) against a device-to-device copy of the same array, measured
/// in the same process; and the time of a backward pass with four cotangents over that with one (B is read once for
/// all four where it stays on chip, so the floor is 3: nine arrays move instead of three; 2.8 for the kernels that read
/// B from device memory, once per pass for four cotangents: 14 against 5). Each case is first checked against
/// the CPU path, so a fast wrong kernel cannot pass.
/// </summary>
public static class Benchmark
{
    public static IReadOnlyList<BenchmarkRow> Run(BenchmarkOptions options, TextWriter output) => options.Type switch
    {
        "float" => Run(options, output, new Kernels<float>(
            new(RowSoftmax.Forward, RowSoftmax.Backward, RowSoftmax.Forward, RowSoftmax.Backward),
            new(ChannelSoftmax.Forward, ChannelSoftmax.Backward, ChannelSoftmax.Forward, ChannelSoftmax.Backward),
            new(ScatteredSoftmax.Forward, ScatteredSoftmax.Backward, ScatteredSoftmax.Forward, ScatteredSoftmax.Backward),
            Relative: 1e-4, Tiny: 1e-30)),
        "double" => Run(options, output, new Kernels<double>(
            new(RowSoftmaxDouble.Forward, RowSoftmaxDouble.Backward, RowSoftmaxDouble.Forward, RowSoftmaxDouble.Backward),
            new(ChannelSoftmaxDouble.Forward, ChannelSoftmaxDouble.Backward, ChannelSoftmaxDouble.Forward, ChannelSoftmaxDouble.Backward),
            new(ScatteredSoftmaxDouble.Forward, ScatteredSoftmaxDouble.Backward, ScatteredSoftmaxDouble.Forward, ScatteredSoftmaxDouble.Backward),
            Relative: 1e-10, Tiny: 1e-300)),
        "half" => Run(options, output, new Kernels<System.Half>(
            new(RowSoftmaxHalf.Forward, RowSoftmaxHalf.Backward, RowSoftmaxHalf.Forward, RowSoftmaxHalf.Backward),
            new(ChannelSoftmaxHalf.Forward, ChannelSoftmaxHalf.Backward, ChannelSoftmaxHalf.Forward, ChannelSoftmaxHalf.Backward),
            new(ScatteredSoftmaxHalf.Forward, ScatteredSoftmaxHalf.Backward, ScatteredSoftmaxHalf.Forward, ScatteredSoftmaxHalf.Backward),
            Relative: 4e-3, Tiny: 1e-7)),
        _ => throw new ArgumentException($"unknown element type '{options.Type}': use float, double or half", nameof(options)),
    };

    private static IReadOnlyList<BenchmarkRow> Run<T>(BenchmarkOptions options, TextWriter output, Kernels<T> kernels)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var context = Context.Create(builder => builder.Default().Profiling()); // CUDA events around each timed launch
        using var accelerator = CreateAccelerator(context, options.Device);
        output.WriteLine($"device: {accelerator.Name} ({accelerator.AcceleratorType}), warp {accelerator.WarpSize}, " +
                         $"max group {accelerator.MaxNumThreadsPerGroup}, memory {accelerator.MemorySize / (1 << 20)} MiB");
        output.WriteLine($"tensor: {options.Elements} {options.Type} elements ({options.Elements * Unsafe.SizeOf<T>() / (1 << 20)} MiB), median of {options.Repetitions} runs");
        output.WriteLine();
        output.WriteLine("| layout | slice | copy GB/s | forward GB/s | forward / copy | backward GB/s | backward / copy | 4 cotangents / 1 | goal (forward / backward) |");
        output.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---|");

        var rows = new List<BenchmarkRow>();
        int met = 0;
        void Report(BenchmarkRow row, BandwidthGoal goal)
        {
            rows.Add(row);
            met += goal.MetBy(row) ? 1 : 0;
            output.WriteLine(Format(row, goal));
        }

        foreach (int length in options.SliceLengths.Where(length => length <= options.Elements))
        {
            int[] shape = [(int)(options.Elements / length), length];
            Report(Measure(accelerator, options, $"rows [{shape[0]}, {shape[1]}], s1 = {{1}}", length, shape, kernels.Rows, kernels), BandwidthGoal.For(options.Type, rows: true, length));
        }

        // Channels: 64, and the counts on either side of where the lanes kernels stop keeping slices in shared memory
        // (at least two warps of lanes in 48 KB: up to about 190 floats, forward and backward, on a CUDA device).
        foreach (int count in new[] { 64, 128, 256 })
        {
            int spatial = (int)Math.Max(1, Math.Sqrt(options.Elements / count / 16));
            int[] channels = [16, count, spatial, spatial];
            Report(Measure(accelerator, options, $"channels [{string.Join(", ", channels)}], s1 = {{1}}", count, channels, kernels.Channels, kernels), BandwidthGoal.For(options.Type, rows: false, count));
        }

        // The CPU benchmarks' scattered case, [128, 32, 256, 32] at 128 Mi elements: slices of 32 × 32 gathered from 32 runs.
        long inner = Math.Max(1, options.Elements / (32 * 32));
        int middle = (int)Math.Min(256, inner);
        int[] scattered = [(int)Math.Max(1, inner / middle), 32, middle, 32];
        Report(Measure(accelerator, options, $"scattered [{string.Join(", ", scattered)}], s1 = {{1, 3}}", 32 * 32, scattered, kernels.Scattered, kernels), BandwidthGoal.For(options.Type, rows: false, 32 * 32));

        output.WriteLine();
        output.WriteLine($"goals: {met} of {rows.Count} cases met" +
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

    private delegate void GpuForward<T>(Accelerator accelerator, ArrayView<T> a, ArrayView<T> b, ReadOnlySpan<int> shape, float scale = 1f)
        where T : unmanaged;

    private delegate void GpuBackward<T>(Accelerator accelerator, ArrayView<T> b, ArrayView<T> dB, ArrayView<T> dA, ReadOnlySpan<int> shape, float scale = 1f)
        where T : unmanaged;

    private delegate void CpuForward<T>(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<int> shape, float scale = 1f);

    private delegate void CpuBackward<T>(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<int> shape, float scale = 1f);

    /// <summary>One layout's generated members: the ILGPU launchers measured, the CPU path they are checked against.</summary>
    private sealed record Layout<T>(GpuForward<T> Forward, GpuBackward<T> Backward, CpuForward<T> CpuForward, CpuBackward<T> CpuBackward)
        where T : unmanaged;

    /// <summary>
    /// The three layouts for one element type, and how closely the device must agree with the CPU path: B within
    /// <paramref name="Relative"/> of itself, dA = B ∘ (dB - dot) within <paramref name="Relative"/> of the size of its
    /// terms, |B ∘ dB| + B · Σ |B ∘ dB| (plus <paramref name="Tiny"/>, for values Half keeps as subnormals).
    /// </summary>
    private sealed record Kernels<T>(Layout<T> Rows, Layout<T> Channels, Layout<T> Scattered, double Relative, double Tiny)
        where T : unmanaged;

    private static BenchmarkRow Measure<T>(Accelerator accelerator, BenchmarkOptions options, string name, int sliceLength, int[] shape, Layout<T> layout, Kernels<T> kernels)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long count = shape.Aggregate(1L, (product, extent) => product * extent);
        var random = new Random(1);
        var a = new T[count];
        var dB = new T[count];
        for (long i = 0; i < count; i++)
        {
            a[i] = T.CreateTruncating(random.NextDouble() * 8 - 4);
            dB[i] = T.CreateTruncating(random.NextDouble() * 2 - 1);
        }

        // Four cotangents: the first is dB, the others dB scaled, so each pullback differs.
        var dB4 = new T[4 * count];
        for (int k = 0; k < 4; k++)
        {
            var scale = T.CreateTruncating(1 - 0.25 * k);
            for (long i = 0; i < count; i++)
            {
                dB4[k * count + i] = scale * dB[i];
            }
        }

        using var aBuffer = accelerator.Allocate1D(a);
        using var bBuffer = accelerator.Allocate1D<T>(count);
        using var dBBuffer = accelerator.Allocate1D(dB);
        using var dABuffer = accelerator.Allocate1D<T>(count);
        using var dB4Buffer = accelerator.Allocate1D(dB4);
        using var dA4Buffer = accelerator.Allocate1D<T>(4 * count);

        Verify(accelerator, name, shape, a, dB, aBuffer, bBuffer, dBBuffer, dABuffer, layout, kernels);
        Verify(accelerator, $"{name}, 4 cotangents", shape, a, dB4, aBuffer, bBuffer, dB4Buffer, dA4Buffer, layout, kernels);

        double bytes = count * Unsafe.SizeOf<T>();
        double copy = 2 * bytes / Median(options.Repetitions, accelerator, () => aBuffer.View.CopyTo(dABuffer.View));
        double forwardRate = 2 * bytes / Median(options.Repetitions, accelerator, () => layout.Forward(accelerator, aBuffer.View, bBuffer.View, shape));
        double backwardTime = Median(options.Repetitions, accelerator, () => layout.Backward(accelerator, bBuffer.View, dBBuffer.View, dABuffer.View, shape));
        double backward4Time = Median(options.Repetitions, accelerator, () => layout.Backward(accelerator, bBuffer.View, dB4Buffer.View, dA4Buffer.View, shape));
        return new BenchmarkRow(name, sliceLength, copy / 1e9, forwardRate / 1e9, 3 * bytes / backwardTime / 1e9, backward4Time / backwardTime);
    }

    /// <summary>The measured kernels must give the CPU path's results (within the element type's rounding) before they are timed.</summary>
    private static void Verify<T>(
        Accelerator accelerator, string name, int[] shape, T[] a, T[] dB,
        MemoryBuffer1D<T, Stride1D.Dense> aBuffer, MemoryBuffer1D<T, Stride1D.Dense> bBuffer,
        MemoryBuffer1D<T, Stride1D.Dense> dBBuffer, MemoryBuffer1D<T, Stride1D.Dense> dABuffer,
        Layout<T> layout, Kernels<T> kernels)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        layout.Forward(accelerator, aBuffer.View, bBuffer.View, shape);
        layout.Backward(accelerator, bBuffer.View, dBBuffer.View, dABuffer.View, shape);
        accelerator.Synchronize();
        var b = bBuffer.GetAsArray1D();
        var dA = dABuffer.GetAsArray1D();

        var expectedB = new T[a.Length];
        var expectedDA = new T[dB.Length];
        layout.CpuForward(a, expectedB, shape);
        layout.CpuBackward(b, dB, expectedDA, shape);

        // The size of B · dot's rounding error is B · Σ |B ∘ dB| over the slice (not B · |dot|, which cancellation can
        // make far smaller): the pullback of |dB| gives it, as B ∘ |dB| − B · Σ B ∘ |dB|.
        var absDB = dB.Select(T.Abs).ToArray();
        var absPullback = new T[dB.Length];
        layout.CpuBackward(b, absDB, absPullback, shape);

        double worstB = 0, worstDA = 0;
        bool close = true;
        for (int i = 0; i < a.Length; i++)
        {
            double expected = double.CreateTruncating(expectedB[i]);
            double error = Math.Abs(double.CreateTruncating(b[i]) - expected);
            worstB = Math.Max(worstB, error / (Math.Abs(expected) + 1e-30));
            close &= error <= kernels.Relative * Math.Abs(expected) + kernels.Tiny;
        }

        for (int i = 0; i < dA.Length; i++)
        {
            double expected = double.CreateTruncating(expectedDA[i]);
            double product = Math.Abs(double.CreateTruncating(b[i % b.Length]) * double.CreateTruncating(dB[i])); // |B ∘ dB|
            double magnitude = 2 * product - double.CreateTruncating(absPullback[i]); // |B ∘ dB| + B · Σ |B ∘ dB|
            double error = Math.Abs(double.CreateTruncating(dA[i]) - expected);
            worstDA = Math.Max(worstDA, error / (magnitude + 1e-30));
            close &= error <= kernels.Relative * magnitude + kernels.Tiny;
        }

        if (!close)
        {
            throw new InvalidOperationException($"{name}: the accelerator disagrees with the CPU path (worst relative errors: forward {worstB:G3}, backward {worstDA:G3})");
        }
    }

    private static double Median(int repetitions, Accelerator accelerator, Action launch)
    {
        launch(); // warm up: compiles the kernel and touches the memory
        accelerator.Synchronize();
        var seconds = new double[repetitions];
        for (int i = 0; i < repetitions; i++)
        {
            if (accelerator.AcceleratorType == AcceleratorType.Cuda)
            {
                // Events recorded on the stream before and after the launch: the device's time, without the host's
                // launch and synchronisation latency.
                using var start = accelerator.AddProfilingMarker();
                launch();
                using var end = accelerator.AddProfilingMarker();
                end.Synchronize();
                seconds[i] = (end - start).TotalSeconds;
                continue;
            }

            var clock = Stopwatch.StartNew();
            launch();
            accelerator.Synchronize();
            seconds[i] = clock.Elapsed.TotalSeconds;
        }

        Array.Sort(seconds);
        return seconds[repetitions / 2];
    }

    private static string Format(BenchmarkRow row, BandwidthGoal goal) =>
        $"| {row.Layout} | {row.SliceLength} | {row.CopyGBs:F1} | {row.ForwardGBs:F1} | {row.ForwardRatio:F2} | {row.BackwardGBs:F1} | {row.BackwardRatio:F2} | {row.FourCotangentsRatio:F2} | " +
        $"{goal.Forward:F2} / {goal.Backward:F2}: {(goal.MetBy(row) ? "met" : "missed")} |";
}
