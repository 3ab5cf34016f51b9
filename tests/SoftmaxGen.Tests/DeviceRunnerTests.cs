using System.IO;
using Xunit;

namespace SoftmaxGen.Tests;

[CollectionDefinition(nameof(DeviceRunnerCollection), DisableParallelization = true)]
public sealed class DeviceRunnerCollection
{
}

/// <summary>A class fixture whose cleanup fails while <see cref="DeviceRunnerProbe.Armed"/> is set.</summary>
public sealed class DeviceRunnerProbeFixture : System.IDisposable
{
    public void Dispose()
    {
        if (DeviceRunnerProbe.Armed)
        {
            throw new System.InvalidOperationException("armed by DeviceRunnerTests: this cleanup failure must be counted");
        }
    }
}

/// <summary>
/// Tests that <see cref="DeviceRunnerTests"/> runs through the runner. Left alone they pass; armed, one fails, one
/// skips and the class fixture's cleanup fails, so that the runner's counting of each is checked. One collection, run
/// alone: nothing else runs while they are armed.
/// </summary>
[Collection(nameof(DeviceRunnerCollection))]
public sealed class DeviceRunnerProbe : IClassFixture<DeviceRunnerProbeFixture>
{
    internal static volatile bool Armed;

    [Fact]
    public void PassesUnlessArmed() => Assert.False(Armed, "armed by DeviceRunnerTests: this failure must be counted");

    [SkippableFact]
    public void SkipsWhenArmed() => Skip.If(Armed, "armed by DeviceRunnerTests: this skip must be counted");
}

/// <summary>The entry point the GPU machine runs the tests through (it has no SDK): it must count what it runs.</summary>
[Collection(nameof(DeviceRunnerCollection))]
public sealed class DeviceRunnerTests
{
    [Fact]
    public void PassingTestsGiveExitCode0()
    {
        var output = new StringWriter();
        Assert.Equal(0, DeviceRunner.Run(["--class", nameof(DeviceRunnerProbe)], output));
        Assert.Contains("2 passed, 0 failed, 0 skipped", output.ToString());
    }

    [Fact]
    public void AFailureGivesExitCode1AndIsReportedWithItsMessage()
    {
        var output = new StringWriter();
        DeviceRunnerProbe.Armed = true;
        try
        {
            Assert.Equal(1, DeviceRunner.Run(["--class", nameof(DeviceRunnerProbe)], output));
        }
        finally
        {
            DeviceRunnerProbe.Armed = false;
        }

        string text = output.ToString();
        Assert.Contains("0 passed, 2 failed, 1 skipped", text); // the failed test and the failed cleanup
        Assert.Contains("this cleanup failure must be counted", text);
        Assert.Contains($"FAIL {typeof(DeviceRunnerProbe).FullName}.{nameof(DeviceRunnerProbe.PassesUnlessArmed)}", text);
        Assert.Contains("this failure must be counted", text);
        Assert.Contains($"SKIP {typeof(DeviceRunnerProbe).FullName}.{nameof(DeviceRunnerProbe.SkipsWhenArmed)}: armed by DeviceRunnerTests", text);
    }

    [Fact]
    public void ListingNamesEachTheoryRowAndRunsNothing()
    {
        var output = new StringWriter();
        Assert.Equal(0, DeviceRunner.Run(["--class", "Gpu.CudaStrategies", "--list"], output));
        string[] lines = output.ToString().Split('\n', System.StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length > 10, output.ToString());
        Assert.All(lines, line => Assert.StartsWith("SoftmaxGen.Tests.Gpu.CudaStrategies.", line));
        Assert.DoesNotContain("passed", output.ToString());
    }

    [Theory]
    [InlineData(2, "--class", "NoSuchTestClass")]
    [InlineData(2, "--class")]
    [InlineData(2, "--class", "--list")]
    [InlineData(2, "--frobnicate")]
    [InlineData(0, "--help")]
    public void ExitCodesForOptions(int expected, params string[] args)
    {
        var output = new StringWriter();
        Assert.Equal(expected, DeviceRunner.Run(args, output));
        Assert.Contains(expected == 0 ? "usage:" : "error:", output.ToString());
    }
}
