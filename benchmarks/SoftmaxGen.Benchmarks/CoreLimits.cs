using System;
using System.Collections.Generic;
using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Text;
using System.Threading.Tasks;
using SoftmaxGen.Runtime;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// The cores mode: what one core moves against what all of them move, for the plain streams and the backward kernels
/// (float, 128 MiB, one cotangent). A read stream (a dot product of two arrays) and a non-temporal write stream (a
/// plain fill where Vector512 is not accelerated) show each core's own limits; the rows, channels and scattered
/// backward show which of them the kernels hit. Each case is timed with one thread and with all, round-robin in one
/// process, and printed as effective bandwidth.
/// </summary>
public static class CoreLimits
{
    public static string Run(int rounds)
    {
        var culture = CultureInfo.InvariantCulture;
        var rows = Kernels.Shape<float>(Layout.Rows);
        int count = rows[0] * rows[1];
        double bytes = (double)count * sizeof(float);
        var a = Kernels.Logits<float>(count, 1);
        var dB = Kernels.Logits<float>(count, 2);
        var dA = new float[count];
        var written = new float[count];

        int all = Environment.ProcessorCount;
        var pairs = new List<(Case One, Case All)>();
        void Add(string key, string label, double moved, Action<int> run)
            => pairs.Add((new Case(key + "1", label, moved, () => run(1)), new Case(key + "N", label, moved, () => run(all))));

        Add("read", "read stream: dot product of two arrays (2·N·4 bytes)", 2 * bytes, threads => ReadStream(a, dB, threads));
        string fill = Vector512.IsHardwareAccelerated ? "non-temporal fill" : "fill";
        Add("write", $"write stream: {fill} (N·4 bytes)", bytes, threads => WriteStream(written, threads));
        foreach (var layout in new[] { Layout.Rows, Layout.Channels, Layout.Scattered })
        {
            var shape = Kernels.Shape<float>(layout);
            var b = new float[count];
            Kernels.Forward(layout, a, b, shape);
            Add(layout.ToString(), $"backward [{string.Join(", ", shape)}], 1 cotangent (3·N·4 bytes)", 3 * bytes, threads => Backward(layout, b, dB, dA, shape, threads));
        }

        var cases = new List<Case>();
        foreach (var (one, many) in pairs)
        {
            cases.Add(one);
            cases.Add(many);
        }

        Case.MeasureAll(cases, rounds);
        var output = new StringBuilder();
        output.AppendLine(culture, $"Machine: {all} cores, {RatioTable.RuntimeInfo()}; load average: {RatioTable.LoadAverage()}");
        output.AppendLine();
        output.AppendLine(culture, $"### One core against {all}, float, 128 MiB, {rounds} rounds");
        output.AppendLine();
        output.AppendLine(culture, $"| case | 1 thread | {all} threads | {all} threads / 1 |");
        output.AppendLine("|---|---:|---:|---:|");
        foreach (var (one, many) in pairs)
        {
            output.AppendLine(culture, $"| {one.Label} | {one.GigabytesPerSecond:F1} GB/s | {many.GigabytesPerSecond:F1} GB/s | {one.Seconds / many.Seconds:F2} |");
        }

        // The goal lines of issue 4: a lanes backward's throughput over the last axis's, with one thread and with all.
        var (rowsOne, rowsAll) = pairs.Find(pair => pair.One.Key == "Rows1");
        output.AppendLine();
        foreach (var (one, many) in pairs.FindAll(pair => pair.One.Key is "Channels1" or "Scattered1"))
        {
            output.AppendLine(culture, $"{one.Key[..^1].ToLowerInvariant()} backward throughput / last axis: 1 thread {rowsOne.Seconds / one.Seconds:F2}, {all} threads {rowsAll.Seconds / many.Seconds:F2}");
        }

        return output.ToString();
    }

    private static void Backward(Layout layout, float[] b, float[] dB, float[] dA, int[] shape, int threads)
    {
        int before = CpuSoftmax.MaxDegreeOfParallelism;
        CpuSoftmax.MaxDegreeOfParallelism = threads;
        try
        {
            Kernels.Backward(layout, b, dB, dA, shape);
        }
        finally
        {
            CpuSoftmax.MaxDegreeOfParallelism = before;
        }
    }

    /// <summary>Splits [0, count) into one contiguous range per thread.</summary>
    private static void Split(int count, int threads, Action<int, int> body)
        => Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, part => body((int)((long)count * part / threads), (int)((long)count * (part + 1) / threads)));

    private static float sink;

    private static void ReadStream(float[] x, float[] y, int threads)
        => Split(x.Length, threads, (first, end) => sink = TensorPrimitives.Dot(x.AsSpan(first, end - first), y.AsSpan(first, end - first)));

    private static unsafe void WriteStream(float[] z, int threads)
        => Split(z.Length, threads, (first, end) =>
        {
            fixed (float* start = z)
            {
                float* p = start + first;
                int length = end - first;
                int i = 0;
                if (Vector512.IsHardwareAccelerated)
                {
                    for (; i < length && ((nuint)(p + i) & 63) != 0; i++)
                    {
                        p[i] = 1f;
                    }

                    var one = Vector512.Create(1f);
                    for (; i + Vector512<float>.Count <= length; i += Vector512<float>.Count)
                    {
                        Vector512.StoreAlignedNonTemporal(one, p + i);
                    }

                    System.Runtime.Intrinsics.X86.Sse.StoreFence();
                }

                new Span<float>(p + i, length - i).Fill(1f);
            }
        });
}
