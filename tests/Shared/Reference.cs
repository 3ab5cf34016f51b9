using System;
using System.Collections.Generic;
using System.Linq;

namespace SoftmaxGen.Tests;

/// <summary>
/// The float64 reference, written plainly and independently of the generator: it finds every slice by grouping
/// the elements on their batch indices, then applies the textbook formulas slice by slice.
/// </summary>
public static class Reference
{
    /// <summary>The flat offsets of every slice, each in row-major order; slices ordered by batch index.</summary>
    public static List<int[]> Slices(int[] shape, IReadOnlyCollection<int> axes)
    {
        int count = shape.Aggregate(1, (product, extent) => product * extent);
        var slices = new SortedDictionary<long, List<int>>();
        var index = new int[shape.Length];
        for (int flat = 0; flat < count; flat++)
        {
            int rest = flat;
            for (int axis = shape.Length - 1; axis >= 0; axis--)
            {
                index[axis] = rest % shape[axis];
                rest /= shape[axis];
            }

            long key = 0;
            for (int axis = 0; axis < shape.Length; axis++)
            {
                if (!axes.Contains(axis))
                {
                    key = key * shape[axis] + index[axis];
                }
            }

            if (!slices.TryGetValue(key, out var members))
            {
                slices[key] = members = new List<int>();
            }

            members.Add(flat);
        }

        return slices.Values.Select(members => members.ToArray()).ToList();
    }

    public static double[] Forward(double[] a, int[] shape, IReadOnlyCollection<int> axes)
    {
        var b = new double[a.Length];
        foreach (var slice in Slices(shape, axes))
        {
            double max = double.NegativeInfinity;
            bool nan = false;
            foreach (int i in slice)
            {
                nan |= double.IsNaN(a[i]);
                max = Math.Max(max, a[i]);
            }

            if (nan || double.IsPositiveInfinity(max))
            {
                foreach (int i in slice) b[i] = double.NaN;
                continue;
            }

            if (double.IsNegativeInfinity(max))
            {
                continue; // fully masked: zeros by contract
            }

            var sum = new Accurate();
            foreach (int i in slice) sum.Add(Math.Exp(a[i] - max));
            foreach (int i in slice) b[i] = Math.Exp(a[i] - max) / sum.Value;
        }

        return b;
    }

    /// <summary>dA = B ∘ (dB - Σ_{s1} dB ∘ B) for each cotangent in dB (s3 of them, back to back).</summary>
    public static double[] Backward(double[] b, double[] dB, int[] shape, IReadOnlyCollection<int> axes)
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
                foreach (int i in slice) sum.Add(dB[offset + i] * b[i]);
                double dot = sum.Value;
                foreach (int i in slice) dA[offset + i] = b[i] * (dB[offset + i] - dot);
            }
        }

        return dA;
    }

    /// <summary>
    /// A bound on the rounding error of each backward output: B ∘ (|dB| + Σ_{s1} |dB ∘ B|), the magnitudes the
    /// formula adds and subtracts.
    /// </summary>
    public static double[] BackwardMagnitude(double[] b, double[] dB, int[] shape, IReadOnlyCollection<int> axes)
    {
        int count = b.Length;
        var magnitude = new double[dB.Length];
        var slices = Slices(shape, axes);
        for (int k = 0; k * count < dB.Length; k++)
        {
            int offset = k * count;
            foreach (var slice in slices)
            {
                double dot = 0;
                foreach (int i in slice) dot += Math.Abs(dB[offset + i] * b[i]);
                foreach (int i in slice) magnitude[offset + i] = Math.Abs(b[i]) * (Math.Abs(dB[offset + i]) + dot);
            }
        }

        return magnitude;
    }

    /// <summary>The dense Jacobian [p · N + q] = ∂B_p/∂A_q, written from the seed's formula.</summary>
    public static double[] Jacobian(double[] b, int[] shape, IReadOnlyCollection<int> axes)
    {
        int count = b.Length;
        var jacobian = new double[count * count];
        foreach (var slice in Slices(shape, axes))
        {
            foreach (int p in slice)
            {
                foreach (int q in slice)
                {
                    jacobian[p * count + q] = (p == q ? b[p] : 0) - b[p] * b[q];
                }
            }
        }

        return jacobian;
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
