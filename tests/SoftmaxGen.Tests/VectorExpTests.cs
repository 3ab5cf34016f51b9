using System;
using System.Linq;
using System.Numerics;
using System.Runtime.Intrinsics;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The vector exp the CPU kernels use, against Math.Exp in float64, lane by lane: the <see cref="Vector{T}"/> version
/// and the <see cref="Vector512{T}"/> one (which scales with <c>vscalefps</c>/<c>vscalefpd</c> where AVX-512 is present,
/// and runs the <see cref="Vector{T}"/> arithmetic otherwise).
/// </summary>
public sealed class VectorExpTests
{
    public enum Width
    {
        Vector,
        Vector512,
    }

    private static float[] Exp(Width width, float[] lanes) => width == Width.Vector
        ? Lanes(VectorExp.Exp(new Vector<float>(Fit(lanes, Vector<float>.Count))), Vector<float>.Count)
        : Lanes(VectorExp.Exp(Vector512.Create(Fit(lanes, Vector512<float>.Count))), Vector512<float>.Count);

    private static double[] Exp(Width width, double[] lanes) => width == Width.Vector
        ? Lanes(VectorExp.Exp(new Vector<double>(Fit(lanes, Vector<double>.Count))), Vector<double>.Count)
        : Lanes(VectorExp.Exp(Vector512.Create(Fit(lanes, Vector512<double>.Count))), Vector512<double>.Count);

    private static int Count<T>(Width width) => width == Width.Vector ? Vector<T>.Count : Vector512<T>.Count;

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

    [Theory]
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
                lanes[lane] = (float)(-random.NextDouble() * 87); // e^x stays normal
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

