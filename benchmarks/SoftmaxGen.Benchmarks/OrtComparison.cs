using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// The <c>ort</c> mode: SoftmaxGen beside ONNX Runtime's CPU Softmax and LogSoftmax (opset 13) on the same arrays, in one process,
/// both on the same number of threads (all cores unless --threads says otherwise), ONNX Runtime's idle spinning off, rounds interleaved (each round times both, in alternating
/// order), both past their first calls. Prints ONNX Runtime's time over ours per case: above 1, SoftmaxGen is faster.
/// </summary>
public static class OrtComparison
{
    /// <summary>One comparison: our call and ONNX Runtime's on the same input, and both outputs to check against each other.</summary>
    private sealed record Pair(string Label, Action Ours, Action Theirs, Func<double> Disagreement) : IDisposable
    {
        public List<double> OurSeconds { get; } = [];

        public List<double> TheirSeconds { get; } = [];

        public List<double> Ratios { get; } = [];

        public IDisposable? Session { get; init; }

        public void Dispose() => Session?.Dispose();
    }

    public static string Run(int rounds, int threads)
    {
        var culture = CultureInfo.InvariantCulture;
        var output = new StringBuilder();
        SoftmaxGen.Runtime.CpuSoftmax.MaxDegreeOfParallelism = threads;
        output.AppendLine(culture, $"Machine: {Environment.ProcessorCount} cores, {threads} thread(s) each, {RatioTable.RuntimeInfo()}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}; load average before: {RatioTable.LoadAverage()}");
        output.AppendLine();

        var pairs = new List<Pair>
        {
            Rows<float>("float", [8192, 1024], RowsFloat.Forward),
            Rows<float>("float", [65536, 128], RowsFloat.Forward),
            Rows<float>("float", [256, 32768], RowsFloat.Forward),
            Rows<float>("float", [32768, 1024], RowsFloat.Forward),
            Rows<Half>("half", [8192, 1024], RowsHalf.Forward),
            Rows<double>("double", [8192, 1024], RowsDouble.Forward),
            Rows<double>("double", [16384, 1024], RowsDouble.Forward),
            Compare<float>("softmax_float_rank3_axis1.onnx", "float channels [32, 64, 3136], axis 1", [32, 64, 3136], ChannelsFloat.Forward),
            Rows<float>("float", [8192, 1024], LogRowsFloat.Forward, log: true),
            Rows<float>("float", [65536, 128], LogRowsFloat.Forward, log: true),
            Rows<float>("float", [256, 32768], LogRowsFloat.Forward, log: true),
            Rows<float>("float", [32768, 1024], LogRowsFloat.Forward, log: true),
            Rows<Half>("half", [8192, 1024], LogRowsHalf.Forward, log: true),
            Rows<double>("double", [8192, 1024], LogRowsDouble.Forward, log: true),
            Compare<float>("logsoftmax_float_rank3_axis1.onnx", "log-softmax float channels [32, 64, 3136], axis 1", [32, 64, 3136], LogChannelsFloat.Forward),
        };

        try
        {
            foreach (var pair in pairs)
            {
                // Past the first calls of both: the JIT's and ONNX Runtime's own warm-up.
                for (int call = 0; call < 40; call++)
                {
                    pair.Ours();
                    pair.Theirs();
                }
            }

            for (int round = 0; round < rounds; round++)
            {
                foreach (var pair in pairs)
                {
                    double ours, theirs;
                    if (round % 2 == 0)
                    {
                        ours = Time(pair.Ours);
                        theirs = Time(pair.Theirs);
                    }
                    else
                    {
                        theirs = Time(pair.Theirs);
                        ours = Time(pair.Ours);
                    }

                    pair.OurSeconds.Add(ours);
                    pair.TheirSeconds.Add(theirs);
                    pair.Ratios.Add(theirs / ours);
                }
            }

            output.AppendLine(culture, $"Medians of {rounds} interleaved rounds; each round's time is the median of {CallsPerSample} calls.");
            output.AppendLine();
            output.AppendLine("| case | SoftmaxGen ms | ONNX Runtime ms | ORT / ours (median) | range over rounds | max abs difference |");
            output.AppendLine("|---|---:|---:|---:|---:|---:|");
            foreach (var pair in pairs)
            {
                output.AppendLine(culture,
                    $"| {pair.Label} | {Median(pair.OurSeconds) * 1e3:F3} | {Median(pair.TheirSeconds) * 1e3:F3} | {Median(pair.Ratios):F2} | {pair.Ratios.Min():F2} – {pair.Ratios.Max():F2} | {pair.Disagreement():G2} |");
            }
        }
        finally
        {
            foreach (var pair in pairs)
            {
                pair.Dispose();
            }
        }

        output.AppendLine();
        output.AppendLine(culture, $"Load average after: {RatioTable.LoadAverage()}");
        return output.ToString();
    }

