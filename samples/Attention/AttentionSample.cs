using System;
using System.Collections.Generic;
using System.Diagnostics;
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
    public AttentionShape Shape { get; init; } = new(Batch: 2, Heads: 4, Sequence: 128, HeadDim: 64);

    public bool Causal { get; init; }

    public DeviceChoice Device { get; init; } = DeviceChoice.Both;

    public int Seed { get; init; } = 2026;

    /// <summary>The small double-precision problem of the gradient check.</summary>
    public AttentionShape CheckShape { get; init; } = new(Batch: 1, Heads: 2, Sequence: 5, HeadDim: 3);
}

/// <summary>
/// Scaled dot-product attention forward and backward with the generated softmax, on the CPU and on the best ILGPU
/// accelerator, with every check the README promises; the program prints a report and returns its exit code.
/// </summary>
public static class AttentionSample
{
    /// <summary>Agreement between the CPU path and the accelerator, relative to the largest magnitude of each tensor.</summary>
    private const double DeviceBound = 1e-4;

    public static int Run(AttentionOptions options, TextWriter output)
    {
        var shape = options.Shape;
        var random = new Random(options.Seed);
        float[] Draw(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var q = Draw(shape.TokenElements);
        var k = Draw(shape.TokenElements);
        var v = Draw(shape.TokenElements);
        var dO = Draw(shape.TokenElements);

        output.WriteLine("SoftmaxGen attention sample");
        output.WriteLine($"  Q, K, V, O, dO: {shape} float{(options.Causal ? ", causal" : "")}");
        output.WriteLine(options.Causal
            ? $"  S, P:           [{string.Join(", ", shape.ScoreShape)}], S = Q Kᵀ, P = softmax(S / √d) over the key axis with key k > query q excluded: [Softmax(4, 3, CausalQueryAxis = 2, CausalKeyAxis = 3)] CausalKeySoftmax"
            : $"  S, P:           [{string.Join(", ", shape.ScoreShape)}], S = Q Kᵀ, P = softmax(S / √d) over the key axis: [Softmax(4, 3)] KeySoftmax");
        output.WriteLine();

        var timings = new List<(string Step, string Device, double Milliseconds)>();
        var checks = new List<(string Check, double Value, double Bound)>();

        (AttentionForward<float> Forward, AttentionBackward<float> Backward)? cpu = null;
        if (options.Device != DeviceChoice.Ilgpu)
        {
            var attention = options.Causal
                ? new CpuAttention<float>(CausalKeySoftmax.Forward, CausalKeySoftmax.Backward)
                : new CpuAttention<float>(KeySoftmax.Forward, KeySoftmax.Backward);
            var forward = attention.Forward(shape, q, k, v);
            var backward = attention.Backward(shape, q, k, v, forward, dO);
            timings.Add(("forward: S, P, O", "CPU", Time(() => attention.Forward(shape, q, k, v))));
            timings.Add(("backward: dV, dP, dS, dQ, dK", "CPU", Time(() => attention.Backward(shape, q, k, v, forward, dO))));
            cpu = (forward, backward);
            AddIdentityChecks(checks, "CPU", shape, forward, backward, dO, options.Causal);
        }

        if (options.Device != DeviceChoice.Cpu)
        {
            using var context = Context.Create(builder => builder.Default());
            var device = context.Devices.FirstOrDefault(candidate => candidate.AcceleratorType == AcceleratorType.Cuda)
                ?? context.Devices.First(candidate => candidate.AcceleratorType == AcceleratorType.CPU);
            using var accelerator = device.CreateAccelerator(context);
            var attention = new IlgpuAttention(accelerator);
            var result = attention.Step(shape, q, k, v, dO, options.Causal);
            // The first step above compiled the kernels; a simulated device is slow, so time one more step only.
            timings.Add(("forward + backward (with transfers)", attention.DeviceName, Time(() => attention.Step(shape, q, k, v, dO, options.Causal), runs: 1)));
            AddIdentityChecks(checks, "ILGPU", shape, result.Forward, result.Backward, dO, options.Causal);
            if (cpu is { } reference)
            {
                checks.Add(("ILGPU = CPU: P", Difference(result.Forward.Probabilities, reference.Forward.Probabilities), DeviceBound));
                checks.Add(("ILGPU = CPU: O", Difference(result.Forward.Output, reference.Forward.Output), DeviceBound));
                checks.Add(("ILGPU = CPU: dQ", Difference(result.Backward.DQ, reference.Backward.DQ), DeviceBound));
                checks.Add(("ILGPU = CPU: dK", Difference(result.Backward.DK, reference.Backward.DK), DeviceBound));
                checks.Add(("ILGPU = CPU: dV", Difference(result.Backward.DV, reference.Backward.DV), DeviceBound));
            }
        }

        var gradient = GradientCheck.Run(options.CheckShape, options.Causal, options.Seed);
        checks.Add(($"finite differences {options.CheckShape}, double: dQ", gradient.DQ, GradientCheck.Bound));
        checks.Add(($"finite differences {options.CheckShape}, double: dK", gradient.DK, GradientCheck.Bound));
        checks.Add(($"finite differences {options.CheckShape}, double: dV", gradient.DV, GradientCheck.Bound));

        output.WriteLine("| step | device | time per step |");
        output.WriteLine("|---|---|---:|");
        foreach (var (step, device, milliseconds) in timings)
        {
            output.WriteLine($"| {step} | {device} | {milliseconds:F1} ms |");
        }

        output.WriteLine();
        output.WriteLine("| check | max error | bound | |");
        output.WriteLine("|---|---:|---:|---|");
        foreach (var (check, value, bound) in checks)
        {
            output.WriteLine($"| {check} | {value:0.00e+00} | {bound:0e+00} | {(value <= bound ? "ok" : "FAILED")} |");
        }

        output.WriteLine();
        bool passed = checks.All(check => check.Value <= check.Bound);
        output.WriteLine(passed
            ? $"gradient check: passed (max relative error {gradient.MaxRelativeError:0.00e+00})"
            : $"gradient check: FAILED (max relative error {gradient.MaxRelativeError:0.00e+00} at {gradient.Worst}; {checks.Count(check => !(check.Value <= check.Bound))} check(s) failed)");
        return passed ? 0 : 1;
    }

    /// <summary>
    /// Rows of P sum to 1 (masked entries are exactly 0), and the identity FlashAttention uses:
    /// rowsum(dP ∘ P) = rowsum(dO ∘ O), since dP = dO Vᵀ and O = P V.
    /// </summary>
    private static void AddIdentityChecks(
        List<(string, double, double)> checks, string device, AttentionShape shape,
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

    /// <summary>Median wall time of a few runs, in milliseconds.</summary>
    private static double Time(Action step, int runs = 3)
    {
        var times = new double[runs];
        for (int i = 0; i < times.Length; i++)
        {
            var clock = Stopwatch.StartNew();
            step();
            times[i] = clock.Elapsed.TotalMilliseconds;
        }

        Array.Sort(times);
        return times[runs / 2];
    }
}
