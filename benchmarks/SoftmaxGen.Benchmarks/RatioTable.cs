using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Text;
using SoftmaxGen.Runtime;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// The ratios mode: times every case of the CPU goal table in one process (medians of round-robin samples) and prints
/// the measurements and the goal ratios as Markdown.
/// </summary>
public static class RatioTable
{
    public static string Run(int rounds, bool includeDouble)
    {
        var output = new StringBuilder();
        var culture = CultureInfo.InvariantCulture;
        output.AppendLine(culture, $"Machine: {Environment.ProcessorCount} cores, {RuntimeInfo()}; load average before: {LoadAverage()}");
        output.AppendLine();
        output.AppendLine(Measure<float>(rounds));
        if (includeDouble)
        {
            output.AppendLine(Measure<double>(rounds));
        }

        output.AppendLine(culture, $"Load average after: {LoadAverage()}");
        return output.ToString();
    }

    public static string RuntimeInfo()
        => $".NET {Environment.Version}, Vector<T> {Vector<byte>.Count * 8} bits, Vector512 accelerated: {System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated}";

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', System.IO.File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (System.IO.IOException)
        {
            return "unknown";
        }
    }

    private static string Measure<T>(int rounds)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>
    {
        string type = typeof(T) == typeof(float) ? "float" : "double";
        int size = Unsafe.SizeOf<T>();
        var rows = Kernels.Shape<T>(Layout.Rows);
        int length = rows[1];
        int count = rows[0] * rows[1];
        var a = Kernels.Logits<T>(count, 1);
        var b = new T[count];
        Kernels.Forward(Layout.Rows, a, b, rows);
        var dB1 = Kernels.Logits<T>(count, 2);
        var dB4 = Kernels.Logits<T>(4 * count, 3);
        var dA1 = new T[count];
        var dA4 = new T[4 * count];
        var scratch = new T[count];

        int[] small = [65536, 128];
        var aSmall = Kernels.Logits<T>(65536 * 128, 5);
        var bSmall = new T[aSmall.Length];
        double smallBytes = 2.0 * aSmall.Length * size;
        int[] tiny = [3, 100];
        var aTiny = Kernels.Logits<T>(300, 4);
        var bTiny = new T[300];

        double forwardBytes = 2.0 * count * size;
        double backward1Bytes = 3.0 * count * size;
        double backward4Bytes = 9.0 * count * size;
        var cases = new List<Case>
        {
            new("copy", "parallel copy (Span.CopyTo per chunk)", forwardBytes, () => Baselines.ParallelCopy(a, scratch)),
            new("fwd", $"forward [{rows[0]}, {rows[1]}] s1={{1}}", forwardBytes, () => Kernels.Forward(Layout.Rows, a, scratch, rows)),
            new("fwd1t", "forward, same, 1 thread", forwardBytes, () => OneThread(() => Kernels.Forward(Layout.Rows, a, scratch, rows))),
            new("fwdTP", "forward, TensorPrimitives per row (rows in parallel)", forwardBytes, () => Baselines.TensorPrimitivesForward(a, scratch, length)),
            new("fwdScalar", "forward, scalar loop (rows in parallel)", forwardBytes, () => Baselines.ScalarForward(a, scratch, length)),
            new("bwd1", "backward, 1 cotangent", backward1Bytes, () => Kernels.Backward(Layout.Rows, b, dB1, dA1, rows)),
            new("bwd1TP", "backward, 1 cotangent, TensorPrimitives per row", backward1Bytes, () => Baselines.TensorPrimitivesBackward(b, dB1, dA1, length)),
            new("bwd1Scalar", "backward, 1 cotangent, scalar loop", backward1Bytes, () => Baselines.ScalarBackward(b, dB1, dA1, length)),
            new("bwd4", "backward, 4 cotangents", backward4Bytes, () => Kernels.Backward(Layout.Rows, b, dB4, dA4, rows)),
            new("bwd4TP", "backward, 4 cotangents, TensorPrimitives per row", backward4Bytes, () => Baselines.TensorPrimitivesBackward(b, dB4, dA4, length)),
            new("floor1", "backward traffic floor (dA = B ∘ dB, the same bytes), 1 cotangent", backward1Bytes, () => Baselines.BackwardTrafficFloor(b, dB1, dA1, length)),
            new("floor4", "backward traffic floor, 4 cotangents", backward4Bytes, () => Baselines.BackwardTrafficFloor(b, dB4, dA4, length)),
        };

        foreach (var layout in new[] { Layout.Channels, Layout.Scattered })
        {
            var shape = Kernels.Shape<T>(layout);
            string name = layout.ToString().ToLowerInvariant();
            string axes = layout == Layout.Channels ? "{1}" : "{1, 3}";
            cases.Add(new($"fwd-{name}", $"forward [{string.Join(", ", shape)}] s1={axes}", forwardBytes, () => Kernels.Forward(layout, a, scratch, shape)));
            cases.Add(new($"bwd1-{name}", $"backward [{string.Join(", ", shape)}] s1={axes}, 1 cotangent", backward1Bytes, () => Kernels.Backward(layout, b, dB1, dA1, shape)));
        }

        cases.Add(new("fwd-small", $"forward [{small[0]}, {small[1]}] s1={{1}}", smallBytes, () => Kernels.Forward(Layout.Rows, aSmall, bSmall, small)));
        cases.Add(new("fwd-smallTPSoftMax", $"forward [{small[0]}, {small[1]}], TensorPrimitives.SoftMax row by row", smallBytes, () => Baselines.TensorPrimitivesSoftMaxRows(aSmall, bSmall, small[1])));
        cases.Add(new("fwd-smallTP", $"forward [{small[0]}, {small[1]}], TensorPrimitives per row (rows in parallel)", smallBytes, () => Baselines.TensorPrimitivesForward(aSmall, bSmall, small[1])));
        cases.Add(new("fwd-tiny", "forward [3, 100] s1={1}", 2.0 * 300 * size, () => Kernels.Forward(Layout.Rows, aTiny, bTiny, tiny)));
        cases.Add(new("fwd-tinyTPSoftMax", "forward [3, 100], TensorPrimitives.SoftMax row by row", 2.0 * 300 * size, () => Baselines.TensorPrimitivesSoftMaxRows(aTiny, bTiny, 100)));

        Case.MeasureAll(cases, rounds, message => Console.Error.WriteLine($"[{type}] {message}"));
        var byKey = cases.ToDictionary(item => item.Key);

        var culture = CultureInfo.InvariantCulture;
        var table = new StringBuilder();
        table.AppendLine(culture, $"### {type}, {count * (long)size >> 20} MiB tensors, {rounds} rounds");
        table.AppendLine();
        table.AppendLine("| case | median time | effective bandwidth |");
        table.AppendLine("|---|---:|---:|");
        foreach (var item in cases)
        {
            table.AppendLine(culture, $"| {item.Label} | {Time(item.Seconds)} | {item.GigabytesPerSecond:F1} GB/s |");
        }

        table.AppendLine();
        table.AppendLine("| goal | target | measured | met |");
        table.AppendLine("|---|---:|---:|:---:|");
        double copy = byKey["copy"].GigabytesPerSecond;
        Goal(table, "forward bandwidth / copy bandwidth", ">= 0.6", byKey["fwd"].GigabytesPerSecond / copy, value => value >= 0.6);
        Goal(table, "forward bandwidth / TensorPrimitives composition", ">= 2", byKey["fwdTP"].Seconds / byKey["fwd"].Seconds, value => value >= 2);
        Goal(table, "backward (1 cotangent) bandwidth / copy bandwidth", ">= 0.6", byKey["bwd1"].GigabytesPerSecond / copy, value => value >= 0.6);
        Goal(table, "backward time, 4 cotangents / 1 cotangent", "<= 3.3", byKey["bwd4"].Seconds / byKey["bwd1"].Seconds, value => value <= 3.3);
        Goal(table, "forward throughput, channels / last axis", ">= 0.8", byKey["fwd"].Seconds / byKey["fwd-channels"].Seconds, value => value >= 0.8);
        Goal(table, "forward throughput, scattered / last axis", ">= 0.8", byKey["fwd"].Seconds / byKey["fwd-scattered"].Seconds, value => value >= 0.8);
        Goal(table, "backward throughput, channels / last axis", ">= 0.8", byKey["bwd1"].Seconds / byKey["bwd1-channels"].Seconds, value => value >= 0.8);
        Goal(table, "backward throughput, scattered / last axis", ">= 0.8", byKey["bwd1"].Seconds / byKey["bwd1-scattered"].Seconds, value => value >= 0.8);
        Goal(table, $"small slices [{small[0]}, {small[1]}]: TensorPrimitives.SoftMax rows time / ours", "> 1", byKey["fwd-smallTPSoftMax"].Seconds / byKey["fwd-small"].Seconds, value => value > 1);
        Goal(table, "tiny [3, 100]: TensorPrimitives.SoftMax rows time / ours", "> 1", byKey["fwd-tinyTPSoftMax"].Seconds / byKey["fwd-tiny"].Seconds, value => value > 1);
        Goal(table, "forward and backward bitwise identical, 1 thread vs all", "yes", SameForAnyThreadCount(a, dB4, rows) ? 1 : 0, value => value == 1, yesNo: true);
        table.AppendLine();
        table.AppendLine(culture, $"Backward traffic floor (the same bytes, one multiply per element): 4 cotangents / 1 cotangent = {byKey["floor4"].Seconds / byKey["floor1"].Seconds:F2}; ours / floor: 1 cotangent {byKey["bwd1"].Seconds / byKey["floor1"].Seconds:F2}, 4 cotangents {byKey["bwd4"].Seconds / byKey["floor4"].Seconds:F2}.");
        return table.ToString();
    }

    private static void OneThread(Action action)
    {
        int saved = CpuSoftmax.MaxDegreeOfParallelism;
        CpuSoftmax.MaxDegreeOfParallelism = 1;
        try
        {
            action();
        }
        finally
        {
            CpuSoftmax.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>Every layout, forward and backward with 4 cotangents: one thread against all, bit for bit.</summary>
    private static bool SameForAnyThreadCount<T>(T[] a, T[] dB4, int[] rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var layout in Enum.GetValues<Layout>())
        {
            var shape = Kernels.Shape<T>(layout);
            var results = new List<(T[] B, T[] DA)>();
            foreach (int threads in new[] { 1, Environment.ProcessorCount })
            {
                int saved = CpuSoftmax.MaxDegreeOfParallelism;
                CpuSoftmax.MaxDegreeOfParallelism = threads;
                try
                {
                    var b = new T[a.Length];
                    var dA = new T[dB4.Length];
                    Kernels.Forward(layout, a, b, shape);
                    Kernels.Backward(layout, b, dB4, dA, shape);
                    results.Add((b, dA));
                }
                finally
                {
                    CpuSoftmax.MaxDegreeOfParallelism = saved;
                }
            }

            if (!Bits(results[0].B).SequenceEqual(Bits(results[1].B)) || !Bits(results[0].DA).SequenceEqual(Bits(results[1].DA)))
            {
                return false;
            }
        }

        return true;
    }

    private static ReadOnlySpan<byte> Bits<T>(T[] values)
        where T : unmanaged
        => System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan());

    private static void Goal(StringBuilder table, string goal, string target, double value, Func<double, bool> met, bool yesNo = false)
    {
        string measured = yesNo ? (value == 1 ? "yes" : "no") : value.ToString("F2", CultureInfo.InvariantCulture);
        table.AppendLine(CultureInfo.InvariantCulture, $"| {goal} | {target} | {measured} | {(met(value) ? "yes" : "**no**")} |");
    }

    private static string Time(double seconds)
        => seconds >= 1e-3 ? $"{seconds * 1e3:F2} ms" : $"{seconds * 1e6:F2} µs";
}
