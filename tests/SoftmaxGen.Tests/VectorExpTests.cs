using System;
using System.Numerics;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>The vector exp the CPU kernels use, against Math.Exp in float64, lane by lane.</summary>
public sealed class VectorExpTests
{
    [Fact]
    public void FloatIsWithinTwoUlpsOverTheSoftmaxRange()
    {
        double worst = 0;
        var random = new Random(3);
        var lanes = new float[Vector<float>.Count];
        for (int trial = 0; trial < 20_000; trial++)
        {
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                lanes[lane] = (float)(-random.NextDouble() * 87); // e^x stays normal
            }

            var result = VectorExp.Exp(new Vector<float>(lanes));
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                double exact = Math.Exp(lanes[lane]);
                worst = Math.Max(worst, Math.Abs(result[lane] - exact) / UlpOf((float)exact));
            }
        }

        Assert.True(worst <= 2, $"worst error {worst:F2} ulp");
    }

    [Fact]
    public void DoubleIsWithinTwoUlpsOverTheSoftmaxRange()
    {
        double worst = 0;
        var random = new Random(4);
        var lanes = new double[Vector<double>.Count];
        for (int trial = 0; trial < 20_000; trial++)
        {
            for (int lane = 0; lane < lanes.Length; lane++)
            {
                lanes[lane] = -random.NextDouble() * 700;
            }

            var result = VectorExp.Exp(new Vector<double>(lanes));
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
    [InlineData(float.NegativeInfinity, 0f)]
    [InlineData(-104f, 0f)]
    [InlineData(-90f, 8.194012623990515e-40f)]
    [InlineData(0f, 1f)]
    [InlineData(1f, 2.7182817f)]
    [InlineData(89f, float.PositiveInfinity)]
    [InlineData(float.PositiveInfinity, float.PositiveInfinity)]
    public void FloatSpecialValues(float x, float expected)
    {
        var result = VectorExp.Exp(new Vector<float>(x));
        Assert.Equal(expected, result[0], (float)Math.Max(Math.Abs(expected) * 2.5e-7, 1e-45));
    }

    [Fact]
    public void NaNLanesStayNaNAndLeaveTheirNeighboursAlone()
    {
        var lanes = new float[Vector<float>.Count];
        for (int lane = 0; lane < lanes.Length; lane++) lanes[lane] = -lane * 0.37f;
        var clean = VectorExp.Exp(new Vector<float>(lanes));
        lanes[1] = float.NaN;
        lanes[0] = float.NegativeInfinity;
        var mixed = VectorExp.Exp(new Vector<float>(lanes));
        Assert.True(float.IsNaN(mixed[1]));
        Assert.Equal(0f, mixed[0]);
        for (int lane = 2; lane < lanes.Length; lane++)
        {
            Assert.Equal(clean[lane], mixed[lane]);
        }
    }

    private static double UlpOf(float value) => MathF.BitIncrement(value) - value;
}
