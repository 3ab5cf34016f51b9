using System;
using System.Collections.Generic;
using System.Linq;
using SoftmaxGen.Runtime;

namespace SoftmaxGen.Tests;

/// <summary>
/// The float64 reference, written plainly and independently of the generator: it finds every slice by grouping
/// the elements on their batch indices, then applies the textbook formulas slice by slice.
/// </summary>
public static class Reference
{
    /// <summary>
    /// The flat offsets of every slice, each in row-major order; slices ordered by batch index (row-major over the batch
    /// axes). An element's slice number is its batch indices read as a row-major number, its place in the slice its
    /// reduced indices read likewise.
    /// </summary>
    public static List<int[]> Slices(int[] shape, IReadOnlyCollection<int> axes)
    {
        int count = shape.Aggregate(1, (product, extent) => product * extent);
        int sliceCount = SliceCount(shape, axes);
        int sliceLength = sliceCount == 0 ? 0 : count / sliceCount;
        var slices = Enumerable.Range(0, sliceCount).Select(_ => new int[sliceLength]).ToList();
        var index = new int[shape.Length];
        for (int flat = 0; flat < count; flat++)
        {
            int rest = flat;
            for (int axis = shape.Length - 1; axis >= 0; axis--)
            {
                index[axis] = rest % shape[axis];
                rest /= shape[axis];
            }

            int slice = 0, position = 0;
            for (int axis = 0; axis < shape.Length; axis++)
            {
                if (axes.Contains(axis))
                {
                    position = position * shape[axis] + index[axis];
                }
                else
                {
                    slice = slice * shape[axis] + index[axis];
                }
            }

            slices[slice][position] = flat;
        }

        return slices;
    }

    /// <summary>
    /// Softmax B = exp(z - max) / Σ exp(z - max), or log-softmax B = (z - max) - log Σ exp(z - max), slice by slice.
    /// A slice with a NaN or a +∞ is all NaN; a slice with nothing above -∞ is all 0 (softmax) or all -∞ (log-softmax).
    /// </summary>
    public static double[] Forward(double[] z, int[] shape, IReadOnlyCollection<int> axes, SoftmaxOperation operation = SoftmaxOperation.Softmax)
    {
        bool log = operation == SoftmaxOperation.LogSoftmax;
        var b = new double[z.Length];
        foreach (var slice in Slices(shape, axes))
        {
            var (max, nan) = MaxOf(z, slice);
            if (nan || double.IsPositiveInfinity(max))
            {
                foreach (int i in slice) b[i] = double.NaN;
                continue;
            }

            if (double.IsNegativeInfinity(max))
            {
                foreach (int i in slice) b[i] = log ? double.NegativeInfinity : 0;
                continue;
            }

            var sum = new Accurate();
            foreach (int i in slice) sum.Add(Math.Exp(z[i] - max));
            double logSum = Math.Log(sum.Value);
            foreach (int i in slice) b[i] = log ? (z[i] - max) - logSum : Math.Exp(z[i] - max) / sum.Value;
        }

        return b;
    }

    /// <summary>
    /// What the rounding error of each forward output is proportional to: |B| for softmax; for log-softmax the terms it
    /// subtracts, |z - max| + log Σ exp(z - max), and 1 for the sum's relative error (an error in log-probabilities is
    /// absolute: near 0 it is not small relative to the value).
    /// </summary>
    public static double[] ForwardMagnitude(double[] z, int[] shape, IReadOnlyCollection<int> axes, SoftmaxOperation operation)
    {
        var b = Forward(z, shape, axes, operation);
        if (operation == SoftmaxOperation.Softmax)
        {
            return b.Select(Math.Abs).ToArray();
        }

        var magnitude = new double[z.Length];
        foreach (var slice in Slices(shape, axes))
        {
            var (max, _) = MaxOf(z, slice);
            double logSum = 0;
            foreach (int i in slice) logSum += double.IsFinite(z[i] - max) ? Math.Exp(z[i] - max) : 0;
            logSum = Math.Log(Math.Max(logSum, 1));
            foreach (int i in slice) magnitude[i] = double.IsFinite(z[i] - max) ? Math.Abs(z[i] - max) + logSum + 1 : 0;
        }

        return magnitude;
    }

    /// <summary>
    /// One value per slice, in slice order (row-major over the batch axes): max + log Σ exp(z - max); -∞ for a slice with
    /// nothing above -∞; NaN for a slice with a NaN; +∞ for a slice with a +∞ and no NaN.
    /// </summary>
    public static double[] LogSumExp(double[] z, int[] shape, IReadOnlyCollection<int> axes)
    {
        var slices = Slices(shape, axes);
        var lse = new double[slices.Count];
        for (int s = 0; s < slices.Count; s++)
        {
            var (max, nan) = MaxOf(z, slices[s]);
            if (nan || double.IsInfinity(max))
            {
                lse[s] = nan ? double.NaN : max;
                continue;
            }

            var sum = new Accurate();
            foreach (int i in slices[s]) sum.Add(Math.Exp(z[i] - max));
            lse[s] = max + Math.Log(sum.Value);
        }

        return lse;
    }

    /// <summary>The slice count: the product of the batch extents.</summary>
    public static int SliceCount(int[] shape, IReadOnlyCollection<int> axes)
        => Enumerable.Range(0, shape.Length).Where(axis => !axes.Contains(axis)).Aggregate(1, (product, axis) => product * shape[axis]);

