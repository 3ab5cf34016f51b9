using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Samples.Attention;

/// <summary>Which implementations run: the CPU path, the ILGPU one, or both (and then they are compared).</summary>
public enum DeviceChoice
{
    Both,
    Cpu,
    Ilgpu,
}

public sealed record AttentionOptions
{
    public ProblemSize Shape { get; init; } = new(Batch: 2, Heads: 4, Sequence: 128, HeadDim: 64);

    public bool Causal { get; init; }

    public DeviceChoice Device { get; init; } = DeviceChoice.Both;

    public int Seed { get; init; } = 2026;

    /// <summary>The small double-precision problem of the gradient check.</summary>
    public ProblemSize CheckShape { get; init; } = new(Batch: 1, Heads: 2, Sequence: 5, HeadDim: FusedAttention.DoubleHeadDim);
}

/// <summary>
/// Scaled dot-product attention forward and backward on the CPU and on the best ILGPU accelerator, two ways: unfused
/// (matrix products around the generated softmax, storing S and P) and fused (the generated [Attention] classes, which
/// store nothing of size sequence × sequence); with every check the README promises. The program prints a report and
/// returns its exit code.
/// </summary>
public static class AttentionSample
{
    /// <summary>Agreement between the CPU path and the accelerator, relative to the largest magnitude of each tensor.</summary>
    private const double DeviceBound = 1e-4;

    /// <summary>Agreement between the fused and the unfused path in float, relative to the largest magnitude of each tensor.</summary>
    public const double FusedBound = 1e-5;

    /// <summary>Timed runs of each CPU call (after one warm-up call), and of each ILGPU call, which may run on a slow simulated device.</summary>
    private const int CpuRuns = 3, DeviceRuns = 1;

    private sealed record CostRow(string Path, string Device, Cost Forward, Cost Backward, string ScoreBuffers);

