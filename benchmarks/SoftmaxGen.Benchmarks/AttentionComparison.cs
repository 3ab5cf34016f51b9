using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Unfused = SoftmaxGen.Samples.Attention;

namespace SoftmaxGen.Benchmarks;

/// <summary>Fused attention, head dimension 64, float: the `attention` mode's kernels.</summary>
[Attention(64)]
public static partial class Attention64 { }

/// <summary>The same with the bottom-right aligned causal mask.</summary>
[Attention(64, Causal = true)]
public static partial class CausalAttention64 { }

/// <summary>
/// The <c>attention</c> mode: the generated fused attention (float, head dimension 64) beside ONNX Runtime's
/// com.microsoft.MultiHeadAttention (non-causal) and opset-23 Attention with is_causal = 1, on the same inputs, the same
/// number of threads, ONNX Runtime's idle spinning off, rounds interleaved; then our backward against our forward, the
/// fused forward + backward against the unfused path of samples/Attention, and the managed bytes each call allocates.
/// </summary>
public static class AttentionComparison
{
    private const int HeadDim = 64;
    private const float Scale = 0.125f; // 1/√64, also the default scale of both ONNX Runtime operators

    private static readonly string[] MhaInputNames = ["query", "key", "value"];
    private static readonly string[] MhaOutputNames = ["output"];
    private static readonly string[] Attention23InputNames = ["Q", "K", "V"];
    private static readonly string[] Attention23OutputNames = ["Y"];

    /// <summary>One problem size: inputs in [B, H, S, D] (ours, Attention-23) and [B, S, H·D] (MultiHeadAttention), and every output.</summary>
    private sealed class Problem
    {
        public Problem(int batch, int heads, int length, int seed)
        {
            Shape = new AttentionShape(batch, heads, heads, length, length);
            int count = batch * heads * length * HeadDim;
            var random = new Random(seed);
            float[] Draw()
            {
                var array = GC.AllocateArray<float>(count, pinned: true);
                for (int i = 0; i < count; i++)
                {
                    array[i] = (float)((random.NextDouble() * 2) - 1);
                }

                return array;
            }

            Q = Draw();
            K = Draw();
            V = Draw();
            DO = Draw();
            O = new float[count];
            CausalO = new float[count];
            Lse = new float[batch * heads * length];
            CausalLse = new float[Lse.Length];
            DQ = new float[count];
            DK = new float[count];
            DV = new float[count];
            QTokens = Tokens(Q);
            KTokens = Tokens(K);
            VTokens = Tokens(V);
            MhaO = GC.AllocateArray<float>(count, pinned: true);
            Attention23O = GC.AllocateArray<float>(count, pinned: true);
        }

        public AttentionShape Shape { get; }

        public float[] Q { get; }

        public float[] K { get; }

        public float[] V { get; }

        public float[] DO { get; }

        public float[] O { get; }

        public float[] CausalO { get; }

        public float[] Lse { get; }

        public float[] CausalLse { get; }

        public float[] DQ { get; }

        public float[] DK { get; }

        public float[] DV { get; }

        /// <summary>Q, K and V as [B, S, H·D], the layout of MultiHeadAttention.</summary>
        public float[] QTokens { get; }

        public float[] KTokens { get; }

        public float[] VTokens { get; }

        /// <summary>MultiHeadAttention's output, [B, S, H·D].</summary>
        public float[] MhaO { get; }

        /// <summary>Attention-23's causal output, [B, H, S, D].</summary>
        public float[] Attention23O { get; }

        public string Label => $"[{Shape.Batch}, {Shape.Heads}, {Shape.QueryLength}, {HeadDim}]";

        public void Forward() => Attention64.Forward(Q, K, V, O, Lse, Shape, Scale);

        public void CausalForward() => CausalAttention64.Forward(Q, K, V, CausalO, CausalLse, Shape, Scale);

        public void Backward() => Attention64.Backward(Q, K, V, O, Lse, DO, DQ, DK, DV, Shape, Scale);

        public void CausalBackward() => CausalAttention64.Backward(Q, K, V, CausalO, CausalLse, DO, DQ, DK, DV, Shape, Scale);