    private const int CallsPerSample = 5;

    internal static double Time(Action call)
    {
        var samples = new double[CallsPerSample];
        for (int i = 0; i < samples.Length; i++)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            samples[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        return Median(samples);
    }

    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(value => value).ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }

    private delegate void Forward<T>(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<int> shape, float scale = 1f);

    private static Pair Rows<T>(string element, int[] shape, Forward<T> forward, bool log = false)
        where T : unmanaged
        => log
            ? Compare($"logsoftmax_{element}_rank2_axis1.onnx", $"log-softmax {element} [{shape[0]}, {shape[1]}]", shape, forward)
            : Compare($"softmax_{element}_rank2_axis1.onnx", $"{element} [{shape[0]}, {shape[1]}]", shape, forward);

    private static Pair Compare<T>(string model, string label, int[] shape, Forward<T> forward)
        where T : unmanaged
    {
        int count = shape.Aggregate(1, (product, extent) => product * extent);
        var random = new Random(count);
        var a = GC.AllocateArray<T>(count, pinned: true);
        var ours = GC.AllocateArray<T>(count, pinned: true);
        var theirs = GC.AllocateArray<T>(count, pinned: true);
        for (int i = 0; i < count; i++)
        {
            a[i] = FromDouble<T>((random.NextDouble() * 8) - 4);
        }

        var options = new SessionOptions { IntraOpNumThreads = SoftmaxGen.Runtime.CpuSoftmax.MaxDegreeOfParallelism, InterOpNumThreads = 1 };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        var session = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "Models", model), options);
        long[] dims = Array.ConvertAll(shape, extent => (long)extent);
        var input = Wrap(a, dims);
        var result = Wrap(theirs, dims);
        var runOptions = new RunOptions();
        string[] inputNames = ["x"];
        string[] outputNames = ["y"];
        OrtValue[] inputs = [input];
        OrtValue[] outputs = [result];
        return new Pair(
            label,
            () => forward(a, ours, shape),
            () => session.Run(runOptions, inputNames, inputs, outputNames, outputs),
            () => Enumerable.Range(0, count).Max(i => Math.Abs(ToDouble(ours[i]) - ToDouble(theirs[i]))))
        {
            Session = new Owner(session, input, result, runOptions, options),
        };
    }

    private static OrtValue Wrap<T>(T[] pinned, long[] dims)
        where T : unmanaged
    {
        var type = typeof(T) == typeof(float) ? TensorElementType.Float : typeof(T) == typeof(double) ? TensorElementType.Double : TensorElementType.Float16;
        long bytes = (long)pinned.Length * Marshal.SizeOf<T>();
        return OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, type, dims, Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0), bytes);
    }

    private static T FromDouble<T>(double value) => typeof(T) == typeof(float) ? (T)(object)(float)value
        : typeof(T) == typeof(double) ? (T)(object)value
        : (T)(object)(Half)value;

    private static double ToDouble<T>(T value) => value switch
    {
        float single => single,
        double wide => wide,
        Half half => (double)half,
        _ => throw new ArgumentException("element type", nameof(value)),
    };

    private sealed class Owner(params IDisposable[] parts) : IDisposable
    {
        public void Dispose()
        {
            foreach (var part in parts)
            {
                part.Dispose();
            }
        }
    }
}