    public static int Run(AttentionOptions options, TextWriter output)
    {
        var shape = options.Shape;
        var random = new Random(options.Seed);
        float[] Draw(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var q = Draw(shape.TokenElements);
        var k = Draw(shape.TokenElements);
        var v = Draw(shape.TokenElements);
        var dO = Draw(shape.TokenElements);
        var fused = FusedAttention.Find(shape.HeadDim, options.Causal);

        output.WriteLine("SoftmaxGen attention sample");
        output.WriteLine($"  Q, K, V, O, dO: {shape} float{(options.Causal ? ", causal" : "")}");
        output.WriteLine(options.Causal
            ? $"  unfused:        S, P [{string.Join(", ", shape.ScoreShape)}], S = Q Kᵀ, P = softmax(S / √d) over the key axis with key k > query q excluded: [Softmax(4, 3, CausalQueryAxis = 2, CausalKeyAxis = 3)] CausalKeySoftmax"
            : $"  unfused:        S, P [{string.Join(", ", shape.ScoreShape)}], S = Q Kᵀ, P = softmax(S / √d) over the key axis: [Softmax(4, 3)] KeySoftmax");
        output.WriteLine(fused is null
            ? $"  fused:          no generated class for head dimension {shape.HeadDim} (this sample has {string.Join(", ", FusedAttention.HeadDims)}); left out"
            : $"  fused:          {fused.Name}: O and one log-sum-exp per query, nothing of size seq × seq");
        output.WriteLine();

        var costs = new List<CostRow>();
        var checks = new List<(string Check, double Value, double Bound)>();
        long scoreBytes = (long)shape.ScoreElements * sizeof(float);
        string unfusedBuffers = $"S, P {Bytes(2 * scoreBytes)}; dP, dS {Bytes(2 * scoreBytes)}";
        string fusedBuffers = $"none (log-sum-exp {Bytes((long)shape.RowElements * sizeof(float))})";

        (AttentionForward<float> Forward, AttentionBackward<float> Backward)? cpu = null;
        if (options.Device != DeviceChoice.Ilgpu)
        {
            var attention = options.Causal
                ? new CpuAttention<float>(CausalKeySoftmax.Forward, CausalKeySoftmax.Backward)
                : new CpuAttention<float>(KeySoftmax.Forward, KeySoftmax.Backward);
            var forward = attention.Forward(shape, q, k, v);
            var backward = attention.Backward(shape, q, k, v, forward, dO);
            costs.Add(new(
                "unfused", "CPU",
                Measurement.Of(() => attention.Forward(shape, q, k, v), CpuRuns),
                Measurement.Of(() => attention.Backward(shape, q, k, v, forward, dO), CpuRuns),
                unfusedBuffers));
            cpu = (forward, backward);
            AddIdentityChecks(checks, "CPU", shape, forward, backward, dO, options.Causal);

            if (fused is not null)
            {
                var attentionShape = shape.ToAttentionShape();
                float scale = (float)shape.Scale;
                var o = new float[shape.TokenElements];
                var lse = new float[shape.RowElements];
                var dQ = new float[shape.TokenElements];
                var dK = new float[shape.TokenElements];
                var dV = new float[shape.TokenElements];
                costs.Add(new(
                    "fused", "CPU",
                    Measurement.Of(() => fused.Forward(q, k, v, o, lse, attentionShape, scale), CpuRuns),
                    Measurement.Of(() => fused.Backward(q, k, v, o, lse, dO, dQ, dK, dV, attentionShape, scale), CpuRuns),
                    fusedBuffers));
                AddFusedChecks(checks, "CPU", shape, new FusedResult<float>(o, lse, dQ, dK, dV), forward, backward, options.Causal);
            }
        }

        if (options.Device != DeviceChoice.Cpu)
        {
            using var context = Context.Create(builder => builder.Default());
            var device = context.Devices.FirstOrDefault(candidate => candidate.AcceleratorType == AcceleratorType.Cuda)
                ?? context.Devices.First(candidate => candidate.AcceleratorType == AcceleratorType.CPU);
            using var accelerator = device.CreateAccelerator(context);
            var attention = new IlgpuAttention(accelerator);
            var (forward, backward, forwardCost, backwardCost) = attention.Unfused(shape, q, k, v, dO, options.Causal, DeviceRuns);
            costs.Add(new("unfused", attention.DeviceName, forwardCost, backwardCost, unfusedBuffers));
            AddIdentityChecks(checks, "ILGPU", shape, forward, backward, dO, options.Causal);
            if (cpu is { } reference)
            {
                checks.Add(("ILGPU = CPU, unfused: P", Difference(forward.Probabilities, reference.Forward.Probabilities), DeviceBound));
                checks.Add(("ILGPU = CPU, unfused: O", Difference(forward.Output, reference.Forward.Output), DeviceBound));
                checks.Add(("ILGPU = CPU, unfused: dQ", Difference(backward.DQ, reference.Backward.DQ), DeviceBound));
                checks.Add(("ILGPU = CPU, unfused: dK", Difference(backward.DK, reference.Backward.DK), DeviceBound));
                checks.Add(("ILGPU = CPU, unfused: dV", Difference(backward.DV, reference.Backward.DV), DeviceBound));
            }

            if (fused is not null)
            {
                var (result, fusedForwardCost, fusedBackwardCost) = attention.Fused(fused, shape, q, k, v, dO, DeviceRuns);
                costs.Add(new("fused", attention.DeviceName, fusedForwardCost, fusedBackwardCost, fusedBuffers));
                AddFusedChecks(checks, "ILGPU", shape, result, forward, backward, options.Causal);
            }
        }

        var checkShape = options.CheckShape;
        var gradient = GradientCheck.Run(checkShape, options.Causal, options.Seed);
        checks.Add(($"finite differences {checkShape}, double, unfused: dQ", gradient.DQ, GradientCheck.Bound));
        checks.Add(($"finite differences {checkShape}, double, unfused: dK", gradient.DK, GradientCheck.Bound));
        checks.Add(($"finite differences {checkShape}, double, unfused: dV", gradient.DV, GradientCheck.Bound));
        checks.Add(($"finite differences {checkShape}, double, fused: dQ", gradient.FusedDQ, GradientCheck.Bound));
        checks.Add(($"finite differences {checkShape}, double, fused: dK", gradient.FusedDK, GradientCheck.Bound));
        checks.Add(($"finite differences {checkShape}, double, fused: dV", gradient.FusedDV, GradientCheck.Bound));

        output.WriteLine("| path | device | forward | backward | allocated per forward | allocated per backward | seq × seq buffers |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---|");
        foreach (var row in costs)
        {
            output.WriteLine($"| {row.Path} | {row.Device} | {row.Forward.Milliseconds:F1} ms | {row.Backward.Milliseconds:F1} ms | {Bytes(row.Forward.AllocatedBytes)} | {Bytes(row.Backward.AllocatedBytes)} | {row.ScoreBuffers} |");
        }

        output.WriteLine();
        bool onCpu = options.Device != DeviceChoice.Ilgpu, onIlgpu = options.Device != DeviceChoice.Cpu;
        output.WriteLine(
            "Times: " + (onCpu ? $"median of {CpuRuns} calls on the CPU" : "") + (onCpu && onIlgpu ? "; " : "")
            + (onIlgpu ? $"{DeviceRuns} call on ILGPU, which waits for the kernels and leaves out transfers" : "") + "; after one warm-up call.");
        output.WriteLine("Allocated: managed bytes per call (GC.GetTotalAllocatedBytes(true), the fewest over the timed calls).");
        if (onCpu)
        {
            output.WriteLine("  CPU: the unfused path allocates its outputs and S, P (forward) or dP, dS (backward) in each call;");
            output.WriteLine("  the fused path writes into output buffers allocated once.");
        }

        if (onIlgpu)
        {
            output.WriteLine("  ILGPU: the buffers are device memory, allocated once, and not counted here.");
        }

        output.WriteLine("seq × seq buffers: the matrices the path stores, per call, on its device (4 bytes an element).");
        output.WriteLine();
        output.WriteLine("| check | max error | bound | |");
        output.WriteLine("|---|---:|---:|---|");
        foreach (var (check, value, bound) in checks)
        {
            output.WriteLine($"| {check} | {value:0.00e+00} | {bound:0e+00} | {(value <= bound ? "ok" : "FAILED")} |");
        }

        output.WriteLine();
        int failed = checks.Count(check => !(check.Value <= check.Bound));
        output.WriteLine(failed == 0
            ? $"every check passed (gradient check: max relative error {gradient.MaxRelativeError:0.00e+00} at {gradient.Worst})"
            : $"FAILED: {failed} check(s) over their bound (gradient check: max relative error {gradient.MaxRelativeError:0.00e+00} at {gradient.Worst})");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>
    /// The fused outputs against the unfused ones of the same device: O, dQ, dK, dV, and the log-sum-exp against
    /// log Σ exp(S / √d) over the unmasked keys of the unfused scores.
    /// </summary>
    private static void AddFusedChecks(
        List<(string, double, double)> checks, string device, ProblemSize shape, FusedResult<float> fused,
        AttentionForward<float> forward, AttentionBackward<float> backward, bool causal)
    {
        checks.Add(($"fused = unfused, {device}: O", Difference(fused.Output, forward.Output), FusedBound));
        checks.Add(($"fused = unfused, {device}: log-sum-exp", Difference(fused.LogSumExp, LogSumExp(shape, forward.Scores, causal)), FusedBound));
        checks.Add(($"fused = unfused, {device}: dQ", Difference(fused.DQ, backward.DQ), FusedBound));
        checks.Add(($"fused = unfused, {device}: dK", Difference(fused.DK, backward.DK), FusedBound));
        checks.Add(($"fused = unfused, {device}: dV", Difference(fused.DV, backward.DV), FusedBound));
    }

    /// <summary>log Σ_j exp(S[i, j] / √d) of every query row, keys after the query left out when causal; in double.</summary>
    public static float[] LogSumExp(ProblemSize shape, float[] scores, bool causal)
    {
        int n = shape.Sequence;
        var lse = new float[shape.RowElements];
        for (int row = 0; row < lse.Length; row++)
        {
            int keys = causal ? row % n + 1 : n;
            double max = double.NegativeInfinity;
            for (int j = 0; j < keys; j++)
            {
                max = Math.Max(max, scores[row * n + j] * shape.Scale);
            }

            double sum = 0;
            for (int j = 0; j < keys; j++)
            {
                sum += Math.Exp(scores[row * n + j] * shape.Scale - max);
            }

            lse[row] = (float)(max + Math.Log(sum));
        }

        return lse;
    }

    /// <summary>A byte count for people: B, KiB or MiB.</summary>
    public static string Bytes(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        _ => $"{bytes / (1024.0 * 1024):0.#} MiB",
    };

    /// <summary>
    /// Rows of P sum to 1 (masked entries are exactly 0), and the identity FlashAttention uses:
    /// rowsum(dP ∘ P) = rowsum(dO ∘ O), since dP = dO Vᵀ and O = P V.
    /// </summary>
    private static void AddIdentityChecks(
        List<(string, double, double)> checks, string device, ProblemSize shape,
        AttentionForward<float> forward, AttentionBackward<float> backward, float[] dO, bool causal)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        double worstSum = 0, worstIdentity = 0, worstMasked = 0;
        for (int row = 0; row < shape.Pairs * n; row++)
        {
            int i = row % n;
            double sum = 0, left = 0, right = 0, magnitude = 0;
            for (int j = 0; j < n; j++)
            {
                double p = forward.Probabilities[row * n + j];
                sum += p;
                left += backward.DP[row * n + j] * p;
                magnitude += Math.Abs(backward.DP[row * n + j] * p);
                if (causal && j > i)
                {
                    worstMasked = Math.Max(worstMasked, Math.Abs(p));
                }
            }

            for (int c = 0; c < d; c++)
            {
                right += (double)dO[row * d + c] * forward.Output[row * d + c];
                magnitude += Math.Abs((double)dO[row * d + c] * forward.Output[row * d + c]);
            }

            worstSum = Math.Max(worstSum, Math.Abs(sum - 1));
            worstIdentity = Math.Max(worstIdentity, Math.Abs(left - right) / Math.Max(magnitude, 1e-30));
        }

        checks.Add(($"{device}: rows of P sum to 1", worstSum, 1e-5));
        if (causal)
        {
            checks.Add(($"{device}: masked entries of P are 0", worstMasked, 0));
        }

        checks.Add(($"{device}: rowsum(dP ∘ P) = rowsum(dO ∘ O), relative", worstIdentity, 1e-5));
    }

    /// <summary>max |x - y| / max |y|.</summary>
    private static double Difference(float[] actual, float[] expected)
    {
        double worst = 0, scale = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs((double)expected[i]));
        }

        return worst / Math.Max(scale, 1e-30);
    }
}
