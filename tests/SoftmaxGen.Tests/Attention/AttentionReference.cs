using System;
using System.Numerics;
using SoftmaxGen;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxGen.Tests.Fused;

/// <summary>
/// Plain float64 attention, written from the definition with no tiling and no online softmax: the reference of the
/// attention suites. Q, O, dO, dQ are [B, H, Q, D]; K, V, dK, dV are [B, KVH, K, D]; lse is [B, H, Q].
/// </summary>
public static class AttentionReference
{
    /// <summary>Whether key <paramref name="key"/> is included for query <paramref name="query"/> (causal: bottom-right aligned).</summary>
    public static bool Included(AttentionShape shape, bool causal, int query, int key)
        => !causal || key <= query + (shape.KeyLength - shape.QueryLength);

    public static (double[] O, double[] Lse) Forward(double[] q, double[] k, double[] v, AttentionShape shape, int d, double scale, bool causal)
    {
        var o = new double[q.Length];
        var lse = new double[shape.Batch * shape.Heads * shape.QueryLength];
        var scores = new double[shape.KeyLength];
        int group = shape.Heads / shape.KeyValueHeads;
        for (int b = 0; b < shape.Batch; b++)
        {
            for (int h = 0; h < shape.Heads; h++)
            {
                int kvHead = h / group;
                for (int i = 0; i < shape.QueryLength; i++)
                {
                    int row = (b * shape.Heads + h) * shape.QueryLength + i;
                    double max = double.NegativeInfinity;
                    for (int j = 0; j < shape.KeyLength; j++)
                    {
                        if (Included(shape, causal, i, j))
                        {
                            scores[j] = scale * Dot(q, row * d, k, KeyRow(shape, b, kvHead, j) * d, d);
                            max = Math.Max(max, scores[j]);
                        }
                    }

                    if (double.IsNegativeInfinity(max))
                    {
                        lse[row] = double.NegativeInfinity; // no included key: O stays 0
                        continue;
                    }

                    double sum = 0;
                    for (int j = 0; j < shape.KeyLength; j++)
                    {
                        if (Included(shape, causal, i, j))
                        {
                            sum += Math.Exp(scores[j] - max);
                        }
                    }

                    lse[row] = max + Math.Log(sum);
                    for (int j = 0; j < shape.KeyLength; j++)
                    {
                        if (Included(shape, causal, i, j))
                        {
                            double p = Math.Exp(scores[j] - lse[row]);
                            int kv = KeyRow(shape, b, kvHead, j) * d;
                            for (int c = 0; c < d; c++)
                            {
                                o[row * d + c] += p * v[kv + c];
                            }
                        }
                    }
                }
            }
        }

        return (o, lse);
    }

    /// <summary>
    /// D = rowsum(dO ∘ O); P = exp(scale·q·k − lse); dV = Pᵀ dO; dS = P ∘ (dO Vᵀ − D); dQ = scale · dS K; dK = scale · dSᵀ Q,
    /// with O and lse those of <see cref="Forward"/> in float64.
    /// </summary>
    public static (double[] DQ, double[] DK, double[] DV) Backward(double[] q, double[] k, double[] v, double[] dO, AttentionShape shape, int d, double scale, bool causal)
    {
        var (o, lse) = Forward(q, k, v, shape, d, scale, causal);
        var dQ = new double[q.Length];
        var dK = new double[k.Length];
        var dV = new double[v.Length];
        int group = shape.Heads / shape.KeyValueHeads;
        for (int b = 0; b < shape.Batch; b++)
        {
            for (int h = 0; h < shape.Heads; h++)
            {
                int kvHead = h / group;
                for (int i = 0; i < shape.QueryLength; i++)
                {
                    int row = (b * shape.Heads + h) * shape.QueryLength + i;
                    if (double.IsNegativeInfinity(lse[row]))
                    {
                        continue;
                    }

                    double delta = Dot(dO, row * d, o, row * d, d);
                    for (int j = 0; j < shape.KeyLength; j++)
                    {
                        if (!Included(shape, causal, i, j))
                        {
                            continue;
                        }

                        int kv = KeyRow(shape, b, kvHead, j) * d;
                        double p = Math.Exp(scale * Dot(q, row * d, k, kv, d) - lse[row]);
                        double dS = p * (Dot(dO, row * d, v, kv, d) - delta);
                        for (int c = 0; c < d; c++)
                        {
                            dV[kv + c] += p * dO[row * d + c];
                            dQ[row * d + c] += scale * dS * k[kv + c];
                            dK[kv + c] += scale * dS * q[row * d + c];
                        }
                    }
                }
            }
        }

        return (dQ, dK, dV);
    }

