using System.IO;
using System.Linq;
using SoftmaxGen.GpuBenchmark;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>The GPU benchmark's measuring code, in a configuration small enough for the CPU accelerator.</summary>
public sealed class GpuBenchmarkTests
{
    [Fact]
    public void TheBenchmarkVerifiesEachCaseAndReportsRatiosToTheCopy()
    {
        var output = new StringWriter();
        var rows = Benchmark.Run(new BenchmarkOptions { Device = "cpu", Elements = 4096, SliceLengths = [16, 128, 2048], Repetitions = 1 }, output);

        Assert.Equal(7, rows.Count); // three row layouts, three channel counts and the scattered layout
        Assert.All(rows, row => Assert.True(row.CopyGBs > 0 && row.ForwardGBs > 0 && row.BackwardGBs > 0 && row.FourCotangentsRatio > 0, row.ToString()));
        string text = output.ToString();
        Assert.Contains("| layout | slice | copy GB/s | forward GB/s | forward / copy | backward GB/s | backward / copy | 4 cotangents / 1 | goal (forward / backward) |", text);
        Assert.Equal(7, text.Split('\n').Count(line => line.StartsWith("| rows") || line.StartsWith("| channels") || line.StartsWith("| scattered")));
        Assert.Contains("| rows [256, 16], s1 = {1} | 16 |", text);
        Assert.Matches(@"\| 0\.85 / 0\.90: (met|missed) \|", text);
        Assert.Matches(@"goals: \d of 7 cases met", text);
    }

    /// <summary>The goal of each case on a CUDA device, by layout, element type and slice length.</summary>
    [Theory]
    [InlineData("float", true, 16384, 0.85, 0.90)]
    [InlineData("half", true, 16384, 0.85, 0.90)]
    [InlineData("double", true, 8192, 0.85, 0.90)]
    [InlineData("double", true, 16384, 0.62, 0.58)]
    [InlineData("float", true, 32768, 0.80, 0.80)]
    [InlineData("float", true, 58048, 0.80, 0.80)]
    [InlineData("float", true, 131072, 0.62, 0.58)]
    [InlineData("half", true, 32768, 0.62, 0.58)]
    [InlineData("float", false, 128, 0.80, 0.80)]
    [InlineData("double", false, 1024, 0.80, 0.80)]
    public void EachCaseHasTheGoalOfItsKind(string type, bool rows, int sliceLength, double forward, double backward)
    {
        var goal = BandwidthGoal.For(type, rows, sliceLength);
        Assert.Equal((forward, backward), (goal.Forward, goal.Backward));
        Assert.True(goal.MetBy(new BenchmarkRow("case", sliceLength, 100, 100 * forward, 100 * backward, 3)));
        Assert.False(goal.MetBy(new BenchmarkRow("case", sliceLength, 100, 100 * forward - 0.1, 100 * backward, 3)));
        Assert.False(goal.MetBy(new BenchmarkRow("case", sliceLength, 100, 100 * forward, 100 * backward - 0.1, 3)));
    }

    /// <summary>
    /// The PTX report lists, for each element type, the row kernels' loops with eight elements moved per iteration (two
    /// 16-byte loads of float, one of Half, four of double), the register row kernels' slice loops, log-sum-exp's row
    /// kernels, and the element kernels beside them.
    /// </summary>
    [Fact]
    public void ThePtxReportCountsInstructionsPerElementOfEachLoop()
    {
        var output = new StringWriter();
        PtxReport.Run(output);
        var rows = output.ToString().Split('\n').Where(line => line.StartsWith("| float") || line.StartsWith("| half") || line.StartsWith("| double"))
            .Select(line => line.Split('|', System.StringSplitOptions.TrimEntries)).ToList();
        foreach (var element in new[] { "float", "half", "double" })
        {
            // The row load loop of the cached forward kernel: eight elements in, none out.
            Assert.Contains(rows, cells => cells[1] == element && cells[2] == "ForwardRowsCached" && cells[5] == "8" && cells[6] == "0");
            Assert.Contains(rows, cells => cells[1] == element && cells[2] == "ForwardSlicesCached");
            // The register row kernels' slice loops: a lane's four units of eight and two tail elements in and out
            // (backward: the cotangent loop, B loaded before it).
            Assert.Contains(rows, cells => cells[1] == element && cells[2] == "ForwardRowsWarp" && cells[5] == "34" && cells[6] == "34");
            Assert.Contains(rows, cells => cells[1] == element && cells[2] == "BackwardRowsWarp" && cells[5] == "34" && cells[6] == "34");
            Assert.Contains(rows, cells => cells[1] == element && cells[2] == "ForwardSlicesWarp" && cells[5] == "4" && cells[6] == "4");
            // Log-sum-exp: the register rows' slice loop loads a lane's share and stores one value at most; the online
            // rows' pass loads eight elements a step.
            Assert.Contains(rows, cells => cells[1] == element && cells[2] == "LogSumExpRowsWarp" && cells[5] == "34");
            Assert.Contains(rows, cells => cells[1] == element && cells[2] == "LogSumExpRowsOnline" && cells[5] == "8" && cells[6] == "0");
            Assert.Contains(rows, cells => cells[1] == element && cells[2] == "LogSumExpSlices");
            Assert.All(rows, cells => Assert.True(double.Parse(cells[7], System.Globalization.CultureInfo.InvariantCulture) > 0, string.Join('|', cells)));
        }

        // The forward kernels with the approximate exp (float and Half): the same loops, fewer instructions where an exp is taken.
        foreach (var element in new[] { "float", "half" })
        {
            int Instructions(string name, string kernel, string loaded) =>
                int.Parse(rows.First(cells => cells[1] == name && cells[2] == kernel && cells[5] == loaded)[4], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(Instructions(element + " approx exp", "ForwardRowsWarp", "34") < Instructions(element, "ForwardRowsWarp", "34"));
            Assert.DoesNotContain(rows, cells => cells[1] == element + " approx exp" && cells[2].StartsWith("Backward", System.StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("double")]
    [InlineData("half")]
    public void OtherElementTypesAreVerifiedAndMeasuredToo(string type)
    {
        var output = new StringWriter();
        var rows = Benchmark.Run(new BenchmarkOptions { Device = "cpu", Type = type, Elements = 4096, SliceLengths = [128], Repetitions = 1 }, output);

        Assert.Equal(5, rows.Count); // one row layout, three channel counts, the scattered layout
        Assert.All(rows, row => Assert.True(row.CopyGBs > 0 && row.ForwardGBs > 0 && row.BackwardGBs > 0, row.ToString()));
        Assert.Contains($"tensor: 4096 {type} elements", output.ToString());
    }

    [Fact]
    public void UnknownOptionsExitWithCode2()
    {
        Assert.Equal(2, Program.Main(["--elements"]));
        Assert.Equal(2, Program.Main(["--elements", "0"]));
        Assert.Equal(2, Program.Main(["--elements", "268435457"]));
        Assert.Equal(2, Program.Main(["--device"]));
        Assert.Equal(2, Program.Main(["--repeat", "many"]));
        Assert.Equal(2, Program.Main(["--device", "tpu"]));
        Assert.Equal(2, Program.Main(["--type", "int8"]));
        Assert.Equal(0, Program.Main(["--help"]));
    }
}
