using System.Linq;
using Xunit;

namespace SoftmaxGen.Generator.Tests;

/// <summary>
/// The generated source of representative layouts, compared with approved files in Snapshots/. Each also compiles
/// cleanly with the user's code, so a snapshot can never approve code that does not build.
/// </summary>
public sealed class SnapshotTests
{
    [Theory]
    [InlineData("Rows", "[Softmax(2, 1)]")]
    [InlineData("Columns", "[Softmax(2, 0)]")]
    [InlineData("Channels", "[Softmax(4, 1)]")]
    [InlineData("Seed", "[Softmax(5, 2, 3, 4)]")]
    [InlineData("Scattered", "[Softmax(5, 4, 0, 2)]")]
    [InlineData("ScatteredLanes", "[Softmax(6, 1, 3)]")]
    [InlineData("Vector", "[Softmax(1, 0)]")]
    [InlineData("Rank8Odd", "[Softmax(8, 1, 3, 5, 7)]")]
    [InlineData("Rank8Even", "[Softmax(8, 0, 2, 4, 6)]")]
    [InlineData("Rank8All", "[Softmax(8, 7, 6, 5, 4, 3, 2, 1, 0)]")]
    [InlineData("Double", "[Softmax(3, 1, ElementType = typeof(double))]")]
    [InlineData("Half", "[Softmax(3, 2, ElementType = typeof(System.Half))]")]
    [InlineData("ArrayArgument", "[Softmax(3, new[] { 2, 0 })]")]
    [InlineData("LogRows", "[LogSoftmax(2, 1)]")]
    [InlineData("LogChannelsDouble", "[LogSoftmax(4, 1, ElementType = typeof(double))]")]
    [InlineData("Attention", "[Softmax(4, 3, MaskAxes = new[] { 0, 3 }, BiasAxes = new[] { 1, 2, 3 }, CausalQueryAxis = 2, CausalKeyAxis = 3)]")]
    [InlineData("MaskedChannels", "[LogSoftmax(4, 1, MaskAxes = [1, 3], ElementType = typeof(System.Half))]")]
    [InlineData("ApproximateExp", "[Softmax(2, 1, ApproximateGpuExp = true)]")]
    public void LayoutSnapshot(string name, string attribute)
    {
        var run = GeneratorHarness.Run($$"""
            using SoftmaxGen;

            namespace Samples.Layouts;

            {{attribute}}
            public static partial class {{name}} { }
            """);
        AssertClean(run);
        Snapshot.Match(name, run.Sources.Values.Single());
    }

    /// <summary>Fused attention classes: the default (float, not causal) and causal Half.</summary>
    [Theory]
    [InlineData("FusedAttention", "[Attention(64)]")]
    [InlineData("FusedAttentionCausalHalf", "[Attention(80, Causal = true, ElementType = typeof(System.Half))]")]
    public void AttentionSnapshot(string name, string attribute)
    {
        var run = GeneratorHarness.Run($$"""
            using SoftmaxGen;

            namespace Samples.Heads;

            {{attribute}}
            public static partial class {{name}} { }
            """);
        AssertClean(run);
        Snapshot.Match(name, run.Sources.Values.Single());
    }

    [Fact]
    public void NestedInPartialTypes()
    {
        var run = GeneratorHarness.Run("""
            using SoftmaxGen;

            namespace Samples.Nesting;

            public static partial class Outer
            {
                internal partial record struct Middle
                {
                    [Softmax(3, 1)]
                    private static partial class Inner { }
                }
            }
            """);
        AssertClean(run);
        Assert.Equal("Samples.Nesting.Outer+Middle+Inner.Softmax.g.cs", run.Sources.Keys.Single());
        Snapshot.Match("Nested", run.Sources.Values.Single());
    }

    [Fact]
    public void GlobalNamespace()
    {
        var run = GeneratorHarness.Run("""
            [SoftmaxGen.Softmax(2, 1)]
            static partial class InTheGlobalNamespace { }
            """);
        AssertClean(run);
        Assert.Equal("InTheGlobalNamespace.Softmax.g.cs", run.Sources.Keys.Single());
        Snapshot.Match("GlobalNamespace", run.Sources.Values.Single());
    }

    [Fact]
    public void ClassNamesThatShadowTheTypesTheGeneratedCodeUsesStillCompile()
    {
        var run = GeneratorHarness.Run("""
            using SoftmaxGen;
            namespace Shadows;
            [Softmax(2, 1, ElementType = typeof(global::System.Half))] static partial class Half { }
            [Softmax(2, 1)] static partial class CpuSoftmax { }
            [Softmax(2, 1)] static partial class Span { }
            [Softmax(2, 1)] static partial class SoftmaxArguments { }
            [Softmax(2, 1)] static partial class System { }
            [Softmax(2, 1)] static partial class SoftmaxLayout { }
            """);
        AssertClean(run);
        Assert.Equal(6, run.Sources.Count);
    }

    /// <summary>ApproximateGpuExp reaches the layout as a constant on both attributes, float and Half; false when absent or false.</summary>
    [Theory]
    [InlineData("[Softmax(2, 1, ApproximateGpuExp = true)]", true)]
    [InlineData("[LogSoftmax(3, 0, ElementType = typeof(System.Half), ApproximateGpuExp = true)]", true)]
    [InlineData("[Softmax(2, 1, ApproximateGpuExp = false)]", false)]
    [InlineData("[LogSoftmax(2, 1)]", false)]
    [InlineData("[Softmax(2, 1, ElementType = typeof(double))]", false)]
    public void ApproximateGpuExpBecomesALayoutConstant(string attribute, bool expected)
    {
        var run = GeneratorHarness.Run($"using SoftmaxGen;\n{attribute} static partial class C {{ }}");
        AssertClean(run);
        string text = run.Sources.Values.Single();
        Assert.Contains($"public bool ApproximateGpuExp => {(expected ? "true" : "false")};", text);
        Assert.Equal(expected, text.Contains("ApproximateGpuExp = true)]"));
    }

    [Fact]
    public void SnapshotsReplaceTheGeneratorVersion()
    {
        var run = GeneratorHarness.Run("[SoftmaxGen.Softmax(1, 0)] static partial class V { }");
        string text = run.Sources.Values.Single();
        string version = typeof(SoftmaxGenerator).Assembly.GetName().Version!.ToString(3);
        Assert.Contains(version, text);
        string normalized = Snapshot.Normalize(text);
        Assert.DoesNotContain(version, normalized);
        Assert.Equal(2, normalized.Split(Snapshot.VersionPlaceholder).Length - 1);
    }

    private static void AssertClean(GeneratorRun run)
    {
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Empty(run.CompilationErrors);
        // The generated code must not warn either (its docs included: the harness parses with documentation diagnostics).
        var warnings = run.Output.GetDiagnostics().Where(diagnostic =>
            diagnostic.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Warning
            && diagnostic.Location.SourceTree?.FilePath.EndsWith(".g.cs") == true);
        Assert.Empty(warnings);
    }
}
