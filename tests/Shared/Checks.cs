using System;
using System.Collections.Generic;
using System.Linq;
using SoftmaxGen.Runtime;
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
            AssertForwardClose(target, a, target.Forward(a, shape).Value, shape, $"forward {Describe(target, shape)}");
        }
    }

    public static void BackwardMatchesReference(ITarget target, int seed, int cotangents, int maxElements = 4000)
    {
        foreach (var shape in TestData.Shapes(target.Rank, seed, maxElements))
        {
            var random = new Random(seed ^ shape.Sum());
            int count = TestData.Count(shape);
            var b = target.Round(ForwardReference(target, TestData.Logits(random, count), shape));
            var dB = target.Round(TestData.Logits(random, count * cotangents, 1));
            AssertBackwardClose(target, b, dB, target.Backward(b, dB, shape).Value, shape, $"backward {Describe(target, shape)} s3={cotangents}");
        }
    }

    /// <summary>
    /// B against the float64 reference forward of the target's operation at the logits it makes of <paramref name="a"/>
    /// (already rounded to the element type): each element within the target's tolerance of its magnitude
    /// (<see cref="Reference.ForwardMagnitude"/>).
    /// </summary>
    public static void AssertForwardClose(ITarget target, double[] a, double[] actual, int[] shape, string what)
    {
        var z = target.Logits(a, shape);
        var expected = Reference.Forward(z, shape, target.Axes, target.Operation);
        var magnitude = Reference.ForwardMagnitude(z, shape, target.Axes, target.Operation);
        AssertClose(expected, actual, magnitude, Tolerance(target, SliceLength(target, shape)), 4 * target.Tiny, what);
    }

    /// <summary>The float64 reference forward of the target's operation at the logits it makes of <paramref name="a"/>.</summary>
    public static double[] ForwardReference(ITarget target, double[] a, int[] shape)
        => Reference.Forward(target.Logits(target.Round(a), shape), shape, target.Axes, target.Operation);

    /// <summary>
    /// dA against the float64 reference pullback of <paramref name="dB"/> at <paramref name="b"/>: each element within the
    /// target's tolerance of the size of its terms (<see cref="Reference.BackwardMagnitude"/>).
    /// </summary>
    public static void AssertBackwardClose(ITarget target, double[] b, double[] dB, double[] actual, int[] shape, string what)
    {
        var expected = Reference.Backward(b, dB, shape, target.Axes, target.Operation, target.Scale);
        var magnitude = Reference.BackwardMagnitude(b, dB, shape, target.Axes, target.Operation, target.Scale);
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
                    // An excluded element stays where it is (0, or -∞ for log-softmax): it does not move.
                    difference += bPlus[i] == bMinus[i] ? 0 : dB[k * count + i] * (bPlus[i] - bMinus[i]);
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
        var b = target.Round(ForwardReference(target, TestData.Logits(random, count), shape));
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

                // The diagonal term of dA: scale · B_q dB_q (softmax) or scale · dB_q (log-softmax).
                double diagonal = Math.Abs(target.Scale * dB[k * count + q]) * (target.Operation == SoftmaxOperation.Softmax ? Math.Abs(b[q]) : 1);
                double bound = tolerance * (magnitude + diagonal) + 4 * target.Tiny;
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
        var b = target.Round(ForwardReference(target, TestData.Logits(random, count), shape));
        var expected = Reference.Jacobian(b, shape, target.Axes, target.Operation, target.Scale);
        var actual = target.Jacobian(b, shape).Value;
        bool softmax = target.Operation == SoftmaxOperation.Softmax;
        for (int p = 0; p < count; p++)
        {
            for (int q = 0; q < count; q++)
            {
                // Both sides round B_p δ_pq - B_p B_q (or δ_pq - exp(B_q)); bound by the magnitudes of its two terms.
                double terms = softmax ? Math.Abs(b[p]) + Math.Abs(b[p] * b[q]) : 1 + Math.Exp(b[q]);
                double bound = 4 * target.Epsilon * Math.Abs(target.Scale) * terms + 4 * target.Tiny;
                double e = expected[p * count + q], x = actual[p * count + q];
                if (!(Math.Abs(e - x) <= bound))
                {
                    Fail($"Jacobian {Describe(target, shape)}: [{p}, {q}] = {x:R}, expected {e:R}");
                }
            }
        }
    }

    /// <summary>
    /// softmax(A + c_{s2}) = softmax(A), bitwise (and log-softmax likewise): on a 1/8 grid the shift, a power-of-two
    /// scale and the max subtraction are exact.
    /// </summary>
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

    /// <summary>Each slice of B (of exp B for log-softmax) sums to 1, and each slice of every dA sums to 0.</summary>
    public static void SlicesSumToOneAndPullbacksToZero(ITarget target, int seed)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 3000);
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(random, count));
        var b = target.Forward(a, shape).Value;
        var dB = target.Round(TestData.Logits(random, count * 2, 1));
        var dA = target.Backward(b, dB, shape).Value;
        var magnitude = Reference.BackwardMagnitude(b, dB, shape, target.Axes, target.Operation, target.Scale);
        var z = target.Logits(a, shape);
        var forwardMagnitude = Reference.ForwardMagnitude(z, shape, target.Axes, target.Operation);
        bool softmax = target.Operation == SoftmaxOperation.Softmax;
        foreach (var slice in Reference.Slices(shape, target.Axes))
        {
            double tolerance = 2 * Tolerance(target, slice.Length);
            double sum = slice.Sum(i => softmax ? b[i] : Math.Exp(b[i]));
            // A slice with nothing included (an option excludes all of it) sums to 0.
            double expected = slice.All(i => double.IsNegativeInfinity(z[i])) ? 0 : 1;
            // A log-probability off by δ moves its probability by p δ: bound by the largest forward magnitude.
            double sumBound = softmax ? tolerance : tolerance * (1 + slice.Max(i => forwardMagnitude[i]));
            if (!(Math.Abs(sum - expected) <= sumBound))
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

    /// <summary>
    /// Entries of -∞ are excluded: fully masked slices give zeros (-∞ for log-softmax) and zero pullbacks; masked
    /// entries of other slices give exact zeros (-∞) and zero pullbacks.
    /// </summary>
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
        var z = target.Logits(target.Round(a), shape);
        var expected = Reference.Forward(z, shape, target.Axes, target.Operation);
        var magnitude = Reference.ForwardMagnitude(z, shape, target.Axes, target.Operation);
        AssertClose(expected, b, magnitude, Tolerance(target, slices[0].Length), 4 * target.Tiny, $"masked forward {Describe(target, shape)}");
        double excluded = target.Operation == SoftmaxOperation.Softmax ? 0 : double.NegativeInfinity;
        for (int i = 0; i < count; i++)
        {
            if (double.IsNegativeInfinity(a[i]) && b[i] != excluded)
            {
                Fail($"masked {Describe(target, shape)}: B[{i}] = {b[i]:R} for a masked entry");
            }
        }

        var dB = TestData.Logits(random, count, 1);
        var dA = target.Backward(b, dB, shape).Value;
        for (int i = 0; i < count; i++)
        {
            if (double.IsNegativeInfinity(a[i]) && dA[i] != 0)
            {
                Fail($"masked backward {Describe(target, shape)}: dA[{i}] = {dA[i]:R} for a masked entry{(full.Any(s => slices[s].Contains(i)) ? " of a fully masked slice" : "")}");
            }
        }
    }

    /// <summary>
    /// A NaN or +∞ in one slice makes that slice NaN and leaves every other slice exactly as it was; one where an option
    /// excludes the element changes nothing at all.
    /// </summary>
    public static void NaNStaysInItsSlice(ITarget target, int seed, double poison)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 2000);
        var slices = Reference.Slices(shape, target.Axes);
        var a = TestData.Logits(random, TestData.Count(shape));
        var clean = target.Forward(a, shape).Value;
        int bad = random.Next(slices.Count);
        int position = slices[bad][random.Next(slices[bad].Length)];
        var poisoned = (double[])a.Clone();
        poisoned[position] = poison;
        bool spreads = !double.IsNegativeInfinity(target.Logits(poisoned, shape)[position]);
        var b = target.Forward(poisoned, shape).Value;
        for (int s = 0; s < slices.Count; s++)
        {
            foreach (int i in slices[s])
            {
                bool ok = s == bad && spreads ? double.IsNaN(b[i]) : b[i].Equals(clean[i]);
                if (!ok)
                {
                    Fail($"{poison} isolation {Describe(target, shape)}: B[{i}] = {b[i]:R} (slice {s}, poisoned slice {bad})");
                }
            }
        }
    }

    /// <summary>
    /// The causal mask with fewer queries than keys, as many, and more (where the first rows have no key at all): forward,
    /// backward and log-sum-exp against the reference, the fully excluded slices 0 (-∞ for log-softmax) with zero pullbacks
    /// and a log-sum-exp of -∞.
    /// </summary>
    public static void CausalShapesMatchReference(ITarget target, int seed)
    {
        var options = target.Options;
        Assert.True(options.HasCausal, $"{target.Name} has no causal mask");
        foreach (var (queries, keys) in new[] { (3, 7), (5, 5), (9, 4), (1, 6), (6, 1) })
        {
            var random = new Random(seed + queries * 10 + keys);
            var shape = TestData.RandomShape(random, target.Rank, 40);
            shape[options.CausalQuery] = queries;
            shape[options.CausalKey] = keys;
            int count = TestData.Count(shape);
            var a = target.Round(TestData.Logits(random, count));
            var b = target.Forward(a, shape).Value;
            AssertForwardClose(target, a, b, shape, $"causal forward {Describe(target, shape)}");
            AssertLogSumExpClose(target, a, shape, target.LogSumExp(a, shape).Value, $"causal logsumexp {Describe(target, shape)}");
            var dB = target.Round(TestData.Logits(random, 2 * count, 1));
            var rounded = target.Round(b);
            var dA = target.Backward(rounded, dB, shape).Value;
            AssertBackwardClose(target, rounded, dB, dA, shape, $"causal backward {Describe(target, shape)}");

            var z = target.Logits(a, shape);
            double excluded = target.Operation == SoftmaxOperation.Softmax ? 0 : double.NegativeInfinity;
            for (int i = 0; i < count; i++)
            {
                if (double.IsNegativeInfinity(z[i]) && (b[i] != excluded || dA[i] != 0 || dA[count + i] != 0))
                {
                    Fail($"causal {Describe(target, shape)}: B[{i}] = {b[i]:R}, dA = {dA[i]:R}, {dA[count + i]:R} for an excluded element");
                }
            }
        }
    }

    /// <summary>
    /// A NaN or +∞ where an option excludes the element changes nothing: the forward and the log-sum-exp give the bits
    /// they give without it.
    /// </summary>
    public static void NaNWhereExcludedChangesNothing(ITarget target, int seed)
    {
        var options = target.Options;
        Assert.True(options.HasMask || options.HasCausal, $"{target.Name} excludes nothing");
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 2000);
        foreach (int axis in options.MaskAxes)
        {
            // Room for a whole excluded row and a false entry among the rest.
            shape[axis] = Math.Max(shape[axis], 2);
        }

        if (options.HasCausal)
        {
            // Two queries or more see fewer keys than the last one: the first query's later keys are excluded.
            shape[options.CausalQuery] = Math.Max(shape[options.CausalQuery], 2);
            shape[options.CausalKey] = Math.Max(shape[options.CausalKey], 2);
        }

        var a = target.Round(TestData.Logits(random, TestData.Count(shape)));
        var poisoned = PoisonExcluded(a, target.Logits(a, shape), out int excluded);
        Assert.True(excluded > 0, $"{Describe(target, shape)}: the options exclude nothing here");
        Assert.True(Bits(target.Forward(a, shape).Value).SequenceEqual(Bits(target.Forward(poisoned, shape).Value)), $"forward {Describe(target, shape)} with NaN under the options");
        Assert.True(Bits(target.LogSumExp(a, shape).Value).SequenceEqual(Bits(target.LogSumExp(poisoned, shape).Value)), $"logsumexp {Describe(target, shape)} with NaN under the options");
    }

    /// <summary>
    /// A copy of <paramref name="a"/> with NaN and +∞, in turn, wherever the logits <paramref name="z"/> are −∞ (the
    /// element excluded); <paramref name="excluded"/> counts them.
    /// </summary>
    public static double[] PoisonExcluded(double[] a, double[] z, out int excluded)
    {
        var poisoned = (double[])a.Clone();
        excluded = 0;
        for (int i = 0; i < a.Length; i++)
        {
            if (double.IsNegativeInfinity(z[i]))
            {
                poisoned[i] = excluded++ % 2 == 0 ? double.NaN : double.PositiveInfinity;
            }
        }

        return poisoned;
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

            // Slices exist whenever every batch extent is positive; with a reduced extent of 0 each has nothing included.
            var lse = target.LogSumExp(Array.Empty<double>(), shape).Value;
            Assert.Equal(target.Axes.Contains(axis) ? Reference.SliceCount(shape, target.Axes) : 0, lse.Length);
            Assert.All(lse, value => Assert.Equal(double.NegativeInfinity, value));
        }

        // Extents whose product overflows int are fine when another one is zero (where the options that span the
        // others, which must still be passed whole, can be allocated).
        var huge = Enumerable.Repeat(100_000, target.Rank).ToArray();
        huge[0] = 0;
        if (OptionLength(huge, target.Options.MaskAxes) <= 1 << 20 && OptionLength(huge, target.Options.BiasAxes) <= 1 << 20)
        {
            Assert.Null(target.Forward(Array.Empty<double>(), huge).Error);
        }
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

        int slices = Reference.SliceCount(shape, target.Axes);
        Refused(target.LogSumExp(a, shape.Skip(1).ToArray(), slices), "shape", target.Rank.ToString());
        Refused(target.LogSumExp(a.Skip(1).ToArray(), shape), "a", n);
        Refused(target.LogSumExp(a, shape, slices + 1), "lse", slices.ToString());
        Refused(target.LogSumExp(a, shape, slices - 1), "lse", slices.ToString());
        (error, changed) = target.LogSumExpOverlapping(a, shape);
        Refused(error, changed, "lse", "overlaps a");

        var options = target.Options;
        if (options.HasMask)
        {
            int entries = TargetOptions.Length(shape, options.MaskAxes);
            Refused(target.ForwardWithOptions(a, shape, entries + 1, null), "mask", entries.ToString());
            Refused(target.ForwardWithOptions(a, shape, entries - 1, null), "mask", entries.ToString());
        }

        if (options.HasBias)
        {
            int entries = TargetOptions.Length(shape, options.BiasAxes);
            Refused(target.ForwardWithOptions(a, shape, null, entries + 1), "bias", entries.ToString());
            Refused(target.ForwardWithOptions(a, shape, null, 0), "bias", entries.ToString());
            (error, changed) = target.ForwardBiasOverlapping(a, shape);
            Refused(error, changed, "bias", "overlaps b");
        }

        foreach (double scale in new[] { double.NaN, double.PositiveInfinity, double.NegativeInfinity })
        {
            var unscaled = target.WithScale(scale);
            Refused(unscaled.Forward(a, shape), "scale", "finite");
            Refused(unscaled.Backward(b, dB, shape), "scale", "finite");
            Refused(unscaled.Jacobian(b, shape), "scale", "finite");
            Refused(unscaled.LogSumExp(a, shape), "scale", "finite");
        }
    }

    /// <summary>
    /// Scales that round (0.3) and that flip the sign (-1.7): forward, backward and log-sum-exp against the reference at
    /// the logits the target makes.
    /// </summary>
    public static void AnyScaleMatchesReference(ITarget target, int seed, int maxElements = 2000)
    {
        foreach (double scale in new[] { 0.3, -1.7 })
        {
            var scaled = target.WithScale(scale);
            ForwardMatchesReference(scaled, seed, maxElements);
            BackwardMatchesReference(scaled, seed + 1, cotangents: 2, maxElements);
            LogSumExpMatchesReference(scaled, seed + 2, maxElements);
        }
    }

    /// <summary>LogSumExp against the float64 reference at the target's logits, one value per slice in row-major batch order.</summary>
    public static void LogSumExpMatchesReference(ITarget target, int seed, int maxElements = 4000, double scale = 4)
    {
        foreach (var shape in TestData.Shapes(target.Rank, seed, maxElements))
        {
            var random = new Random(seed ^ shape.Sum());
            var a = target.Round(TestData.Logits(random, TestData.Count(shape), scale));
            AssertLogSumExpClose(target, a, shape, target.LogSumExp(a, shape).Value, $"logsumexp {Describe(target, shape)}");
        }
    }

    /// <summary>
    /// LogSumExp's special slices: all -∞ gives -∞, a NaN gives NaN, a +∞ gives +∞, a +∞ with a NaN gives NaN, some -∞
    /// among finite values changes nothing but the sum; every other slice is unaffected.
    /// </summary>
    public static void LogSumExpSpecialSlices(ITarget target, int seed)
    {
        var random = new Random(seed);
        var shape = TestData.RandomShape(random, target.Rank, 2000);
        var a = target.Round(TestData.Logits(random, TestData.Count(shape)));
        var slices = Reference.Slices(shape, target.Axes);
        for (int s = 0; s < slices.Count; s++)
        {
            var slice = slices[s];
            switch (s % 6)
            {
                case 0:
                    foreach (int i in slice) a[i] = double.NegativeInfinity;
                    break;
                case 1:
                    a[slice[random.Next(slice.Length)]] = double.NaN;
                    break;
                case 2:
                    a[slice[random.Next(slice.Length)]] = double.PositiveInfinity;
                    break;
                case 3:
                    a[slice[^1]] = double.PositiveInfinity;
                    a[slice[0]] = slice.Length > 1 ? double.NaN : a[slice[0]];
                    break;
                case 4:
                    foreach (int i in slice.Where((_, position) => position % 2 == 0)) a[i] = double.NegativeInfinity;
                    break;
            }
        }

        AssertLogSumExpClose(target, a, shape, target.LogSumExp(a, shape).Value, $"logsumexp of special slices {Describe(target, shape)}");
    }

    /// <summary>
    /// Each value within the target's tolerance of what it adds, |max| + log Σ exp(z - max) + 1 (the last for the
    /// sum's own rounding); infinities and NaN exactly.
    /// </summary>
    public static void AssertLogSumExpClose(ITarget target, double[] a, int[] shape, double[] actual, string what)
    {
        var z = target.Logits(a, shape);
        var expected = Reference.LogSumExp(z, shape, target.Axes);
        var slices = Reference.Slices(shape, target.Axes);
        var magnitude = slices.Select((slice, s) =>
        {
            double max = slice.Max(i => z[i]);
            return Math.Abs(max) + Math.Abs(expected[s] - max) + 1;
        }).ToArray();
        AssertClose(expected, actual, magnitude, Tolerance(target, SliceLength(target, shape)), 4 * target.Tiny, what);
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

    private static long OptionLength(int[] shape, int[] axes) => axes.Aggregate(1L, (product, axis) => product * shape[axis]);

    public static int SliceLength(ITarget target, int[] shape) => target.Axes.Aggregate(1, (product, axis) => product * shape[axis]);

    public static string Describe(ITarget target, int[] shape) => $"{target.Name} shape [{string.Join(", ", shape)}]";

    /// <summary>
    /// Each value within <paramref name="relative"/> of its <paramref name="magnitude"/> plus <paramref name="absolute"/>;
    /// an infinite or NaN expectation exactly.
    /// </summary>
    public static void AssertClose(double[] expected, double[] actual, double[] magnitude, double relative, double absolute, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            bool ok = double.IsFinite(expected[i])
                ? Math.Abs(expected[i] - actual[i]) <= relative * magnitude[i] + absolute
                : expected[i].Equals(actual[i]);
            if (!ok)
            {
                Fail($"{what}: [{i}] = {actual[i]:R}, expected {expected[i]:R} (bound {relative * magnitude[i] + absolute:G3})");
            }
        }
    }

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