    private static int KeyRow(AttentionShape shape, int batch, int kvHead, int key)
        => (batch * shape.KeyValueHeads + kvHead) * shape.KeyLength + key;

    private static double Dot(double[] a, int aStart, double[] b, int bStart, int d)
    {
        double sum = 0;
        for (int c = 0; c < d; c++)
        {
            sum += a[aStart + c] * b[bStart + c];
        }

        return sum;
    }
}

/// <summary>Inputs of one case, already rounded to the element type under test, in float64.</summary>
public sealed record AttentionInputs(double[] Q, double[] K, double[] V, double[] DO)
{
    /// <summary>Q and K in [-2, 2] (peaked and flat rows alike), V and dO in [-1, 1], each rounded by <paramref name="round"/>.</summary>
    public static AttentionInputs Random(int seed, AttentionShape shape, int d, Func<double, double> round)
    {
        var random = new Random(seed);
        int queries = shape.Batch * shape.Heads * shape.QueryLength * d;
        int keys = shape.Batch * shape.KeyValueHeads * shape.KeyLength * d;
        double[] Fill(int count, double range)
        {
            var values = new double[count];
            for (int i = 0; i < count; i++)
            {
                values[i] = round(range * (2 * random.NextDouble() - 1));
            }

            return values;
        }

        return new AttentionInputs(Fill(queries, 2), Fill(keys, 2), Fill(keys, 1), Fill(queries, 1));
    }
}

/// <summary>What one forward and backward produced, in float64 (converted exactly from the element type).</summary>
public sealed record AttentionOutputs(double[] O, float[] Lse, double[] DQ, double[] DK, double[] DV);

/// <summary>Bounds of the comparisons with the reference, relative to the largest magnitude of the expected tensor.</summary>
public readonly record struct AttentionBounds(double Forward, double Lse, double Backward)
{
    /// <summary>Float: about 1e-5 of the tensor's largest magnitude; lse within 2e-6 · max(1, |lse|).</summary>
    public static readonly AttentionBounds Float = new(1e-5, 2e-6, 2e-5);

    /// <summary>Double on the CPU: 1e-12 (the lse is stored in float: 2e-7 · max(1, |lse|)).</summary>
    public static readonly AttentionBounds DoubleCpu = new(1e-12, 2e-7, 1e-12);

    /// <summary>Double on an accelerator: the backward takes the float lse as given, P carries ~1e-7 · |lse| relative error.</summary>
    public static readonly AttentionBounds DoubleGpu = new(1e-12, 2e-7, 2e-6);

    /// <summary>Half (inputs rounded to Half, outputs stored in Half, computed in float): 1e-2.</summary>
    public static readonly AttentionBounds Half = new(1e-2, 1e-4, 1e-2);
}

public static class AttentionChecks
{
    /// <summary>
    /// The least magnitude a bound is relative to. The inputs are of order 1, so the terms that make up O and the
    /// gradients are too; a tensor that cancels to zero keeps the rounding of those terms: with a single key dQ and dK
    /// are 0, and float's dK of 130 queries summed into that key is about 2e-6.
    /// </summary>
    public const double Floor = 0.5;

    /// <summary>
    /// |actual − expected| ≤ bound · max(largest |expected|, <see cref="Floor"/>) for every element; no NaN or infinity (a
    /// poisoned element left unwritten fails).
    /// </summary>
    public static void Close(string what, double[] expected, double[] actual, double bound)
    {
        Assert.Equal(expected.Length, actual.Length);
        double magnitude = 0;
        foreach (double value in expected)
        {
            magnitude = Math.Max(magnitude, Math.Abs(value));
        }

        double limit = bound * Math.Max(magnitude, Floor);
        double worst = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(actual[i] - expected[i]);
            if (double.IsNaN(actual[i]) || double.IsInfinity(actual[i]))
            {
                throw new XunitException($"{what}[{i}] is {actual[i]}, expected {expected[i]:R}");
            }

            if (error > worst)
            {
                (worst, at) = (error, i);
            }
        }

