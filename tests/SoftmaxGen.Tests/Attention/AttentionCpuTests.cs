using System;
using System.Linq;
using SoftmaxGen;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Fused;

/// <summary>
/// The span overloads of every attention class against the float64 reference (<see cref="AttentionReference"/>): one,
/// odd and unequal lengths both ways, several batches, grouped heads, causal and not, sizes around the CPU tiles (key
/// tile 64; query tile 64, or 32 above head dimension 128). Bounds: <see cref="AttentionBounds"/>.
/// </summary>
public sealed class AttentionCpuTests
{
    public static TheoryData<string, int, int, int, int, int> Cases() => new()
    {
        // kernel, batch, heads, key/value heads, query length, key length
        { "AttentionFloat1", 1, 1, 1, 1, 1 },
        { "AttentionFloat1", 2, 3, 3, 5, 9 },
        { "AttentionFloat1", 1, 4, 2, 65, 63 },
        { "AttentionFloat7Causal", 1, 1, 1, 1, 1 },
        { "AttentionFloat7Causal", 2, 4, 2, 7, 13 },
        { "AttentionFloat7Causal", 1, 4, 1, 13, 7 },
        { "AttentionFloat7Causal", 1, 2, 2, 64, 64 },
        { "AttentionFloat7Causal", 1, 1, 1, 130, 65 },
        { "AttentionFloat16", 3, 4, 1, 17, 130 },
        { "AttentionFloat16", 1, 2, 2, 63, 65 },
        { "AttentionFloat16Causal", 2, 4, 4, 65, 64 },
        { "AttentionFloat16Causal", 1, 4, 2, 130, 130 },
        { "AttentionFloat64", 1, 4, 2, 64, 65 },
        { "AttentionFloat64", 2, 2, 1, 1, 130 },
        { "AttentionFloat64", 1, 1, 1, 130, 1 },
        { "AttentionFloat64Causal", 1, 4, 1, 63, 130 },
        { "AttentionFloat64Causal", 2, 4, 2, 130, 63 },
        { "AttentionFloat80Causal", 1, 2, 1, 33, 31 },
        { "AttentionFloat80Causal", 1, 2, 2, 65, 66 },
        { "AttentionFloat128", 1, 4, 2, 65, 129 },
        { "AttentionFloat256", 1, 2, 1, 33, 65 },
        { "AttentionFloat256", 1, 1, 1, 64, 64 },
        { "AttentionFloat256Causal", 1, 4, 2, 33, 32 },
        { "AttentionFloat256Causal", 1, 2, 1, 65, 130 },
        { "AttentionDouble1", 2, 3, 1, 9, 5 },
        { "AttentionDouble7", 1, 4, 2, 65, 63 },
        { "AttentionDouble16Causal", 1, 4, 1, 70, 65 },
        { "AttentionDouble16Causal", 2, 2, 2, 31, 64 },
        { "AttentionDouble64", 1, 2, 2, 64, 130 },
        { "AttentionDouble128Causal", 1, 4, 2, 33, 65 },
        { "AttentionHalf16", 2, 4, 2, 65, 63 },
        { "AttentionHalf64Causal", 1, 4, 1, 64, 130 },
        { "AttentionHalf64Causal", 1, 2, 2, 70, 64 },
        { "AttentionHalf80", 1, 2, 1, 33, 65 },
        { "AttentionHalf256Causal", 1, 2, 1, 33, 64 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackwardMatchTheFloat64Reference(string kernelName, int batch, int heads, int keyValueHeads, int queries, int keys)
    {
        var kernel = AttentionKernels.Get(kernelName);
        var shape = new AttentionShape(batch, heads, keyValueHeads, queries, keys);
        var inputs = kernel.Inputs(seed: queries * 1000 + keys, shape);

        var outputs = kernel.RunCpu(inputs, shape, kernel.Scale);

        AttentionChecks.AgainstReference(inputs, outputs, shape, kernel.HeadDim, kernel.Scale, kernel.Causal, kernel.CpuBounds);
    }

    /// <summary>A scale other than 1/√d (here larger, so rows are peaked) is the one applied.</summary>
    [Theory]
    [InlineData("AttentionFloat16", 2.5f)]
    [InlineData("AttentionDouble7", 0.125f)]
    [InlineData("AttentionHalf16", -1.5f)]
    public void TheScaleIsTheOneGiven(string kernelName, float scale)
    {
        var kernel = AttentionKernels.Get(kernelName);
        var shape = new AttentionShape(1, 2, 1, 9, 11);
        var inputs = kernel.Inputs(seed: 5, shape);

        var outputs = kernel.RunCpu(inputs, shape, scale);

        AttentionChecks.AgainstReference(inputs, outputs, shape, kernel.HeadDim, scale, kernel.Causal, kernel.CpuBounds);
    }

    /// <summary>
    /// Double gradients against central differences of the loss L = Σ O ∘ W (so dO = W), through the forward alone:
    /// |difference − gradient| ≤ 1e-7 · the largest gradient magnitude (the differences' own error is about 1e-10).
    /// </summary>
    [Theory]
    [InlineData("AttentionDouble7", 1, 4, 2, 3, 4)]
    [InlineData("AttentionDouble16Causal", 1, 2, 1, 5, 3)]
    [InlineData("AttentionDouble16Causal", 1, 2, 2, 2, 4)]
    [InlineData("AttentionDouble1", 2, 2, 1, 2, 3)]
    public void DoubleGradientsMatchCentralDifferences(string kernelName, int batch, int heads, int keyValueHeads, int queries, int keys)
    {
        var kernel = AttentionKernels.Get<double>(kernelName);
        var shape = new AttentionShape(batch, heads, keyValueHeads, queries, keys);
        var inputs = kernel.Inputs(seed: 11, shape);
        double[] q = inputs.Q, k = inputs.K, v = inputs.V, w = inputs.DO;
        float scale = kernel.Scale;

        var outputs = kernel.RunCpu(inputs, shape, scale);

        double Loss()
        {
            var o = new double[q.Length];
            var lse = new float[shape.Batch * shape.Heads * shape.QueryLength];
            kernel.Forward(q, k, v, o, lse, shape, scale);
            return o.Select((value, i) => value * w[i]).Sum();
        }

        const double h = 1e-5;
        double[] Differences(double[] x)
        {
            var result = new double[x.Length];
            for (int i = 0; i < x.Length; i++)
            {
                double saved = x[i];
                x[i] = saved + h;
                double plus = Loss();
                x[i] = saved - h;
                double minus = Loss();
                x[i] = saved;
                result[i] = (plus - minus) / (2 * h);
            }

            return result;
        }

        AttentionChecks.Close("dQ against differences", Differences(q), outputs.DQ, 1e-7);
        AttentionChecks.Close("dK against differences", Differences(k), outputs.DK, 1e-7);
        AttentionChecks.Close("dV against differences", Differences(v), outputs.DV, 1e-7);
        Assert.Contains(outputs.DQ, value => Math.Abs(value) > 1e-3);
    }

    /// <summary>
    /// Causal with QueryLength &gt; KeyLength: queries q &lt; Q − K see no key. Their O is 0 and their lse −∞, their dQ
    /// rows are 0, and they contribute nothing to dK and dV: changing their q and dO leaves every output bitwise the same.
    /// </summary>
    [Theory]
    [InlineData("AttentionFloat7Causal", 1, 2, 1, 9, 4)]
    [InlineData("AttentionFloat16Causal", 1, 2, 1, 130, 65)]
    [InlineData("AttentionFloat256Causal", 2, 2, 2, 70, 3)]
    [InlineData("AttentionDouble16Causal", 1, 4, 2, 66, 1)]
    [InlineData("AttentionHalf64Causal", 1, 2, 1, 100, 30)]
    public void QueriesWithoutAKeyGetZeroOutputMinusInfinityAndNoGradient(string kernelName, int batch, int heads, int keyValueHeads, int queries, int keys)
    {
        var kernel = AttentionKernels.Get(kernelName);
        var shape = new AttentionShape(batch, heads, keyValueHeads, queries, keys);
        var inputs = kernel.Inputs(seed: 3, shape);
        int d = kernel.HeadDim, empty = queries - keys;

        var outputs = kernel.RunCpu(inputs, shape, kernel.Scale);

        var changed = inputs with { Q = (double[])inputs.Q.Clone(), DO = (double[])inputs.DO.Clone() };
        for (int row = 0; row < batch * heads * queries; row++)
        {
            bool none = row % queries < empty;
            for (int c = 0; c < d; c++)
            {
                Assert.True(!none || outputs.O[row * d + c] == 0, $"O[{row}, {c}] = {outputs.O[row * d + c]} for a query without keys");
                Assert.True(!none || outputs.DQ[row * d + c] == 0, $"dQ[{row}, {c}] = {outputs.DQ[row * d + c]} for a query without keys");
                if (none)
                {
                    changed.Q[row * d + c] = kernel.Round(-3 * changed.Q[row * d + c] + 0.5);
                    changed.DO[row * d + c] = kernel.Round(4 * changed.DO[row * d + c] - 0.25);
                }
            }

            Assert.Equal(none, float.IsNegativeInfinity(outputs.Lse[row]));
        }

        AttentionChecks.AgainstReference(inputs, outputs, shape, d, kernel.Scale, kernel.Causal, kernel.CpuBounds);
        var again = kernel.RunCpu(changed, shape, kernel.Scale);
        AttentionChecks.BitwiseEqual(outputs, again, "the q and dO rows of queries without keys changed");
    }

    /// <summary>
    /// The checks can fail: the reference without the causal exclusion, a wrong scale, or one gradient element moved by
    /// 1e-4 of the largest magnitude are each caught at float's bounds.
    /// </summary>
    [Fact]
    public void TheChecksCatchAWrongMaskAWrongScaleAndOneWrongElement()
    {
        var kernel = AttentionKernels.Get("AttentionFloat16Causal");
        var shape = new AttentionShape(1, 2, 1, 9, 11);
        var inputs = kernel.Inputs(seed: 2, shape);
        var outputs = kernel.RunCpu(inputs, shape, kernel.Scale);
        AttentionChecks.AgainstReference(inputs, outputs, shape, kernel.HeadDim, kernel.Scale, causal: true, kernel.CpuBounds);

        Assert.ThrowsAny<Exception>(() => AttentionChecks.AgainstReference(inputs, outputs, shape, kernel.HeadDim, kernel.Scale, causal: false, kernel.CpuBounds));
        Assert.ThrowsAny<Exception>(() => AttentionChecks.AgainstReference(inputs, outputs, shape, kernel.HeadDim, kernel.Scale * 1.001f, causal: true, kernel.CpuBounds));
        var dK = (double[])outputs.DK.Clone();
        dK[37] += 1e-4 * dK.Max(Math.Abs);
        Assert.ThrowsAny<Exception>(() => AttentionChecks.AgainstReference(inputs, outputs with { DK = dK }, shape, kernel.HeadDim, kernel.Scale, causal: true, kernel.CpuBounds));
        var o = (double[])outputs.O.Clone();
        o[5] = double.NaN;
        Assert.ThrowsAny<Exception>(() => AttentionChecks.AgainstReference(inputs, outputs with { O = o }, shape, kernel.HeadDim, kernel.Scale, causal: true, kernel.CpuBounds));
    }
}
