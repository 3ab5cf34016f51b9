using System;
using System.Collections.Generic;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The scalar exp the ILGPU kernels compute (<see cref="GpuMath"/>), run here as plain C#, against Math.Exp in float64
/// over the arguments softmax gives it: x ≤ 0, -∞ and NaN, including those whose e^x is below the normal range (0).
/// </summary>
public sealed class GpuMathTests
{
    [Theory]
    [InlineData(0f, 1f)]
    [InlineData(float.NegativeInfinity, 0f)]
    [InlineData(-104f, 0f)]
    [InlineData(-1000f, 0f)]
    public void FloatEdges(float x, float expected) => Assert.Equal(expected, GpuMath.Exp(x));

    [Theory]
    [InlineData(0f, 1f)]
    [InlineData(float.NegativeInfinity, 0f)]
    [InlineData(-104f, 0f)]
    [InlineData(-1000f, 0f)]
    public void FastFloatEdges(float x, float expected) => Assert.Equal(expected, GpuMath.FastExp<PortableExp2>(x));

    /// <summary>The approximate exp as plain C#: its portable 2^u, within the 3 ulp its CUDA form is held to.</summary>
    [Fact]
    public void FastFloatMatchesMathExp()
    {
        var x = ExpArguments.Float();
        ExpArguments.AssertClose(x, Array.ConvertAll(x, GpuMath.FastExp<PortableExp2>), ulps: 3);
    }

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
    /// One exp per precision: the kernels' scalar exp (run here as C#, with separate multiplies and adds) and the CPU's
    /// vector exp (fused multiply-adds) evaluate the same reduction and polynomial, so they differ by at most an ulp,
    /// across every k from -150 to 0 (subnormal results included).
    /// </summary>
    [Fact]
    public void FloatAgreesWithTheCpuExp()
    {
        var random = new Random(5);
        var inputs = new List<float> { 0f, -0f, float.NegativeInfinity, -104f, -103.99f };
        for (int k = -150; k <= 0; k++)
        {
            for (int i = 0; i < 64; i++)
            {
                inputs.Add(Math.Min(0f, (float)((k + random.NextDouble() - 0.5) * Math.Log(2))));
            }
        }

        int width = System.Numerics.Vector<float>.Count;
        while (inputs.Count % width != 0)
        {
            inputs.Add(0f);
        }

        for (int first = 0; first < inputs.Count; first += width)
        {
            var cpu = VectorExp.Exp(new System.Numerics.Vector<float>(inputs.GetRange(first, width).ToArray()));
            for (int lane = 0; lane < width; lane++)
            {
                float gpu = GpuMath.Exp(inputs[first + lane]);
                Assert.True(Math.Abs(gpu - cpu[lane]) <= Math.Max(MathF.BitIncrement(cpu[lane]) - cpu[lane], float.Epsilon), $"exp({inputs[first + lane]:R}): {gpu:R} on the GPU path, {cpu[lane]:R} on the CPU");
            }
        }
    }

    [Fact]
    public void DoubleAgreesWithTheCpuExp()
    {
        var random = new Random(6);
        var inputs = new List<double> { 0.0, -0.0, double.NegativeInfinity, -746.0, -745.2 };
        for (int k = -1076; k <= 0; k++)
        {
            for (int i = 0; i < 16; i++)
            {
                inputs.Add(Math.Min(0.0, (k + random.NextDouble() - 0.5) * Math.Log(2)));
            }
        }

        int width = System.Numerics.Vector<double>.Count;
        while (inputs.Count % width != 0)
        {
            inputs.Add(0.0);
        }

        for (int first = 0; first < inputs.Count; first += width)
        {
            var cpu = VectorExp.Exp(new System.Numerics.Vector<double>(inputs.GetRange(first, width).ToArray()));
            for (int lane = 0; lane < width; lane++)
            {
                double gpu = GpuMath.Exp(inputs[first + lane]);
                Assert.True(Math.Abs(gpu - cpu[lane]) <= Math.Max(Math.BitIncrement(cpu[lane]) - cpu[lane], double.Epsilon), $"exp({inputs[first + lane]:R}): {gpu:R} on the GPU path, {cpu[lane]:R} on the CPU");
            }
        }
    }

