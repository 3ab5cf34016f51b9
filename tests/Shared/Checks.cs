using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxGen.Tests;

/// <summary>
/// The numerical suite, shared by every way of producing a softmax (classes compiled by the build, classes
/// compiled at test time from random layouts, and later the ILGPU launchers). Each check draws fresh inputs
/// from its seed and compares with <see cref="Reference"/>.
/// </summary>
public static class Checks
{
    /// <summary>Relative tolerance for an output computed from slices of <paramref name="length"/> elements.</summary>
    public static double Tolerance(ITarget target, int length) => target.Epsilon * (8 + 4 * Math.Log2(length + 1));

    public static void ForwardMatchesReference(ITarget target, int seed, int maxElements = 4000, double scale = 4)
    {
        foreach (var shape in TestData.Shapes(target.Rank, seed, maxElements))
        {
            var random = new Random(seed ^ shape.Sum());
            var a = target.Round(TestData.Logits(random, TestData.Count(shape), scale));
            var expected = Reference.Forward(a, shape, target.Axes);
            var actual = target.Forward(a, shape).Value;
            AssertClose(expected, actual, Tolerance(target, SliceLength(target, shape)), 4 * target.Tiny, $"forward {Describe(target, shape)}");
        }
    }

    public static void BackwardMatchesReference(ITarget target, int seed, int cotangents, int maxElements = 4000)
    {
        foreach (var shape in TestData.Shapes(target.Rank, seed, maxElements))
        {
            var random = new Random(seed ^ shape.Sum());
            int count = TestData.Count(shape);
            var b = target.Round(Reference.Forward(TestData.Logits(random, count), shape, target.Axes));
            var dB = target.Round(TestData.Logits(random, count * cotangents, 1));
            AssertBackwardClose(target, b, dB, target.Backward(b, dB, shape).Value, shape, $"backward {Describe(target, shape)} s3={cotangents}");
        }
    }