    [Theory]
    [InlineData(Width.Vector)]
    [InlineData(Width.Vector512)]
    public void FloatSubnormalResultsAreWithinOneSubnormalStep(Width width)
    {
        var random = new Random(5);
        var lanes = new float[Count<float>(width)];
        for (int trial = 0; trial < 5_000; trial++)
        {
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                lanes[lane] = (float)(-87.3 - random.NextDouble() * 17); // e^x below float's normal range
            }

            var result = Exp(width, lanes);
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                double exact = Math.Exp(lanes[lane]);
                Assert.True(Math.Abs(result[lane] - exact) <= Math.Max(1.5 * float.Epsilon, exact * 3e-7), $"exp({lanes[lane]:R}) = {result[lane]:R}, exact {exact:R}");
            }
        }
    }

    [Theory]
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
                lanes[lane] = -random.NextDouble() * 700;
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

    [Theory]
    [InlineData(Width.Vector, float.NegativeInfinity, 0f)]
    [InlineData(Width.Vector, -104f, 0f)]
    [InlineData(Width.Vector, -90f, 8.194012623990515e-40f)]
    [InlineData(Width.Vector, 0f, 1f)]
    [InlineData(Width.Vector, 1f, 2.7182817f)]
    [InlineData(Width.Vector, 88.72f, 3.3931806e38f)]
    [InlineData(Width.Vector, 88.7229f, float.PositiveInfinity)]
    [InlineData(Width.Vector, 89f, float.PositiveInfinity)]
    [InlineData(Width.Vector, 1e30f, float.PositiveInfinity)]
    [InlineData(Width.Vector, float.PositiveInfinity, float.PositiveInfinity)]
    [InlineData(Width.Vector512, float.NegativeInfinity, 0f)]
    [InlineData(Width.Vector512, -1e30f, 0f)]
    [InlineData(Width.Vector512, -104f, 0f)]
    [InlineData(Width.Vector512, -90f, 8.194012623990515e-40f)]
    [InlineData(Width.Vector512, 0f, 1f)]
    [InlineData(Width.Vector512, 1f, 2.7182817f)]
    [InlineData(Width.Vector512, 88.72f, 3.3931806e38f)]
    [InlineData(Width.Vector512, 88.7229f, float.PositiveInfinity)]
    [InlineData(Width.Vector512, 89f, float.PositiveInfinity)]
    [InlineData(Width.Vector512, 1e30f, float.PositiveInfinity)]
    [InlineData(Width.Vector512, float.PositiveInfinity, float.PositiveInfinity)]
    public void FloatSpecialValues(Width width, float x, float expected)
    {
        var lanes = new float[Count<float>(width)];
        Array.Fill(lanes, x);
        var result = Exp(width, lanes);
        Assert.All(result, value => Assert.Equal(expected, value, (float)Math.Max(Math.Abs(expected) * 2.5e-7, 1e-45)));
    }

    [Theory]
    [InlineData(Width.Vector, double.NegativeInfinity, 0.0)]
    [InlineData(Width.Vector, -746.0, 0.0)]
    [InlineData(Width.Vector, -740.0, 4.2e-322)]
    [InlineData(Width.Vector, 0.0, 1.0)]
    [InlineData(Width.Vector, 709.78, 1.7928227943945e308)]
    [InlineData(Width.Vector, 709.8, double.PositiveInfinity)]
    [InlineData(Width.Vector, 1e300, double.PositiveInfinity)]
    [InlineData(Width.Vector512, double.NegativeInfinity, 0.0)]
    [InlineData(Width.Vector512, -1e300, 0.0)]
    [InlineData(Width.Vector512, -746.0, 0.0)]
    [InlineData(Width.Vector512, -740.0, 4.2e-322)]
    [InlineData(Width.Vector512, 0.0, 1.0)]
    [InlineData(Width.Vector512, 709.78, 1.7928227943945e308)]
    [InlineData(Width.Vector512, 709.8, double.PositiveInfinity)]
    [InlineData(Width.Vector512, 1e300, double.PositiveInfinity)]
    public void DoubleSpecialValues(Width width, double x, double expected)
    {
        var lanes = new double[Count<double>(width)];
        Array.Fill(lanes, x);
        var result = Exp(width, lanes);
        Assert.All(result, value => Assert.Equal(expected, value, Math.Max(Math.Abs(expected) * 1e-12, 1e-323)));
    }

    [Theory]
    [InlineData(Width.Vector)]
    [InlineData(Width.Vector512)]
    public void NaNLanesStayNaNAndLeaveTheirNeighboursAlone(Width width)
        => SpecialLanesStayInTheirLane<float>(Count<float>(width), lanes => Exp(width, lanes));

    [Theory]
    [InlineData(Width.Vector)]
    [InlineData(Width.Vector512)]
    public void DoubleNaNLanesStayNaNAndLeaveTheirNeighboursAlone(Width width)
        => SpecialLanesStayInTheirLane<double>(Count<double>(width), lanes => Exp(width, lanes));

    /// <summary>
    /// -∞, NaN and +∞ in lanes 0, 1 and 2 give 0, NaN and +∞ there and leave every other lane bit for bit as it was
    /// (vectors of fewer lanes, as double on SSE or NEON, take the three in turns of as many as they have).
    /// </summary>
    private static void SpecialLanesStayInTheirLane<T>(int count, Func<T[], T[]> exp)
        where T : IFloatingPointIeee754<T>
    {
        var lanes = new T[count];
        for (int lane = 0; lane < lanes.Length; lane++) lanes[lane] = T.CreateChecked(-lane * 0.37);
        var clean = exp(lanes);
        T[] specials = [T.NegativeInfinity, T.NaN, T.PositiveInfinity];
        for (int first = 0; first < specials.Length; first += count)
        {
            int taken = Math.Min(count, specials.Length - first);
            var mixed = (T[])lanes.Clone();
            Array.Copy(specials, first, mixed, 0, taken);
            var result = exp(mixed);
            for (int lane = 0; lane < taken; lane++)
            {
                T special = specials[first + lane];
                T expected = T.IsNaN(special) ? special : (T.IsNegative(special) ? T.Zero : special);
                Assert.True(T.IsNaN(expected) ? T.IsNaN(result[lane]) : result[lane] == expected, $"exp({special}) = {result[lane]}");
            }

            for (int lane = taken; lane < count; lane++)
            {
                Assert.Equal(clean[lane], result[lane]);
            }
        }
    }

    /// <summary>
    /// The kernels' exp of shifted logits gives the same bits as the general one wherever it is exact (x ≤ 43 for
    /// float, 620 for double): over that range at random, in the subnormal results, at the clamp, and at -∞ and NaN.
    /// </summary>
    [Fact]
    public void FloatExpOfShiftedLogitsHasTheBitsOfExp()
        => ShiftedHasTheBitsOfExp<float>(
            lanes => Lanes(VectorExp.ExpShifted(new Vector<float>(lanes)), Vector<float>.Count),
            lanes => Lanes(VectorExp.Exp(new Vector<float>(lanes)), Vector<float>.Count),
            low: -110, high: 43, subnormal: -87.4, special: [-104f, -103.9f, -87.33655f, -0f, 0f, 43f]);

    [Fact]
    public void DoubleExpOfShiftedLogitsHasTheBitsOfExp()
        => ShiftedHasTheBitsOfExp<double>(
            lanes => Lanes(VectorExp.ExpShifted(new Vector<double>(lanes)), Vector<double>.Count),
            lanes => Lanes(VectorExp.Exp(new Vector<double>(lanes)), Vector<double>.Count),
            low: -760, high: 620, subnormal: -708.4, special: [-746.0, -745.1, -708.3964, -0.0, 0.0, 620.0]);

    private static void ShiftedHasTheBitsOfExp<T>(Func<T[], T[]> shifted, Func<T[], T[]> exp, double low, double high, double subnormal, T[] special)
        where T : IFloatingPointIeee754<T>
    {
        int count = Vector<T>.Count;
        var random = new Random(41);
        var lanes = new T[count];
        int subnormals = 0;
        for (int trial = 0; trial < 30_000; trial++)
        {
            for (int lane = 0; lane < count; lane++)
            {
                // A third of the trials fall where e^x is subnormal or 0.
                double x = trial % 3 == 0 ? subnormal - (random.NextDouble() * (subnormal - low) * 0.2) : low + (random.NextDouble() * (high - low));
                lanes[lane] = T.CreateTruncating(x);
            }

            var expected = exp(lanes);
            Assert.Equal(expected, shifted(lanes));
            subnormals += expected.Count(T.IsSubnormal);
        }

        Assert.True(subnormals > 1000, $"only {subnormals} subnormal results");
        T[] edges = [.. special, T.NegativeInfinity, T.NaN, T.Epsilon, -T.Epsilon];
        for (int first = 0; first < edges.Length; first += count)
        {
            Array.Fill(lanes, T.Zero);
            Array.Copy(edges, first, lanes, 0, Math.Min(count, edges.Length - first));
            var expected = exp(lanes);
            var actual = shifted(lanes);
            for (int lane = 0; lane < count; lane++)
            {
                Assert.True(T.IsNaN(expected[lane]) ? T.IsNaN(actual[lane]) : expected[lane] == actual[lane], $"exp({lanes[lane]}): {actual[lane]}, expected {expected[lane]}");
            }
        }
    }

    private static double UlpOf(float value) => MathF.BitIncrement(value) - value;
}