        if (worst > limit)
        {
            throw new XunitException(
                $"{what}[{at}] is {actual[at]:R}, expected {expected[at]:R}: error {worst:E3} > {bound:E1} · max({magnitude:E3}, {Floor})");
        }
    }

    /// <summary>lse within bound · max(1, |expected|); −∞ exactly where the reference has no included key.</summary>
    public static void CloseLse(double[] expected, float[] actual, double bound)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (double.IsNegativeInfinity(expected[i]))
            {
                Assert.True(float.IsNegativeInfinity(actual[i]), $"lse[{i}] is {actual[i]}, expected -∞ (no included key)");
                continue;
            }

            double error = Math.Abs(actual[i] - expected[i]);
            if (!(error <= bound * Math.Max(1, Math.Abs(expected[i]))))
            {
                throw new XunitException($"lse[{i}] is {actual[i]:R}, expected {expected[i]:R}: error {error:E3} > {bound:E1} · max(1, |lse|)");
            }
        }
    }

    /// <summary>Compares every output with the float64 reference of the same (rounded) inputs.</summary>
    public static void AgainstReference(AttentionInputs inputs, AttentionOutputs actual, AttentionShape shape, int d, float scale, bool causal, AttentionBounds bounds)
    {
        var (o, lse) = AttentionReference.Forward(inputs.Q, inputs.K, inputs.V, shape, d, scale, causal);
        var (dQ, dK, dV) = AttentionReference.Backward(inputs.Q, inputs.K, inputs.V, inputs.DO, shape, d, scale, causal);
        Close("O", o, actual.O, bounds.Forward);
        CloseLse(lse, actual.Lse, bounds.Lse);
        Close("dQ", dQ, actual.DQ, bounds.Backward);
        Close("dK", dK, actual.DK, bounds.Backward);
        Close("dV", dV, actual.DV, bounds.Backward);
    }

    /// <summary>Causal queries q &lt; QueryLength − KeyLength see no key: O and dQ exactly 0 and lse −∞ there.</summary>
    public static void QueriesWithoutKeysAreZero(AttentionOutputs outputs, AttentionShape shape, int d, bool causal)
    {
        int empty = causal ? shape.QueryLength - shape.KeyLength : 0;
        for (int row = 0; row < shape.Batch * shape.Heads * shape.QueryLength; row++)
        {
            if (row % shape.QueryLength >= empty)
            {
                Assert.True(float.IsFinite(outputs.Lse[row]), $"lse[{row}] is {outputs.Lse[row]} for a query with keys");
                continue;
            }

            Assert.True(float.IsNegativeInfinity(outputs.Lse[row]), $"lse[{row}] is {outputs.Lse[row]} for a query without keys");
            for (int c = 0; c < d; c++)
            {
                Assert.True(outputs.O[row * d + c] == 0, $"O[{row}, {c}] = {outputs.O[row * d + c]} for a query without keys");
                Assert.True(outputs.DQ[row * d + c] == 0, $"dQ[{row}, {c}] = {outputs.DQ[row * d + c]} for a query without keys");
            }
        }
    }

    /// <summary>Every bit of two runs' outputs is the same.</summary>
    public static void BitwiseEqual(AttentionOutputs expected, AttentionOutputs actual, string what)
    {
        Same(expected.O, actual.O, what + ": O");
        Same(Array.ConvertAll(expected.Lse, value => (double)value), Array.ConvertAll(actual.Lse, value => (double)value), what + ": lse");
        Same(expected.DQ, actual.DQ, what + ": dQ");
        Same(expected.DK, actual.DK, what + ": dK");
        Same(expected.DV, actual.DV, what + ": dV");

        static void Same(double[] a, double[] b, string name)
        {
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++)
            {
                if (BitConverter.DoubleToInt64Bits(a[i]) != BitConverter.DoubleToInt64Bits(b[i]))
                {
                    throw new XunitException($"{name}[{i}]: {a[i]:R} against {b[i]:R}");
                }
            }
        }
    }
}