        /// <summary>[B, H, S, D] → [B, S, H, D] = [B, S, H·D].</summary>
        public float[] Tokens(float[] heads)
        {
            var tokens = GC.AllocateArray<float>(heads.Length, pinned: true);
            int h = Shape.Heads, s = Shape.QueryLength;
            for (int b = 0; b < Shape.Batch; b++)
            {
                for (int head = 0; head < h; head++)
                {
                    for (int position = 0; position < s; position++)
                    {
                        heads.AsSpan((((b * h) + head) * s + position) * HeadDim, HeadDim)
                            .CopyTo(tokens.AsSpan((((b * s) + position) * h + head) * HeadDim, HeadDim));
                    }
                }
            }

            return tokens;
        }
    }

    /// <summary>One timed operation, or a pair of them timed in alternating order each round.</summary>
    private sealed record Timed(string Label, Action First, Action? Second = null)
    {
        public List<double> FirstSeconds { get; } = [];

        public List<double> SecondSeconds { get; } = [];

        public List<double> Ratios { get; } = [];

        /// <summary>Calls per sample: each round's time is their median.</summary>
        public int Calls { get; init; } = 3;

        /// <summary>Collect garbage before each sample, so that neither side pays for the other's (the unfused path allocates hundreds of MiB per call).</summary>
        public bool Collect { get; init; }
    }

    public static string Run(int rounds, int threads)
    {
        var culture = CultureInfo.InvariantCulture;
        var output = new StringBuilder();
        SoftmaxGen.Runtime.CpuSoftmax.MaxDegreeOfParallelism = threads;
        output.AppendLine(culture, $"Machine: {Environment.ProcessorCount} cores, {threads} thread(s) each, {RatioTable.RuntimeInfo()}, ONNX Runtime {OrtEnv.Instance().GetVersionString()}; load average before: {RatioTable.LoadAverage()}");
        output.AppendLine(culture, $"Float, head dimension {HeadDim}, scale 1/√{HeadDim}, Q = K, inputs uniform in [-1, 1]. Causal: key k excluded for query q when k > q + K − Q.");
        output.AppendLine();

        var problems = new[] { new Problem(1, 8, 512, 512), new Problem(1, 8, 2048, 2048) };
        var disposables = new List<IDisposable>();
        try
        {
            var options = new SessionOptions { IntraOpNumThreads = threads, InterOpNumThreads = 1 };
            options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            disposables.Add(options);
            var mha = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "Models", "multiheadattention_float_heads8.onnx"), options);
            disposables.Add(mha);
            var attention23 = new InferenceSession(Path.Combine(AppContext.BaseDirectory, "Models", "attention23_float_causal.onnx"), options);
            disposables.Add(attention23);
            var runOptions = new RunOptions();
            disposables.Add(runOptions);

            // Each problem: first checks (one call of each, outputs compared), then the timed pairs.
            var ortPairs = new List<(Timed Pair, double Flops, double Difference)>();
            var directions = new List<(Timed Forward, Timed Backward)>();
            foreach (var problem in problems)
            {
                var shape = problem.Shape;
                long[] tokenDims = [shape.Batch, shape.QueryLength, shape.Heads * HeadDim];
                long[] headDims = [shape.Batch, shape.Heads, shape.QueryLength, HeadDim];
                OrtValue[] mhaInputs = [Wrap(problem.QTokens, tokenDims), Wrap(problem.KTokens, tokenDims), Wrap(problem.VTokens, tokenDims)];
                OrtValue[] mhaOutputs = [Wrap(problem.MhaO, tokenDims)];
                OrtValue[] attentionInputs = [Wrap(problem.Q, headDims), Wrap(problem.K, headDims), Wrap(problem.V, headDims)];
                OrtValue[] attentionOutputs = [Wrap(problem.Attention23O, headDims)];
                disposables.AddRange(mhaInputs);
                disposables.AddRange(mhaOutputs);
                disposables.AddRange(attentionInputs);
                disposables.AddRange(attentionOutputs);
                Action runMha = () => mha.Run(runOptions, MhaInputNames, mhaInputs, MhaOutputNames, mhaOutputs);
                Action runAttention23 = () => attention23.Run(runOptions, Attention23InputNames, attentionInputs, Attention23OutputNames, attentionOutputs);

                problem.Forward();
                problem.CausalForward();
                runMha();
                runAttention23();
                double mhaDifference = MaxDifference(problem.Tokens(problem.O), problem.MhaO);
                double attentionDifference = MaxDifference(problem.CausalO, problem.Attention23O);

                double pairs = (double)shape.Batch * shape.Heads * shape.QueryLength * shape.KeyLength;
                double causalPairs = (double)shape.Batch * shape.Heads * IncludedPairs(shape.QueryLength, shape.KeyLength);
                ortPairs.Add((new Timed($"{problem.Label} non-causal: ours vs MultiHeadAttention", problem.Forward, runMha), 4 * pairs * HeadDim, mhaDifference));
                ortPairs.Add((new Timed($"{problem.Label} causal: ours vs Attention-23 (is_causal = 1)", problem.CausalForward, runAttention23), 4 * causalPairs * HeadDim, attentionDifference));
                directions.Add((new Timed($"{problem.Label} non-causal", problem.Forward), new Timed($"{problem.Label} non-causal", problem.Backward)));
                directions.Add((new Timed($"{problem.Label} causal", problem.CausalForward), new Timed($"{problem.Label} causal", problem.CausalBackward)));
            }

