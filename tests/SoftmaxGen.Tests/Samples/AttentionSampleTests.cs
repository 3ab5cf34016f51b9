using System;
using System.IO;
using System.Linq;
using SoftmaxGen.Samples.Attention;
using Xunit;

namespace SoftmaxGen.Tests.Samples;

// The sample's shape (batch, heads, sequence, head dimension), not the runtime's SoftmaxGen.AttentionShape.
using AttentionShape = SoftmaxGen.Samples.Attention.AttentionShape;

/// <summary>The attention sample's core, with sizes small enough for CI, on both devices.</summary>
public sealed class AttentionSampleTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TheSampleComparesBothDevicesAndEveryCheckPasses(bool causal)
    {
        var output = new StringWriter();
        var options = new AttentionOptions { Shape = new AttentionShape(Batch: 2, Heads: 2, Sequence: 12, HeadDim: 8), Causal = causal };

        int exitCode = AttentionSample.Run(options, output);

        string text = output.ToString();
        Assert.True(exitCode == 0, text);
        Assert.Contains("| forward: S, P, O | CPU |", text);
        foreach (var tensor in new[] { "P", "O", "dQ", "dK", "dV" })
        {
            Assert.Contains($"| ILGPU = CPU: {tensor} |", text);
        }

        Assert.Contains("rowsum(dP ∘ P) = rowsum(dO ∘ O)", text);
        Assert.Equal(causal, text.Contains("masked entries of P are 0"));
        Assert.DoesNotContain("FAILED", text);
        Assert.StartsWith("gradient check: passed (max relative error ", text.TrimEnd().Split('\n').Last());
    }

    [Fact]
    public void OneDeviceAloneRunsWithoutTheComparison()
    {
        var output = new StringWriter();
        int exitCode = AttentionSample.Run(new AttentionOptions { Shape = new AttentionShape(1, 1, 4, 2), Device = DeviceChoice.Cpu }, output);
        Assert.Equal(0, exitCode);
        Assert.DoesNotContain("ILGPU", output.ToString());
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

    [Fact]
    public void TheDoublePrecisionGradientsMatchFiniteDifferences()
    {
        var result = GradientCheck.Run(new AttentionShape(1, 2, 6, 4), causal: true, seed: 9);
        Assert.True(result.Passed, result.ToString());
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
        Assert.Equal(new AttentionShape(3, 5, 7, 11), options.Shape);
        Assert.True(options.Causal);
        Assert.Equal(DeviceChoice.Ilgpu, options.Device);
        Assert.Equal(4, options.Seed);
    }
}
