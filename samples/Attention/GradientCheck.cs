using System;
using System.Linq;

namespace SoftmaxGen.Samples.Attention;

/// <summary>
/// The analytic gradients of L = Σ dO ∘ O, in double, against central finite differences of the forward pass:
/// ∂L/∂x ≈ (L(x + h) - L(x - h)) / 2h for every element x of Q, K and V. Both paths are checked: the unfused one
/// (matrix products around the generated softmax) against differences of its forward, and the generated fused class
/// against differences of its own forward.
/// </summary>
public static class GradientCheck
{
    public const double Step = 1e-5;

    /// <summary>Passing bound on the relative error |analytic - numeric| / (|analytic| + |numeric|).</summary>
    public const double Bound = 1e-6;

    /// <summary>The largest relative error of each gradient, for the unfused and the fused path.</summary>
    public sealed record Result(double MaxRelativeError, string Worst, double DQ, double DK, double DV, double FusedDQ, double FusedDK, double FusedDV)
    {
        public bool Passed => MaxRelativeError <= Bound;
    }

    /// <summary>Checks a problem whose head dimension is <see cref="FusedAttention.DoubleHeadDim"/> (the double class's).</summary>
    public static Result Run(ProblemSize shape, bool causal, int seed)
    {
        if (shape.HeadDim != FusedAttention.DoubleHeadDim)
        {
            throw new ArgumentException(
                $"the gradient check runs the generated double class, whose head dimension is {FusedAttention.DoubleHeadDim}, not {shape.HeadDim}", nameof(shape));
        }

        var attention = causal
            ? new CpuAttention<double>(CausalKeySoftmaxDouble.Forward, CausalKeySoftmaxDouble.Backward)
            : new CpuAttention<double>(KeySoftmaxDouble.Forward, KeySoftmaxDouble.Backward);
        var (fusedForward, fusedBackward) = FusedAttention.Double(causal);
        var random = new Random(seed);
        double[] Draw(int count) => Enumerable.Range(0, count).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        var q = Draw(shape.TokenElements);
        var k = Draw(shape.TokenElements);
        var v = Draw(shape.TokenElements);
        var dO = Draw(shape.TokenElements);

        var forward = attention.Forward(shape, q, k, v);
        var gradients = attention.Backward(shape, q, k, v, forward, dO);
        var fused = FusedAttention.Run(fusedForward, fusedBackward, shape, q, k, v, dO);

        double Loss() => Dot(dO, attention.Forward(shape, q, k, v).Output);
        var o = new double[shape.TokenElements];
        var lse = new float[shape.RowElements];
        double FusedLoss()
        {
            fusedForward(q, k, v, o, lse, shape.ToAttentionShape(), (float)shape.Scale);
            return Dot(dO, o);
        }

        var errors = new[]
        {
            ("dQ", Compare(q, gradients.DQ, Loss)),
            ("dK", Compare(k, gradients.DK, Loss)),
            ("dV", Compare(v, gradients.DV, Loss)),
            ("fused dQ", Compare(q, fused.DQ, FusedLoss)),
            ("fused dK", Compare(k, fused.DK, FusedLoss)),
            ("fused dV", Compare(v, fused.DV, FusedLoss)),
        };
        var worst = errors.MaxBy(entry => entry.Item2.Error);
        return new Result(
            worst.Item2.Error, $"{worst.Item1}[{worst.Item2.Index}]",
            errors[0].Item2.Error, errors[1].Item2.Error, errors[2].Item2.Error,
            errors[3].Item2.Error, errors[4].Item2.Error, errors[5].Item2.Error);
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
