using System;
using System.IO;
using System.Linq;
using SoftmaxGen.Samples.Attention;
using Xunit;

namespace SoftmaxGen.Tests.Samples;

/// <summary>The attention sample's core, with sizes small enough for CI, on both devices and both paths (unfused and fused).</summary>
public sealed class AttentionSampleTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheSampleComparesBothDevicesAndBothPathsAndEveryCheckPasses(bool causal)
    {
        var output = new StringWriter();
        var options = new AttentionOptions { Shape = new ProblemSize(Batch: 2, Heads: 2, Sequence: 12, HeadDim: 8), Causal = causal };

        int exitCode = AttentionSample.Run(options, output);

        string text = output.ToString();
        Assert.True(exitCode == 0, text);
        Assert.Contains(causal ? "[Attention(8, Causal = true)] CausalAttention8" : "[Attention(8)] Attention8", text);
        Assert.Contains("| unfused | CPU |", text);
        Assert.Contains("| fused | CPU |", text);
        Assert.Equal(2, text.Split('\n').Count(line => line.StartsWith("| fused |")));
        foreach (var tensor in new[] { "P", "O", "dQ", "dK", "dV" })
        {
            Assert.Contains($"| ILGPU = CPU, unfused: {tensor} |", text);
        }

        foreach (var device in new[] { "CPU", "ILGPU" })
        {
            foreach (var tensor in new[] { "O", "log-sum-exp", "dQ", "dK", "dV" })
            {
                Assert.Contains($"| fused = unfused, {device}: {tensor} |", text);
            }
        }

        foreach (var path in new[] { "unfused", "fused" })
        {
            foreach (var tensor in new[] { "dQ", "dK", "dV" })
            {
                Assert.Contains($"double, {path}: {tensor} |", text);
            }
        }

        Assert.Contains("rowsum(dP ∘ P) = rowsum(dO ∘ O)", text);
        Assert.Equal(causal, text.Contains("masked entries of P are 0"));
        Assert.DoesNotContain("FAILED", text);
        Assert.StartsWith("every check passed (gradient check: max relative error ", text.TrimEnd().Split('\n').Last());
    }

    [Theory]
    [InlineData(8, false)]
    [InlineData(8, true)]
    [InlineData(64, false)]
    [InlineData(64, true)]
    public void TheFusedPathAgreesWithTheUnfusedOneOnTheCpu(int headDim, bool causal)
    {
        var size = new ProblemSize(Batch: 2, Heads: 3, Sequence: 33, HeadDim: headDim);
        var random = new Random(headDim);
        float[] Draw() => Enumerable.Range(0, size.TokenElements).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] q = Draw(), k = Draw(), v = Draw(), dO = Draw();
        var unfused = causal
            ? new CpuAttention<float>(CausalKeySoftmax.Forward, CausalKeySoftmax.Backward)
            : new CpuAttention<float>(KeySoftmax.Forward, KeySoftmax.Backward);
        var forward = unfused.Forward(size, q, k, v);
        var backward = unfused.Backward(size, q, k, v, forward, dO);
        var fusedClass = FusedAttention.Find(headDim, causal);
        Assert.NotNull(fusedClass);

        var fused = FusedAttention.Run(fusedClass.Forward, fusedClass.Backward, size, q, k, v, dO);

        Assert.InRange(RelativeDifference(fused.Output, forward.Output), 0, AttentionSample.FusedBound);
        Assert.InRange(RelativeDifference(fused.LogSumExp, AttentionSample.LogSumExp(size, forward.Scores, causal)), 0, AttentionSample.FusedBound);
        Assert.InRange(RelativeDifference(fused.DQ, backward.DQ), 0, AttentionSample.FusedBound);
        Assert.InRange(RelativeDifference(fused.DK, backward.DK), 0, AttentionSample.FusedBound);
        Assert.InRange(RelativeDifference(fused.DV, backward.DV), 0, AttentionSample.FusedBound);
    }

    [Fact]
    public void TheFusedComparisonCatchesAWrongOutput()
    {
        var size = new ProblemSize(Batch: 1, Heads: 2, Sequence: 9, HeadDim: 8);
        var random = new Random(5);
        float[] Draw() => Enumerable.Range(0, size.TokenElements).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] q = Draw(), k = Draw(), v = Draw(), dO = Draw();
        var forward = new CpuAttention<float>(KeySoftmax.Forward, KeySoftmax.Backward).Forward(size, q, k, v);
        var fusedClass = FusedAttention.Find(8, causal: false)!;
        var fused = FusedAttention.Run(fusedClass.Forward, fusedClass.Backward, size, q, k, v, dO);
        // The causal class on the same inputs gives different rows everywhere but the last query of each head.
        var causalClass = FusedAttention.Find(8, causal: true)!;
        var causalFused = FusedAttention.Run(causalClass.Forward, causalClass.Backward, size, q, k, v, dO);

        Assert.InRange(RelativeDifference(fused.Output, forward.Output), 0, AttentionSample.FusedBound);
        Assert.True(RelativeDifference(causalFused.Output, forward.Output) > 100 * AttentionSample.FusedBound);
    }

    [Fact]
    public void EveryListedHeadDimensionHasAGeneratedClassAndOthersAreLeftOut()
    {
        foreach (int headDim in FusedAttention.HeadDims)
        {
            Assert.Contains($"[Attention({headDim})]", FusedAttention.Find(headDim, causal: false)!.Name);
            Assert.Contains($"[Attention({headDim}, Causal = true)]", FusedAttention.Find(headDim, causal: true)!.Name);
        }

        Assert.Null(FusedAttention.Find(11, causal: false));
        var dims = FusedAttention.HeadDims;
        Assert.Contains($"the fused path runs for {string.Join(", ", dims.Take(dims.Count - 1))} and {dims[^1]}", Program.Usage);
        var output = new StringWriter();
        int exitCode = AttentionSample.Run(new AttentionOptions { Shape = new ProblemSize(1, 1, 4, 2), Device = DeviceChoice.Cpu }, output);
        Assert.Equal(0, exitCode);
        Assert.Contains("no generated class for head dimension 2", output.ToString());
        Assert.DoesNotContain("| fused |", output.ToString());
    }

    [Fact]
    public void OneDeviceAloneRunsWithoutTheComparison()
    {
        var output = new StringWriter();
        int exitCode = AttentionSample.Run(new AttentionOptions { Shape = new ProblemSize(1, 1, 4, 8), Device = DeviceChoice.Cpu }, output);
        string text = output.ToString();
        Assert.True(exitCode == 0, text);
        Assert.DoesNotContain("ILGPU", text);
        Assert.Contains("| fused = unfused, CPU: O |", text);
    }

    [Fact]
    public void TheGradientCheckCatchesAWrongGradient()
    {
        var x = new[] { 0.3, -1.2, 2.0 };
        double Loss() => x.Sum(value => value * value);
        var right = x.Select(value => 2 * value).ToArray();
        Assert.True(GradientCheck.Compare(x, right, Loss).Error <= GradientCheck.Bound);
        var wrong = right.Select((value, index) => index == 1 ? value * 1.001 : value).ToArray();
        var (error, at) = GradientCheck.Compare(x, wrong, Loss);
        Assert.True(error > GradientCheck.Bound);
        Assert.Equal(1, at);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheDoublePrecisionGradientsOfBothPathsMatchFiniteDifferences(bool causal)
    {
        var result = GradientCheck.Run(new ProblemSize(1, 2, 6, FusedAttention.DoubleHeadDim), causal, seed: 9);
        Assert.True(result.Passed, result.ToString());
        foreach (double error in new[] { result.DQ, result.DK, result.DV, result.FusedDQ, result.FusedDK, result.FusedDV })
        {
            Assert.InRange(error, 0, GradientCheck.Bound);
        }
    }

    [Fact]
    public void TheGradientCheckNeedsTheDoubleClassHeadDimension()
    {
        Assert.Throws<ArgumentException>(() => GradientCheck.Run(new ProblemSize(1, 1, 3, FusedAttention.DoubleHeadDim + 1), causal: false, seed: 1));
    }

    [Theory]
    [InlineData("--seq", "0")]
    [InlineData("--dim", "x")]
    [InlineData("--device", "tpu")]
    [InlineData("--heads")]
    [InlineData("--bogus")]
    [InlineData("--seq", "4096", "--batch", "64", "--heads", "64")]
    public void BadOptionsGetAMessageAndExitCode2(params string[] args)
    {
        var error = Assert.Throws<ArgumentException>(() => Program.Parse(args));
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
        Assert.Equal(2, Program.Main(args));
    }

    [Fact]
    public void OptionsAreRead()
    {
        var options = Program.Parse(["--batch", "3", "--heads", "5", "--seq", "7", "--dim", "11", "--causal", "--device", "ilgpu", "--seed", "4"]);
        Assert.Equal(new ProblemSize(3, 5, 7, 11), options.Shape);
        Assert.True(options.Causal);
        Assert.Equal(DeviceChoice.Ilgpu, options.Device);
        Assert.Equal(4, options.Seed);
    }

    /// <summary>max |actual - expected| / max |expected|, as the sample reports it.</summary>
    private static double RelativeDifference(float[] actual, float[] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0, scale = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs((double)actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs((double)expected[i]));
        }

        return worst / Math.Max(scale, 1e-30);
    }
}