            // Fused forward + backward against the unfused path at K = 2048.
            var large = problems[^1];
            var sampleShape = new Unfused.ProblemSize(large.Shape.Batch, large.Shape.Heads, large.Shape.QueryLength, HeadDim);
            var unfused = new Unfused.CpuAttention<float>(Unfused.KeySoftmax.Forward, Unfused.KeySoftmax.Backward);
            var causalUnfused = new Unfused.CpuAttention<float>(Unfused.CausalKeySoftmax.Forward, Unfused.CausalKeySoftmax.Backward);
            var fusedPairs = new List<Timed>
            {
                new($"{large.Label} non-causal", () => { large.Forward(); large.Backward(); }, () => unfused.Backward(sampleShape, large.Q, large.K, large.V, unfused.Forward(sampleShape, large.Q, large.K, large.V), large.DO)) { Calls = 1, Collect = true },
                new($"{large.Label} causal", () => { large.CausalForward(); large.CausalBackward(); }, () => causalUnfused.Backward(sampleShape, large.Q, large.K, large.V, causalUnfused.Forward(sampleShape, large.Q, large.K, large.V), large.DO)) { Calls = 1, Collect = true },
            };

            var all = ortPairs.Select(entry => entry.Pair)
                .Concat(directions.SelectMany(entry => new[] { entry.Forward, entry.Backward }))
                .Concat(fusedPairs)
                .ToList();

            // Warm-up: past the JIT's and ONNX Runtime's first calls.
            foreach (var timed in all)
            {
                timed.First();
                timed.Second?.Invoke();
            }

            for (int round = 0; round < rounds; round++)
            {
                foreach (var timed in all)
                {
                    if (timed.Second is null)
                    {
                        timed.FirstSeconds.Add(Time(timed.First, timed.Calls, timed.Collect));
                        continue;
                    }

                    double first, second;
                    if (round % 2 == 0)
                    {
                        first = Time(timed.First, timed.Calls, timed.Collect);
                        second = Time(timed.Second, timed.Calls, timed.Collect);
                    }
                    else
                    {
                        second = Time(timed.Second, timed.Calls, timed.Collect);
                        first = Time(timed.First, timed.Calls, timed.Collect);
                    }

                    timed.FirstSeconds.Add(first);
                    timed.SecondSeconds.Add(second);
                    timed.Ratios.Add(second / first);
                }
            }