    /// <summary>
    /// dA against the float64 reference pullback of <paramref name="dB"/> at <paramref name="b"/>: each element within the
    /// target's tolerance of the size of its terms, |B ∘ dB| + |B · dot|.
    /// </summary>
    public static void AssertBackwardClose(ITarget target, double[] b, double[] dB, double[] actual, int[] shape, string what)
    {
        var expected = Reference.Backward(b, dB, shape, target.Axes);
        var magnitude = Reference.BackwardMagnitude(b, dB, shape, target.Axes);
        double tolerance = Tolerance(target, SliceLength(target, shape));
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = tolerance * magnitude[i] + 4 * target.Tiny;
            if (!(Math.Abs(expected[i] - actual[i]) <= bound))
            {
                Fail($"{what}: dA[{i}] = {actual[i]:R}, expected {expected[i]:R} (bound {bound:G3})");
            }
        }
    }

    /// <summary>Backward against central differences of the target's own forward: dA_k · e_j ≈ ⟨dB_k, F(A + h e_j) - F(A - h e_j)⟩ / 2h.</summary>
    public static void BackwardMatchesFiniteDifferences(ITarget target, int seed, int cotangents = 2)
    {
        Assert.Equal("Double", target.ElementName);
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 300);
        int count = TestData.Count(shape);
        var a = TestData.Logits(random, count);
        var b = target.Forward(a, shape).Value;
        var dB = TestData.Logits(random, count * cotangents, 1);
        var dA = target.Backward(b, dB, shape).Value;
        foreach (int j in Enumerable.Range(0, Math.Min(count, 12)).Select(_ => random.Next(count)).Distinct())
        {
            const double h = 1e-5;
            var plus = (double[])a.Clone();
            var minus = (double[])a.Clone();
            plus[j] += h;
            minus[j] -= h;
            var bPlus = target.Forward(plus, shape).Value;
            var bMinus = target.Forward(minus, shape).Value;
            for (int k = 0; k < cotangents; k++)
            {
                double difference = 0;
                for (int i = 0; i < count; i++)
                {
                    difference += dB[k * count + i] * (bPlus[i] - bMinus[i]);
                }

                double numeric = difference / (2 * h);
                double analytic = dA[k * count + j];
                if (!(Math.Abs(numeric - analytic) <= 1e-7 * (1 + Math.Abs(analytic))))
                {
                    Fail($"finite differences {Describe(target, shape)}: dA[{k},{j}] = {analytic:R}, central difference {numeric:R}");
                }
            }
        }
    }

    /// <summary>dA_k = Jᵀ dB_k, with J from the target's own Jacobian.</summary>
    public static void BackwardMatchesJacobianTranspose(ITarget target, int seed, int cotangents = 2)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 120);
        int count = TestData.Count(shape);
        var b = target.Round(Reference.Forward(TestData.Logits(random, count), shape, target.Axes));
        var dB = target.Round(TestData.Logits(random, count * cotangents, 1));
        var jacobian = target.Jacobian(b, shape).Value;
        var dA = target.Backward(b, dB, shape).Value;
        double tolerance = Tolerance(target, SliceLength(target, shape)) * 4;
        for (int k = 0; k < cotangents; k++)
        {
            for (int q = 0; q < count; q++)
            {
                double product = 0, magnitude = 0;
                for (int p = 0; p < count; p++)
                {
                    product += jacobian[p * count + q] * dB[k * count + p];
                    magnitude += Math.Abs(jacobian[p * count + q] * dB[k * count + p]);
                }

                double bound = tolerance * (magnitude + Math.Abs(b[q] * dB[k * count + q])) + 4 * target.Tiny;
                if (!(Math.Abs(product - dA[k * count + q]) <= bound))
                {
                    Fail($"Jᵀ·dB {Describe(target, shape)}: dA[{k},{q}] = {dA[k * count + q]:R}, Jᵀ·dB = {product:R} (bound {bound:G3})");
                }
            }
        }
    }

    public static void JacobianMatchesReference(ITarget target, int seed)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 150);
        int count = TestData.Count(shape);
        var b = target.Round(Reference.Forward(TestData.Logits(random, count), shape, target.Axes));
        var expected = Reference.Jacobian(b, shape, target.Axes);
        var actual = target.Jacobian(b, shape).Value;
        for (int p = 0; p < count; p++)
        {
            for (int q = 0; q < count; q++)
            {
                // Both sides round B_p δ_pq - B_p B_q; bound by the magnitudes of its two terms.
                double bound = 4 * target.Epsilon * (Math.Abs(b[p]) + Math.Abs(b[p] * b[q])) + 4 * target.Tiny;
                double e = expected[p * count + q], x = actual[p * count + q];
                if (!(Math.Abs(e - x) <= bound))
                {
                    Fail($"Jacobian {Describe(target, shape)}: [{p}, {q}] = {x:R}, expected {e:R}");
                }
            }
        }
    }

    /// <summary>softmax(A + c_{s2}) = softmax(A), bitwise: on a 1/8 grid the shift and the max subtraction are exact.</summary>
    public static void ShiftInvariant(ITarget target, int seed)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 2000);
        var a = TestData.GridLogits(random, TestData.Count(shape));
        var shifted = (double[])a.Clone();
        foreach (var slice in Reference.Slices(shape, target.Axes))
        {
            double c = random.Next(-16, 17);
            foreach (int i in slice) shifted[i] += c;
        }

        var expected = target.Forward(a, shape).Value;
        var actual = target.Forward(shifted, shape).Value;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i])
            {
                Fail($"shift {Describe(target, shape)}: B[{i}] = {actual[i]:R} after a per-slice shift, {expected[i]:R} before");
            }
        }
    }

    /// <summary>Each slice of B sums to 1, and each slice of every dA sums to 0.</summary>
    public static void SlicesSumToOneAndPullbacksToZero(ITarget target, int seed)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 3000);
        int count = TestData.Count(shape);
        var b = target.Forward(TestData.Logits(random, count), shape).Value;
        var dB = target.Round(TestData.Logits(random, count * 2, 1));
        var dA = target.Backward(b, dB, shape).Value;
        var magnitude = Reference.BackwardMagnitude(b, dB, shape, target.Axes);
        foreach (var slice in Reference.Slices(shape, target.Axes))
        {
            double tolerance = 2 * Tolerance(target, slice.Length);
            double sum = slice.Sum(i => b[i]);
            if (!(Math.Abs(sum - 1) <= tolerance))
            {
                Fail($"sum {Describe(target, shape)}: a slice sums to {sum:R}");
            }

            for (int k = 0; k < 2; k++)
            {
                double pullback = slice.Sum(i => dA[k * count + i]);
                double bound = tolerance * slice.Sum(i => magnitude[k * count + i]) + 4 * target.Tiny;
                if (!(Math.Abs(pullback) <= bound))
                {
                    Fail($"pullback sum {Describe(target, shape)}: a slice of dA sums to {pullback:R} (bound {bound:G3})");
                }
            }
        }
    }

    /// <summary>Fully masked slices give zeros (and zero pullbacks); masked entries of other slices give exact zeros.</summary>
    public static void MaskedSlices(ITarget target, int seed)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 2000);
        int count = TestData.Count(shape);
        var a = TestData.Logits(random, count);
        var slices = Reference.Slices(shape, target.Axes);
        var full = new HashSet<int>();
        for (int s = 0; s < slices.Count; s++)
        {
            if (s % 3 == 0)
            {
                full.Add(s);
                foreach (int i in slices[s]) a[i] = double.NegativeInfinity;
            }
            else
            {
                foreach (int i in slices[s].Where((_, position) => position % 2 == 1)) a[i] = double.NegativeInfinity;
            }
        }

        var b = target.Forward(a, shape).Value;
        var expected = Reference.Forward(target.Round(a), shape, target.Axes);
        AssertClose(expected, b, Tolerance(target, slices[0].Length), 4 * target.Tiny, $"masked forward {Describe(target, shape)}");
        for (int i = 0; i < count; i++)
        {
            if (double.IsNegativeInfinity(a[i]) && b[i] != 0)
            {
                Fail($"masked {Describe(target, shape)}: B[{i}] = {b[i]:R} for a masked entry");
            }
        }

        var dB = TestData.Logits(random, count, 1);
        var dA = target.Backward(b, dB, shape).Value;
        foreach (int s in full)
        {
            foreach (int i in slices[s])
            {
                if (dA[i] != 0)
                {
                    Fail($"masked backward {Describe(target, shape)}: dA[{i}] = {dA[i]:R} in a fully masked slice");
                }
            }
        }
    }

    /// <summary>A NaN or +∞ in one slice makes that slice NaN and leaves every other slice exactly as it was.</summary>
    public static void NaNStaysInItsSlice(ITarget target, int seed, double poison)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 2000);
        var slices = Reference.Slices(shape, target.Axes);
        var a = TestData.Logits(random, TestData.Count(shape));
        var clean = target.Forward(a, shape).Value;
        int bad = random.Next(slices.Count);
        var poisoned = (double[])a.Clone();
        poisoned[slices[bad][random.Next(slices[bad].Length)]] = poison;
        var b = target.Forward(poisoned, shape).Value;
        for (int s = 0; s < slices.Count; s++)
        {
            foreach (int i in slices[s])
            {
                bool ok = s == bad ? double.IsNaN(b[i]) : b[i].Equals(clean[i]);
                if (!ok)
                {
                    Fail($"{poison} isolation {Describe(target, shape)}: B[{i}] = {b[i]:R} (slice {s}, poisoned slice {bad})");
                }
            }
        }
    }

    /// <summary>In place (b the same memory as a, dA the same as dB) gives the same bits as out of place.</summary>
    public static void InPlaceMatchesOutOfPlace(ITarget target, int seed)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 2000);
        int count = TestData.Count(shape);
        var a = TestData.Logits(random, count);
        var b = target.Forward(a, shape).Value;
        Assert.Equal(b, target.ForwardInPlace(a, shape));
        var dB = TestData.Logits(random, count * 3, 1);
        Assert.Equal(target.Backward(b, dB, shape).Value, target.BackwardInPlace(b, dB, shape));
    }

    /// <summary>
    /// Forward and backward with one thread, with all, and with more threads than cores: the bits must not change.
    /// Returns the one-thread results. Callers belong to a non-parallel test collection, since the setting is global.
    /// </summary>
    public static (double[] B, double[] DA) AssertThreadCountDoesNotMatter(ITarget target, double[] a, double[] dB, int[] shape)
    {
        int saved = SoftmaxGen.Runtime.CpuSoftmax.MaxDegreeOfParallelism;
        try
        {
            var runs = new[] { 1, Environment.ProcessorCount, Environment.ProcessorCount + 3 }.Select(threads =>
            {
                SoftmaxGen.Runtime.CpuSoftmax.MaxDegreeOfParallelism = threads;
                var b = target.Forward(a, shape).Value;
                return (B: b, DA: target.Backward(b, dB, shape).Value, Threads: threads);
            }).ToList();

            foreach (var run in runs.Skip(1))
            {
                Assert.True(Bits(runs[0].B).SequenceEqual(Bits(run.B)), $"forward {Describe(target, shape)}: {run.Threads} threads differ from 1");
                Assert.True(Bits(runs[0].DA).SequenceEqual(Bits(run.DA)), $"backward {Describe(target, shape)}: {run.Threads} threads differ from 1");
            }

            return (runs[0].B, runs[0].DA);
        }
        finally
        {
            SoftmaxGen.Runtime.CpuSoftmax.MaxDegreeOfParallelism = saved;
        }
    }

    /// <summary>The bits of each value, so that comparisons see -0 and NaN payloads.</summary>
    public static long[] Bits(double[] values) => values.Select(BitConverter.DoubleToInt64Bits).ToArray();

    /// <summary>A zero extent anywhere is an empty tensor: every call returns without error.</summary>
    public static void EmptyTensors(ITarget target)
    {
        for (int axis = 0; axis < target.Rank; axis++)
        {
            var shape = Enumerable.Repeat(3, target.Rank).ToArray();
            shape[axis] = 0;
            Assert.Null(target.Forward(Array.Empty<double>(), shape).Error);
            Assert.Null(target.Backward(Array.Empty<double>(), Array.Empty<double>(), shape).Error);
            Assert.Null(target.Jacobian(Array.Empty<double>(), shape).Error);
        }

        // Extents whose product overflows int are fine when another one is zero.
        var huge = Enumerable.Repeat(100_000, target.Rank).ToArray();
        huge[0] = 0;
        Assert.Null(target.Forward(Array.Empty<double>(), huge).Error);
    }

    /// <summary>Every kind of bad argument is refused with an ArgumentException naming it and the value it needed, before anything is written.</summary>
    public static void BadArgumentsAreRefused(ITarget target)
    {
        var shape = Enumerable.Repeat(2, target.Rank).ToArray();
        int count = TestData.Count(shape);
        var a = TestData.Logits(new Random(1), count);
        var b = Reference.Forward(a, shape, target.Axes);
        var dB = TestData.Logits(new Random(2), 2 * count, 1);
        string n = count.ToString();

        Refused(target.Forward(a, shape.Skip(1).ToArray()), "shape", target.Rank.ToString());
        Refused(target.Forward(a, shape.Append(1).ToArray()), "shape", target.Rank.ToString());
        var negative = (int[])shape.Clone();
        negative[target.Rank - 1] = -1;
        Refused(target.Forward(a, negative), "shape", "-1");
        var huge = Enumerable.Repeat(1 << 16, target.Rank).ToArray();
        huge[0] = 1 << 16; // 2^32 elements at least
        if (target.Rank == 1)
        {
            huge[0] = int.MaxValue; // a rank-1 shape cannot overflow; check the lengths message instead
            Refused(target.Forward(a, huge), "a", int.MaxValue.ToString());
        }
        else
        {
            Refused(target.Forward(a, huge), "shape", "int.MaxValue");
        }

        Refused(target.Forward(a.Skip(1).ToArray(), shape, count), "a", n);
        Refused(target.Forward(a, shape, count + 1), "b", n);
        Refused(target.Forward(a, shape, count - 1), "b", n);
        var (error, changed) = target.ForwardPartlyOverlapping(a, shape);
        Refused(error, changed, "b", "overlaps");

        Refused(target.Backward(b, dB, shape.Skip(1).ToArray()), "shape", target.Rank.ToString());
        Refused(target.Backward(b.Skip(1).ToArray(), dB, shape), "b", n);
        Refused(target.Backward(b, Array.Empty<double>(), shape, 0), "dB", n);
        Refused(target.Backward(b, dB.Skip(1).ToArray(), shape, 2 * count - 1), "dB", n);
        Refused(target.Backward(b, dB, shape, 2 * count + 1), "dA", (2 * count).ToString());
        (error, changed) = target.BackwardOverlapping(b, dB, shape, overB: true);
        Refused(error, changed, "dA", "b");
        (error, changed) = target.BackwardOverlapping(b, dB, shape, overB: false);
        Refused(error, changed, "dA", "dB");

        Refused(target.Jacobian(b, negative), "shape", "-1");
        Refused(target.Jacobian(b.Skip(1).ToArray(), shape), "b", n);
        Refused(target.Jacobian(b, shape, count * count - 1), "jacobian", (count * count).ToString());
        (error, changed) = target.JacobianOverlapping(b, shape);
        Refused(error, changed, "jacobian", "overlaps b");
        var large = Enumerable.Repeat(1, target.Rank).ToArray();
        large[0] = 50_000;
        Refused(target.Jacobian(new double[50_000], large, 0), "shape", "int.MaxValue");
    }

    private static void Refused(Outcome outcome, string parameter, string mentions)
    {
        Refused(outcome.Error, outcome.Output.Any(value => !double.IsNaN(value)), parameter, mentions);
    }

    private static void Refused(Exception? error, bool changed, string parameter, string mentions)
    {
        var argument = Assert.IsAssignableFrom<ArgumentException>(error);
        Assert.Equal(parameter, argument.ParamName);
        Assert.Contains(mentions, argument.Message);
        Assert.False(changed, $"the refused call ({argument.Message}) wrote to its output");
    }

    public static int SliceLength(ITarget target, int[] shape) => target.Axes.Aggregate(1, (product, axis) => product * shape[axis]);

    public static string Describe(ITarget target, int[] shape) => $"{target.Name} shape [{string.Join(", ", shape)}]";

    public static void AssertClose(double[] expected, double[] actual, double relative, double absolute, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            bool ok = double.IsNaN(expected[i])
                ? double.IsNaN(actual[i])
                : Math.Abs(expected[i] - actual[i]) <= relative * Math.Abs(expected[i]) + absolute;
            if (!ok)
            {
                Fail($"{what}: [{i}] = {actual[i]:R}, expected {expected[i]:R}");
            }
        }
    }

    private static void Fail(string message) => throw new XunitException(message);
}
