using System;
using System.Linq;

namespace SoftmaxGen.Samples.Attention;

/// <summary>
/// The analytic gradients of L = Σ dO ∘ O, in double, against central finite differences of the forward pass:
/// ∂L/∂x ≈ (L(x + h) - L(x - h)) / 2h for every element x of Q, K and V.
/// </summary>
public static class GradientCheck
{
    public const double Step = 1e-5;

    /// <summary>Passing bound on the relative error |analytic - numeric| / (|analytic| + |numeric|).</summary>
    public const double Bound = 1e-6;

    public sealed record Result(double MaxRelativeError, string Worst, double DQ, double DK, double DV)
    {
        public bool Passed => MaxRelativeError <= Bound;
    }

    public static Result Run(AttentionShape shape, bool causal, int seed)
    {
        var attention = causal
            ? new CpuAttention<double>(CausalKeySoftmaxDouble.Forward, CausalKeySoftmaxDouble.Backward)
            : new CpuAttention<double>(KeySoftmaxDouble.Forward, KeySoftmaxDouble.Backward);
        var random = new Random(seed);
        double[] Draw(int count) => Enumerable.Range(0, count).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var q = Draw(shape.TokenElements);
        var k = Draw(shape.TokenElements);
        var v = Draw(shape.TokenElements);
        var dO = Draw(shape.TokenElements);

        var forward = attention.Forward(shape, q, k, v);
        var gradients = attention.Backward(shape, q, k, v, forward, dO);

        double Loss() => Dot(dO, attention.Forward(shape, q, k, v).Output);
        var dQ = Compare(q, gradients.DQ, Loss);
        var dK = Compare(k, gradients.DK, Loss);
        var dV = Compare(v, gradients.DV, Loss);
        var worst = new[] { ("dQ", dQ), ("dK", dK), ("dV", dV) }.MaxBy(entry => entry.Item2.Error);
        return new Result(worst.Item2.Error, $"{worst.Item1}[{worst.Item2.Index}]", dQ.Error, dK.Error, dV.Error);
    }

    /// <summary>The largest relative error between <paramref name="analytic"/> and central differences of <paramref name="loss"/> in <paramref name="input"/>.</summary>
    public static (double Error, int Index) Compare(double[] input, double[] analytic, Func<double> loss)
    {
        double worst = 0;
        int index = -1;
        for (int i = 0; i < input.Length; i++)
        {
            double saved = input[i];
            input[i] = saved + Step;
            double plus = loss();
            input[i] = saved - Step;
            double minus = loss();
            input[i] = saved;
            double error = RelativeError(analytic[i], (plus - minus) / (2 * Step));
            if (error > worst || index < 0)
            {
                worst = error;
                index = i;
            }
        }

        return (worst, index);
    }

    /// <summary>|a - n| / (|a| + |n|), with gradients below 1e-9 in size compared absolutely.</summary>
    public static double RelativeError(double analytic, double numeric) =>
        Math.Abs(analytic - numeric) / Math.Max(Math.Abs(analytic) + Math.Abs(numeric), 1e-9);

    private static double Dot(double[] x, double[] y)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return sum;
    }
}