            output.AppendLine(culture, $"Medians of {rounds} interleaved rounds (each round's time the median of 3 calls; forward + backward: 1 call, after a full garbage collection). Useful GFLOP/s: 4·B·H·D per included (query, key) pair.");
            output.AppendLine();
            output.AppendLine("| forward | ours ms | ours GFLOP/s | ONNX Runtime ms | ONNX Runtime GFLOP/s | ORT / ours (median) | range over rounds | max abs difference |");
            output.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (pair, flops, difference) in ortPairs)
            {
                double ours = OrtComparison.Median(pair.FirstSeconds), theirs = OrtComparison.Median(pair.SecondSeconds);
                output.AppendLine(culture,
                    $"| {pair.Label} | {ours * 1e3:F2} | {flops / ours / 1e9:F1} | {theirs * 1e3:F2} | {flops / theirs / 1e9:F1} | {OrtComparison.Median(pair.Ratios):F2} | {pair.Ratios.Min():F2} – {pair.Ratios.Max():F2} | {difference:G2} |");
            }

            output.AppendLine();
            output.AppendLine("| ours | forward ms | backward ms | backward / forward |");
            output.AppendLine("|---|---:|---:|---:|");
            foreach (var (forward, backward) in directions)
            {
                double f = OrtComparison.Median(forward.FirstSeconds), b = OrtComparison.Median(backward.FirstSeconds);
                output.AppendLine(culture, $"| {forward.Label} | {f * 1e3:F2} | {b * 1e3:F2} | {b / f:F2} |");
            }

            output.AppendLine();
            output.AppendLine("| forward + backward | fused ms | unfused (samples/Attention) ms | unfused / fused (median) | range over rounds |");
            output.AppendLine("|---|---:|---:|---:|---:|");
            foreach (var pair in fusedPairs)
            {
                output.AppendLine(culture,
                    $"| {pair.Label} | {OrtComparison.Median(pair.FirstSeconds) * 1e3:F1} | {OrtComparison.Median(pair.SecondSeconds) * 1e3:F1} | {OrtComparison.Median(pair.Ratios):F2} | {pair.Ratios.Min():F2} – {pair.Ratios.Max():F2} |");
            }
        }
        finally
        {
            foreach (var disposable in Enumerable.Reverse(disposables))
            {
                disposable.Dispose();
            }
        }

        output.AppendLine();
        output.AppendLine(Allocations());
        output.AppendLine(culture, $"Load average after: {RatioTable.LoadAverage()}");
        return output.ToString();
    }

    /// <summary>
    /// Managed bytes allocated by one call (all threads), after a warm-up call: the fused forward and backward, and the
    /// unfused path's (which allocates S, P, O and dV, dP, dS, dQ, dK on every call). The unfused path at K = 8192 is
    /// measured once, past a warm-up at K = 512, since one call of it takes long.
    /// </summary>
    private static string Allocations()
    {
        var culture = CultureInfo.InvariantCulture;
        var output = new StringBuilder();
        output.AppendLine("| managed bytes per call | fused forward | fused backward | unfused forward | unfused backward |");
        output.AppendLine("|---|---:|---:|---:|---:|");
        var small = new Problem(1, 8, 512, 1);
        var smallShape = new Unfused.ProblemSize(1, 8, 512, HeadDim);
        var unfused = new Unfused.CpuAttention<float>(Unfused.KeySoftmax.Forward, Unfused.KeySoftmax.Backward);
        foreach (var problem in new[] { small, new Problem(1, 1, 8192, 2) })
        {
            var sampleShape = new Unfused.ProblemSize(problem.Shape.Batch, problem.Shape.Heads, problem.Shape.QueryLength, HeadDim);
            problem.Forward();
            problem.Backward();
            long forward = Allocated(problem.Forward);
            long backward = Allocated(problem.Backward);

            // Warm-up at K = 512, then one measured call at this size.
            unfused.Backward(smallShape, small.Q, small.K, small.V, unfused.Forward(smallShape, small.Q, small.K, small.V), small.DO);
            Unfused.AttentionForward<float>? activations = null;
            long unfusedForward = Allocated(() => activations = unfused.Forward(sampleShape, problem.Q, problem.K, problem.V));
            long unfusedBackward = Allocated(() => unfused.Backward(sampleShape, problem.Q, problem.K, problem.V, activations!, problem.DO));
            activations = null;
            output.AppendLine(culture, $"| {problem.Label} | {forward:N0} | {backward:N0} | {unfusedForward:N0} | {unfusedBackward:N0} |");
            GC.Collect();
        }

        return output.ToString();
    }

    private static long Allocated(Action call)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        call();
        return GC.GetTotalAllocatedBytes(precise: true) - before;
    }

    /// <summary>(query, key) pairs the bottom-right aligned causal mask keeps: key k for query q when k ≤ q + K − Q.</summary>
    internal static long IncludedPairs(int queryLength, int keyLength)
    {
        long count = 0;
        for (int q = 0; q < queryLength; q++)
        {
            count += Math.Clamp(q + keyLength - queryLength + 1, 0, keyLength);
        }

        return count;
    }

    private static double Time(Action call, int calls, bool collect)
    {
        var samples = new double[calls];
        for (int i = 0; i < calls; i++)
        {
            if (collect)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
            }

            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            call();
            samples[i] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds;
        }

        return OrtComparison.Median(samples);
    }

    private static double MaxDifference(float[] x, float[] y)
    {
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs((double)x[i] - y[i]));
        }

        return worst;
    }

    private static OrtValue Wrap(float[] pinned, long[] dims)
        => OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, TensorElementType.Float, dims, Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0), (long)pinned.Length * sizeof(float));
}