    /// <summary>
    /// The pullback of each cotangent in dB (s3 of them, back to back) to A, where z = scale · A:
    /// softmax dA = scale · B ∘ (dB - Σ_{s1} dB ∘ B); log-softmax dA = scale · (dB - exp(B) Σ_{s1, B > -∞} dB) where
    /// B > -∞, 0 where B = -∞.
    /// </summary>
    public static double[] Backward(double[] b, double[] dB, int[] shape, IReadOnlyCollection<int> axes, SoftmaxOperation operation = SoftmaxOperation.Softmax, double scale = 1)
    {
        int count = b.Length;
        var dA = new double[dB.Length];
        var slices = Slices(shape, axes);
        for (int k = 0; k * count < dB.Length; k++)
        {
            int offset = k * count;
            foreach (var slice in slices)
            {
                var sum = new Accurate();
                if (operation == SoftmaxOperation.Softmax)
                {
                    foreach (int i in slice) sum.Add(dB[offset + i] * b[i]);
                    foreach (int i in slice) dA[offset + i] = scale * (b[i] * (dB[offset + i] - sum.Value));
                }
                else
                {
                    foreach (int i in slice) sum.Add(double.IsNegativeInfinity(b[i]) ? 0 : dB[offset + i]);
                    foreach (int i in slice)
                    {
                        dA[offset + i] = double.IsNegativeInfinity(b[i]) ? 0 : scale * (dB[offset + i] - Math.Exp(b[i]) * sum.Value);
                    }
                }
            }
        }

        return dA;
    }

    /// <summary>
    /// A bound on the rounding error of each backward output, the magnitudes the formula adds and subtracts:
    /// softmax |scale| B ∘ (|dB| + Σ_{s1} |dB ∘ B|); log-softmax |scale| (|dB| + exp(B) Σ_{s1} |dB|).
    /// </summary>
    public static double[] BackwardMagnitude(double[] b, double[] dB, int[] shape, IReadOnlyCollection<int> axes, SoftmaxOperation operation = SoftmaxOperation.Softmax, double scale = 1)
    {
        int count = b.Length;
        var magnitude = new double[dB.Length];
        var slices = Slices(shape, axes);
        bool log = operation == SoftmaxOperation.LogSoftmax;
        for (int k = 0; k * count < dB.Length; k++)
        {
            int offset = k * count;
            foreach (var slice in slices)
            {
                double dot = 0;
                foreach (int i in slice) dot += log ? (double.IsNegativeInfinity(b[i]) ? 0 : Math.Abs(dB[offset + i])) : Math.Abs(dB[offset + i] * b[i]);
                foreach (int i in slice)
                {
                    magnitude[offset + i] = Math.Abs(scale) * (log
                        ? Math.Abs(dB[offset + i]) + Math.Exp(b[i]) * dot
                        : Math.Abs(b[i]) * (Math.Abs(dB[offset + i]) + dot));
                }
            }
        }

        return magnitude;
    }

    /// <summary>
    /// The dense Jacobian [p · N + q] = ∂B_p/∂A_q, written from the seed's formula: softmax scale · (B_p δ_pq - B_p B_q);
    /// log-softmax scale · (δ_pq - exp(B_q)) where B_p and B_q are above -∞, else 0; 0 across slices.
    /// </summary>
    public static double[] Jacobian(double[] b, int[] shape, IReadOnlyCollection<int> axes, SoftmaxOperation operation = SoftmaxOperation.Softmax, double scale = 1)
    {
        int count = b.Length;
        var jacobian = new double[count * count];
        foreach (var slice in Slices(shape, axes))
        {
            foreach (int p in slice)
            {
                foreach (int q in slice)
                {
                    jacobian[p * count + q] = operation == SoftmaxOperation.Softmax
                        ? scale * ((p == q ? b[p] : 0) - b[p] * b[q])
                        : double.IsNegativeInfinity(b[p]) || double.IsNegativeInfinity(b[q]) ? 0 : scale * ((p == q ? 1 : 0) - Math.Exp(b[q]));
                }
            }
        }

        return jacobian;
    }

    private static (double Max, bool NaN) MaxOf(double[] z, int[] slice)
    {
        double max = double.NegativeInfinity;
        bool nan = false;
        foreach (int i in slice)
        {
            nan |= double.IsNaN(z[i]);
            max = Math.Max(max, z[i]);
        }

        return (max, nan);
    }
}

/// <summary>
/// A running sum with Neumaier's compensation: its error stays near one rounding whatever the number of terms, so the
/// float64 reference stays more accurate than the double kernels it checks on long slices (a plain running sum of
/// 33 001 terms was off by hundreds of ulps there).
/// </summary>
internal struct Accurate
{
    private double _sum;
    private double _compensation;

    public readonly double Value => _sum + _compensation;

    public void Add(double term)
    {
        double total = _sum + term;
        if (double.IsFinite(total))
        {
            _compensation += Math.Abs(_sum) >= Math.Abs(term) ? (_sum - total) + term : (term - total) + _sum;
        }
        else
        {
            // An infinite or NaN term (or an overflow): the plain sum's result, not ∞ - ∞ in the compensation.
            _compensation = 0;
        }

        _sum = total;
    }
}