    /// <summary>
    /// Within 2 ulp (relative error over 2^-23, 2^-52) of the float64 exp from the normal bound (-87.3, -708.3) up, and 0
    /// below it. <see cref="GpuExpSuite"/> checks the same on a device.
    /// </summary>
    [Fact]
    public void FloatMatchesMathExp()
    {
        var x = ExpArguments.Float();
        ExpArguments.AssertClose(x, Array.ConvertAll(x, GpuMath.Exp));
    }

    [Fact]
    public void DoubleMatchesMathExp()
    {
        var x = ExpArguments.Double();
        ExpArguments.AssertClose(x, Array.ConvertAll(x, GpuMath.Exp));
    }
}

/// <summary>
/// Arguments for the GPU exp (x ≤ 0, a quarter of them around and below the normal bound, and first the edges: ±0, -∞,
/// NaNs of both signs, arguments far below the bound) and what it must give: NaN for NaN, 0 below the bound, within 2 ulp
/// elsewhere.
/// </summary>
internal static class ExpArguments
{
    public static float[] Float()
    {
        var random = new Random(20261126);
        var x = new float[400_000];
        float[] edges = [0f, -0f, float.NegativeInfinity, float.NaN, -float.NaN, -87.3f, -87.30001f, -104f, -1000f];
        edges.CopyTo(x, 0);
        for (int i = edges.Length; i < x.Length; i++)
        {
            x[i] = (i % 4) switch
            {
                0 => -(float)(random.NextDouble() * 104),
                1 => -(float)(87 + random.NextDouble() * 17), // around and below the normal bound
                2 => -(float)(random.NextDouble() * 2),
                _ => -(float)Math.Pow(10, -random.NextDouble() * 40),
            };
        }

        return x;
    }

    public static double[] Double()
    {
        var random = new Random(20261127);
        var x = new double[400_000];
        double[] edges = [0.0, -0.0, double.NegativeInfinity, double.NaN, -double.NaN, -708.3, -708.3000001, -746.0, -10000.0];
        edges.CopyTo(x, 0);
        for (int i = edges.Length; i < x.Length; i++)
        {
            x[i] = (i % 4) switch
            {
                0 => -random.NextDouble() * 746,
                1 => -(708 + random.NextDouble() * 38), // around and below the normal bound
                2 => -random.NextDouble() * 2,
                _ => -Math.Pow(10, -random.NextDouble() * 300),
            };
        }

        return x;
    }

    /// <summary>y = e^x to within <paramref name="ulps"/> ulp (2 for the default exp), 0 below the normal bound, NaN at NaN.</summary>
    public static void AssertClose(float[] x, float[] y, double ulps = 2) =>
        AssertClose(Array.ConvertAll(x, value => (double)value), Array.ConvertAll(y, value => (double)value), ExpConstants.FloatNormalBound, Math.Pow(2, -23), ulps);

    public static void AssertClose(double[] x, double[] y) =>
        AssertClose(x, y, ExpConstants.DoubleNormalBound, Math.Pow(2, -52), 2);

    private static void AssertClose(double[] x, double[] y, double normalBound, double ulp, double ulps)
    {
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            if (double.IsNaN(x[i]))
            {
                Assert.True(double.IsNaN(y[i]), $"exp(NaN) gave {y[i]}");
                continue;
            }

            if (x[i] < normalBound)
            {
                Assert.True(y[i] == 0, $"exp({x[i]:R}) below the normal bound gave {y[i]:R}, not 0");
                continue;
            }

            double expected = Math.Exp(x[i]);
            double error = Math.Abs(y[i] - expected); // a NaN error fails the comparison below
            worst = double.IsNaN(error) ? double.NaN : Math.Max(worst, error / expected / ulp);
        }

        Assert.True(worst <= ulps, $"worst error {worst} ulp");
    }
}
