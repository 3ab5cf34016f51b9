using System;
using System.Linq;
using System.Numerics;
using System.Runtime.Intrinsics;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The vector exp the CPU kernels use, over what softmax gives it (x ≤ 0, −∞, NaN), against Math.Exp in float64, lane
/// by lane: the <see cref="Vector{T}"/> version and the <see cref="Vector512{T}"/> one (AVX-512's <c>vscalef</c>), which
/// give the same bits.
/// </summary>
public sealed class VectorExpTests
{
    public enum Width
    {
        Vector,
        Vector512,
    }

    private static void SkipUnlessAccelerated(Width width)
        => Skip.If(width == Width.Vector512 && !Vector512.IsHardwareAccelerated, "Vector512 is not accelerated here: the kernels never take it");

    private static float[] Exp(Width width, float[] lanes) => width == Width.Vector
        ? Lanes(VectorExp.Exp(new Vector<float>(Fit(lanes, Vector<float>.Count))), Vector<float>.Count)
        : Lanes(VectorExp.Exp(Vector512.Create(Fit(lanes, Vector512<float>.Count))), Vector512<float>.Count);

    private static double[] Exp(Width width, double[] lanes) => width == Width.Vector
        ? Lanes(VectorExp.Exp(new Vector<double>(Fit(lanes, Vector<double>.Count))), Vector<double>.Count)
        : Lanes(VectorExp.Exp(Vector512.Create(Fit(lanes, Vector512<double>.Count))), Vector512<double>.Count);

    private static int Count<T>(Width width)
    {
        SkipUnlessAccelerated(width);
        return width == Width.Vector ? Vector<T>.Count : Vector512<T>.Count;
    }

    private static T[] Fit<T>(T[] lanes, int count) => lanes.Length == count ? lanes : throw new ArgumentException("lane count");

    private static T[] Lanes<T>(Vector<T> vector, int count)
    {
        var lanes = new T[count];
        vector.CopyTo(lanes);
        return lanes;
    }

    private static T[] Lanes<T>(Vector512<T> vector, int count)
    {
        var lanes = new T[count];
        vector.CopyTo(lanes);
        return lanes;
    }

