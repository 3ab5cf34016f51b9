using System;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The scalar exp the ILGPU kernels compute (<see cref="GpuMath"/>), run here as plain C#, against Math.Exp in float64
/// over the arguments softmax gives it: x ≤ 0, -∞ and NaN, including those whose e^x is subnormal.
/// </summary>
public sealed class GpuMathTests
{
    [Fact]
    public void TheScaleConstantsAreExactlyTwoToTheMinus64()
    {
        Assert.True(GpuMath.TwoToMinus64 == MathF.ScaleB(1f, -64));
        Assert.True(GpuMath.TwoToMinus64Double == Math.ScaleB(1.0, -64));
    }

    [Theory]
    [InlineData(0f, 1f)]
    [InlineData(float.NegativeInfinity, 0f)]
    [InlineData(-104f, 0f)]
    [InlineData(-1000f, 0f)]
    public void FloatEdges(float x, float expected) => Assert.Equal(expected, GpuMath.Exp(x));

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(double.NegativeInfinity, 0.0)]
    [InlineData(-746.0, 0.0)]
    [InlineData(-10000.0, 0.0)]
    public void DoubleEdges(double x, double expected) => Assert.Equal(expected, GpuMath.Exp(x));

    [Fact]
    public void MinusZeroGivesOne()
    {
        Assert.Equal(1f, GpuMath.Exp(-0f));
        Assert.Equal(1.0, GpuMath.Exp(-0.0));
    }

    [Fact]
    public void NaNStaysNaN()
    {
        Assert.True(float.IsNaN(GpuMath.Exp(float.NaN)));
        Assert.True(float.IsNaN(GpuMath.Exp(-float.NaN)));
        Assert.True(double.IsNaN(GpuMath.Exp(double.NaN)));
        Assert.True(double.IsNaN(GpuMath.Exp(-double.NaN)));
    }

    /// <summary>
    /// Within 2 ulp (relative error over 2^-23, 2^-52) of the float64 exp where e^x is normal; where it is subnormal (x below about
    /// -87.3), within one unit of the subnormal spacing (2^-149), as a single rounding of p · 2^k gives.
    /// </summary>
    [Fact]
    public void FloatMatchesMathExp()
    {
        var random = new Random(20261126);
        double worstNormal = 0, worstSubnormal = 0;
        for (int i = 0; i < 400_000; i++)
        {
            float x = (i % 4) switch
            {
                0 => -(float)(random.NextDouble() * 104),
                1 => -(float)(87 + random.NextDouble() * 17), // subnormal results
                2 => -(float)(random.NextDouble() * 2),
                _ => -(float)Math.Pow(10, -random.NextDouble() * 40),
            };
            double expected = Math.Exp(x);
            double error = Math.Abs(GpuMath.Exp(x) - expected);
            if (expected >= 1.17549435E-38)
            {
                worstNormal = Math.Max(worstNormal, error / expected / Math.Pow(2, -23));
            }
            else
            {
                worstSubnormal = Math.Max(worstSubnormal, error / Math.Pow(2, -149));
            }
        }

        Assert.True(worstNormal <= 2, $"worst error {worstNormal} ulp where e^x is normal");
        Assert.True(worstSubnormal <= 1, $"worst error {worstSubnormal} × 2^-149 where e^x is subnormal");
    }

    [Fact]
    public void DoubleMatchesMathExp()
    {
        var random = new Random(20261127);
        double worstNormal = 0, worstSubnormal = 0;
        for (int i = 0; i < 400_000; i++)
        {
            double x = (i % 4) switch
            {
                0 => -random.NextDouble() * 746,
                1 => -(708 + random.NextDouble() * 38), // subnormal results
                2 => -random.NextDouble() * 2,
                _ => -Math.Pow(10, -random.NextDouble() * 300),
            };
            double expected = Math.Exp(x);
            double error = Math.Abs(GpuMath.Exp(x) - expected);
            if (expected >= 2.2250738585072014E-308)
            {
                worstNormal = Math.Max(worstNormal, error / expected / Math.Pow(2, -52));
            }
            else
            {
                worstSubnormal = Math.Max(worstSubnormal, error / double.Epsilon);
            }
        }

        Assert.True(worstNormal <= 2, $"worst error {worstNormal} ulp where e^x is normal");
        Assert.True(worstSubnormal <= 1, $"worst error {worstSubnormal} × 2^-1074 where e^x is subnormal");
    }
}