    [SkippableTheory]
    [InlineData(Width.Vector)]
    [InlineData(Width.Vector512)]
    public void FloatIsWithinTwoUlpsOverTheSoftmaxRange(Width width)
    {
        double worst = 0;
        var random = new Random(3);
        var lanes = new float[Count<float>(width)];
        for (int trial = 0; trial < 20_000; trial++)
        {
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                lanes[lane] = (float)(random.NextDouble() * ExpConstants.FloatNormalBound); // e^x stays normal
            }

            var result = Exp(width, lanes);
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                double exact = Math.Exp(lanes[lane]);
                worst = Math.Max(worst, Math.Abs(result[lane] - exact) / UlpOf((float)exact));
            }
        }

        Assert.True(worst <= 2, $"worst error {worst:F2} ulp");
    }

    /// <summary>Below the normal bound the result is 0, exactly: no step of exp makes a subnormal (see <see cref="ExpConstants"/>).</summary>
    [SkippableTheory]
    [InlineData(Width.Vector)]
    [InlineData(Width.Vector512)]
    public void FloatBelowTheNormalBoundIsZero(Width width)
    {
        var random = new Random(5);
        var lanes = new float[Count<float>(width)];
        for (int trial = 0; trial < 5_000; trial++)
        {
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                lanes[lane] = (float)(ExpConstants.FloatNormalBound - 1e-4 - (random.NextDouble() * 20));
            }

            Assert.All(Exp(width, lanes), value => Assert.Equal(0f, value));
        }
    }

    [SkippableTheory]
    [InlineData(Width.Vector)]
    [InlineData(Width.Vector512)]
    public void DoubleIsWithinTwoUlpsOverTheSoftmaxRange(Width width)
    {
        double worst = 0;
        var random = new Random(4);
        var lanes = new double[Count<double>(width)];
        for (int trial = 0; trial < 20_000; trial++)
        {
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                lanes[lane] = random.NextDouble() * ExpConstants.DoubleNormalBound;
            }

            var result = Exp(width, lanes);
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                // Math.Exp itself is within an ulp; the bound allows for both.
                double exact = Math.Exp(lanes[lane]);
                worst = Math.Max(worst, Math.Abs(result[lane] - exact) / (Math.BitIncrement(exact) - exact));
            }
        }

        Assert.True(worst <= 2, $"worst error {worst:F2} ulp");
    }

    [SkippableTheory]
    [InlineData(Width.Vector, float.NegativeInfinity, 0f)]
    [InlineData(Width.Vector, -1e30f, 0f)]
    [InlineData(Width.Vector, -104f, 0f)]
    [InlineData(Width.Vector, -90f, 0f)]
    [InlineData(Width.Vector, -87.3f, 1.2192433e-38f)]
    [InlineData(Width.Vector, 0f, 1f)]
    [InlineData(Width.Vector512, float.NegativeInfinity, 0f)]
    [InlineData(Width.Vector512, -1e30f, 0f)]
    [InlineData(Width.Vector512, -104f, 0f)]
    [InlineData(Width.Vector512, -90f, 0f)]
    [InlineData(Width.Vector512, -87.3f, 1.2192433e-38f)]
    [InlineData(Width.Vector512, 0f, 1f)]
    public void FloatSpecialValues(Width width, float x, float expected)
    {
        var lanes = new float[Count<float>(width)];
        Array.Fill(lanes, x);
        var result = Exp(width, lanes);
        Assert.All(result, value => Assert.Equal(expected, value, (float)Math.Max(Math.Abs(expected) * 2.5e-7, 1e-45)));
    }

    [SkippableTheory]
    [InlineData(Width.Vector, double.NegativeInfinity, 0.0)]
    [InlineData(Width.Vector, -1e300, 0.0)]
    [InlineData(Width.Vector, -746.0, 0.0)]
    [InlineData(Width.Vector, -740.0, 0.0)]
    [InlineData(Width.Vector, 0.0, 1.0)]
    [InlineData(Width.Vector512, double.NegativeInfinity, 0.0)]
    [InlineData(Width.Vector512, -1e300, 0.0)]
    [InlineData(Width.Vector512, -746.0, 0.0)]
    [InlineData(Width.Vector512, -740.0, 0.0)]
    [InlineData(Width.Vector512, 0.0, 1.0)]
    public void DoubleSpecialValues(Width width, double x, double expected)
    {
        var lanes = new double[Count<double>(width)];
        Array.Fill(lanes, x);
        var result = Exp(width, lanes);
        Assert.All(result, value => Assert.Equal(expected, value, Math.Max(Math.Abs(expected) * 1e-12, 1e-323)));
    }

    [SkippableTheory]
    [InlineData(Width.Vector)]
    [InlineData(Width.Vector512)]
    public void NaNLanesStayNaNAndLeaveTheirNeighboursAlone(Width width)
        => SpecialLanesStayInTheirLane<float>(Count<float>(width), lanes => Exp(width, lanes));

    [SkippableTheory]
    [InlineData(Width.Vector)]
    [InlineData(Width.Vector512)]
    public void DoubleNaNLanesStayNaNAndLeaveTheirNeighboursAlone(Width width)
        => SpecialLanesStayInTheirLane<double>(Count<double>(width), lanes => Exp(width, lanes));

    /// <summary>
    /// −∞ and NaN in lanes 0 and 1 give 0 and NaN there and leave every other lane bit for bit as it was.
    /// </summary>
    private static void SpecialLanesStayInTheirLane<T>(int count, Func<T[], T[]> exp)
        where T : IFloatingPointIeee754<T>
    {
        var lanes = new T[count];
        for (int lane = 0; lane < lanes.Length; lane++) lanes[lane] = T.CreateChecked(-lane * 0.37);
        var clean = exp(lanes);
        T[] specials = [T.NegativeInfinity, T.NaN];
        for (int first = 0; first < specials.Length; first += count)
        {
            int taken = Math.Min(count, specials.Length - first);
            var mixed = (T[])lanes.Clone();
            Array.Copy(specials, first, mixed, 0, taken);
            var result = exp(mixed);
            for (int lane = 0; lane < taken; lane++)
            {
                T special = specials[first + lane];
                T expected = T.IsNaN(special) ? special : T.Zero;
                Assert.True(T.IsNaN(expected) ? T.IsNaN(result[lane]) : result[lane] == expected, $"exp({special}) = {result[lane]}");
            }

            for (int lane = taken; lane < count; lane++)
            {
                Assert.Equal(clean[lane], result[lane]);
            }
        }
    }

    /// <summary>
    /// One exp per precision: the Vector512 form (vscalef) and the <see cref="Vector{T}"/> form (exponent arithmetic) give
    /// the same bits over the whole softmax range, around the normal bound, and at −∞ and NaN.
    /// </summary>
    [SkippableFact]
    public void FloatWidthsGiveTheSameBits()
        => WidthsGiveTheSameBits<float>(low: -110, bound: ExpConstants.FloatNormalBound, special: [-104f, -87.3f, -87.30001f, -87.29999f, -0f, 0f]);

    [SkippableFact]
    public void DoubleWidthsGiveTheSameBits()
        => WidthsGiveTheSameBits<double>(low: -760, bound: ExpConstants.DoubleNormalBound, special: [-746.0, -708.3, -708.3000001, -708.2999999, -0.0, 0.0]);

    private static void WidthsGiveTheSameBits<T>(double low, double bound, T[] special)
        where T : IFloatingPointIeee754<T>
    {
        Skip.IfNot(Vector512.IsHardwareAccelerated, "Vector512 is not accelerated here");
        int count = Vector512<T>.Count;
        var random = new Random(41);
        var lanes = new T[count];
        for (int trial = 0; trial < 30_000; trial++)
        {
            for (int lane = 0; lane < count; lane++)
            {
                // A third of the trials fall within 1 of the normal bound.
                double x = trial % 3 == 0 ? bound + 1 - (2 * random.NextDouble()) : low * random.NextDouble();
                lanes[lane] = T.CreateTruncating(x);
            }

            Assert.Equal(Wide(lanes), Narrow(lanes));
        }

        T[] edges = [.. special, T.NegativeInfinity, T.NaN, -T.Epsilon];
        Array.Fill(lanes, T.Zero);
        Array.Copy(edges, lanes, Math.Min(count, edges.Length));
        var expected = Wide(lanes);
        var actual = Narrow(lanes);
        for (int lane = 0; lane < count; lane++)
        {
            Assert.True(T.IsNaN(expected[lane]) ? T.IsNaN(actual[lane]) : expected[lane] == actual[lane], $"exp({lanes[lane]}): {actual[lane]}, Vector512 {expected[lane]}");
        }

        static T[] Wide(T[] lanes) => typeof(T) == typeof(float)
            ? (T[])(object)Lanes(VectorExp.Exp(Vector512.Create((float[])(object)lanes)), Vector512<float>.Count)
            : (T[])(object)Lanes(VectorExp.Exp(Vector512.Create((double[])(object)lanes)), Vector512<double>.Count);

        // The Vector<T> form over the same lanes, as many at a time as it holds.
        static T[] Narrow(T[] lanes)
        {
            var result = new T[lanes.Length];
            int width = Vector<T>.Count;
            for (int first = 0; first < lanes.Length; first += width)
            {
                var part = lanes[first..(first + width)];
                var exp = typeof(T) == typeof(float)
                    ? (T[])(object)Lanes(VectorExp.Exp(new Vector<float>((float[])(object)part)), width)
                    : (T[])(object)Lanes(VectorExp.Exp(new Vector<double>((double[])(object)part)), width);
                exp.CopyTo(result, first);
            }

            return result;
        }
    }

    private static double UlpOf(float value) => MathF.BitIncrement(value) - value;
}
