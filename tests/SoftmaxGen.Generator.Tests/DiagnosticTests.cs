using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Xunit;

namespace SoftmaxGen.Generator.Tests;

/// <summary>
/// Every SMG diagnostic: its ID, its severity, the text it is located on (the offending argument), and that nothing
/// else follows from it: no generated file and no other error in the compilation.
/// </summary>
public sealed class DiagnosticTests
{
    [Theory]
    [InlineData("SMG0001", "[Softmax(0, 0)] public static partial class C { }", "0")]
    [InlineData("SMG0001", "[Softmax(9, 1)] public static partial class C { }", "9")]
    [InlineData("SMG0001", "[Softmax(-3, 1, 2)] public static partial class C { }", "-3")]
    [InlineData("SMG0002", "[Softmax(5, 2, 5)] public static partial class C { }", "5")]
    [InlineData("SMG0002", "[Softmax(3, -1)] public static partial class C { }", "-1")]
    [InlineData("SMG0002", "[Softmax(3, new[] { 0, 7 })] public static partial class C { }", "7")]
    [InlineData("SMG0002", "[Softmax(3, [1, 3])] public static partial class C { }", "3")]
    [InlineData("SMG0003", "[Softmax(4, 1, 2, 1)] public static partial class C { }", "1", 18)]
    [InlineData("SMG0003", "[Softmax(4, new int[] { 3, 3 })] public static partial class C { }", "3", 27)]
    [InlineData("SMG0004", "[Softmax(3)] public static partial class C { }", "Softmax")]
    [InlineData("SMG0004", "[Softmax(3, new int[0])] public static partial class C { }", "new int[0]")]
    [InlineData("SMG0005", "[Softmax(2, 1)] public partial class C { }", "C")]
    [InlineData("SMG0005", "[Softmax(2, 1)] public static class C { }", "C")]
    [InlineData("SMG0005", "public class Outer { [Softmax(2, 1)] public static partial class C { } }", "Outer")]
    [InlineData("SMG0005", "file static partial class Outer { [Softmax(2, 1)] public static partial class C { } }", "Outer", 26)]
    [InlineData("SMG0006", "[Softmax(2, 1, ElementType = typeof(int))] public static partial class C { }", "typeof(int)")]
    [InlineData("SMG0006", "[Softmax(2, 1, ElementType = typeof(decimal))] public static partial class C { }", "typeof(decimal)")]
    [InlineData("SMG0006", "[Softmax(2, 1, ElementType = null)] public static partial class C { }", "null")]
    [InlineData("SMG0007", "[Softmax(2, 1)] public static partial class C<T> { }", "<T>")]
    [InlineData("SMG0007", "public partial class Outer<T> { [Softmax(2, 1)] public static partial class C { } }", "Outer")]
    [InlineData("SMG0008", "[Softmax(4, 3, MaskAxes = new[] { 0, 4 })] public static partial class C { }", "4")]
    [InlineData("SMG0008", "[Softmax(4, 3, MaskAxes = [-1])] public static partial class C { }", "-1")]
    [InlineData("SMG0008", "[LogSoftmax(4, 3, BiasAxes = new[] { 2, 3, 2 })] public static partial class C { }", "2", 43)]
    [InlineData("SMG0009", "[Softmax(4, 3, CausalQueryAxis = 2)] public static partial class C { }", "2")]
    [InlineData("SMG0009", "[Softmax(4, 3, CausalKeyAxis = 3)] public static partial class C { }", "3")]
    [InlineData("SMG0009", "[Softmax(4, 3, CausalQueryAxis = 4, CausalKeyAxis = 3)] public static partial class C { }", "4")]
    [InlineData("SMG0009", "[Softmax(4, 3, CausalQueryAxis = 2, CausalKeyAxis = -2)] public static partial class C { }", "-2")]
    [InlineData("SMG0009", "[Softmax(4, 2, 3, CausalQueryAxis = 3, CausalKeyAxis = 3)] public static partial class C { }", "3", 55)]
    [InlineData("SMG0009", "[Softmax(4, 2, 3, CausalQueryAxis = 2, CausalKeyAxis = 3)] public static partial class C { }", "2")]
    [InlineData("SMG0009", "[Softmax(4, 3, CausalQueryAxis = 1, CausalKeyAxis = 2)] public static partial class C { }", "2")]
    [InlineData("SMG0010", "[Softmax(2, 1)][LogSoftmax(2, 1)] public static partial class C { }", "LogSoftmax(2, 1)", -1, 1)]
    [InlineData("SMG0010", "[Softmax(2, 1)][Attention(8)] public static partial class C { }", "Attention(8)", -1, 1)]
    [InlineData("SMG0010", "[Attention(8)][Softmax(2, 1)] public static partial class C { }", "Attention(8)", -1, 1)]
    [InlineData("SMG0010", "[LogSoftmax(2, 1)][Attention(8, Causal = true)] public static partial class C { }", "Attention(8, Causal = true)", -1, 1)]
    [InlineData("SMG0012", "[Softmax(2, 1, ElementType = typeof(double), ApproximateGpuExp = true)] public static partial class C { }", "true")]
    [InlineData("SMG0012", "[LogSoftmax(3, 0, ApproximateGpuExp = true, ElementType = typeof(double))] public static partial class C { }", "true")]
    [InlineData("SMG0011", "[Attention(0)] public static partial class C { }", "0")]
    [InlineData("SMG0011", "[Attention(257)] public static partial class C { }", "257")]
    [InlineData("SMG0011", "[Attention(-1)] public static partial class C { }", "-1")]
    [InlineData("SMG0011", "[Attention(1024, Causal = true, ElementType = typeof(double))] public static partial class C { }", "1024")]
    [InlineData("SMG0005", "[Attention(64)] public partial class C { }", "C")]
    [InlineData("SMG0005", "[Attention(64)] public static class C { }", "C")]
    [InlineData("SMG0005", "public class Outer { [Attention(64)] public static partial class C { } }", "Outer")]
    [InlineData("SMG0006", "[Attention(64, ElementType = typeof(int))] public static partial class C { }", "typeof(int)")]
    [InlineData("SMG0007", "[Attention(64)] public static partial class C<T> { }", "<T>")]
    [InlineData("SMG0007", "public partial class Outer<T> { [Attention(64)] public static partial class C { } }", "Outer")]
    public void ReportsOneErrorOnTheOffendingArgumentAndNothingElse(string id, string declaration, string located, int column = -1, int generated = 0)
    {
        string source = "using SoftmaxGen;\nnamespace N;\n" + declaration;
        var run = GeneratorHarness.Run(source);

        var diagnostic = Assert.Single(run.GeneratorDiagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal(located, LocatedText(run, diagnostic));
        if (column >= 0)
        {
            Assert.Equal(column, diagnostic.Location.GetLineSpan().StartLinePosition.Character);
        }

        Assert.StartsWith("https://", diagnostic.Descriptor.HelpLinkUri);
        Assert.EndsWith("#" + id.ToLowerInvariant(), diagnostic.Descriptor.HelpLinkUri);
        Assert.Equal(generated, run.Sources.Count);
        Assert.Empty(run.CompilationErrors);
    }

    [Theory]
    [InlineData("[Softmax(4, 3, MaskAxes = new[] { 0, 4 })]", "MaskAxes lists axis 4, which is outside [0, 4)")]
    [InlineData("[Softmax(4, 3, BiasAxes = new[] { 3, 3 })]", "BiasAxes lists axis 3, which is listed more than once")]
    [InlineData("[Softmax(4, 3, CausalQueryAxis = 2)]", "CausalQueryAxis is 2 but CausalKeyAxis is not set: set both, or neither")]
    [InlineData("[Softmax(4, 3, CausalQueryAxis = 2, CausalKeyAxis = 2)]", "CausalQueryAxis and CausalKeyAxis are both 2: they must be different axes")]
    [InlineData("[Softmax(4, 2, 3, CausalQueryAxis = 2, CausalKeyAxis = 3)]", "CausalQueryAxis 2 is a reduced axis: the query axis must be a batch axis (s2)")]
    [InlineData("[Softmax(4, 3, CausalQueryAxis = 1, CausalKeyAxis = 2)]", "CausalKeyAxis 2 is a batch axis: the key axis must be a reduced axis (s1)")]
    public void OptionDiagnosticsSayWhatIsWrong(string attribute, string message)
    {
        var run = GeneratorHarness.Run("using SoftmaxGen;\n" + attribute + " public static partial class C { }");
        Assert.Equal(message, Assert.Single(run.GeneratorDiagnostics).GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("[Softmax(2, 1)][LogSoftmax(2, 1)]", "'C' has both [Softmax] and [LogSoftmax]: their generated members would share names; put each on its own class")]
    [InlineData("[Softmax(2, 1)][Attention(16)]", "'C' has both [Softmax] and [Attention]: their generated members would share names; put each on its own class")]
    [InlineData("[Attention(16)][LogSoftmax(2, 1)]", "'C' has both [LogSoftmax] and [Attention]: their generated members would share names; put each on its own class")]
    [InlineData("[Attention(257)]", "The head dimension 257 is outside 1..256: [Attention] generates kernels for heads of 1 to 256 elements")]
    [InlineData("[Attention(0)]", "The head dimension 0 is outside 1..256: [Attention] generates kernels for heads of 1 to 256 elements")]
    public void AttentionDiagnosticsSayWhatIsWrong(string attributes, string message)
    {
        var run = GeneratorHarness.Run("using SoftmaxGen;\n" + attributes + " public static partial class C { }");
        Assert.Equal(message, Assert.Single(run.GeneratorDiagnostics).GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>The bounds of the head dimension themselves are accepted and generate code that compiles.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(256)]
    public void HeadDimensionsAtTheBoundsAreAccepted(int headDim)
    {
        var run = GeneratorHarness.Run($"using SoftmaxGen;\n[Attention({headDim})] public static partial class C {{ }}");
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Single(run.Sources);
        Assert.Empty(run.CompilationErrors);
    }

    [Fact]
    public void SeveralProblemsInOneAttentionDeclarationAreAllReported()
    {
        var run = GeneratorHarness.Run("""
            using SoftmaxGen;
            [Attention(300, ElementType = typeof(string))]
            public partial class C<T> { }
            """);
        Assert.Equal(new[] { "SMG0005", "SMG0006", "SMG0007", "SMG0011" }, run.GeneratorDiagnostics.Select(d => d.Id).OrderBy(id => id));
        Assert.Empty(run.Sources);
    }

    /// <summary>The source text a diagnostic points at (its location names the file by path: it keeps no syntax tree alive).</summary>
    private static string LocatedText(GeneratorRun run, Diagnostic diagnostic)
    {
        var span = diagnostic.Location.GetLineSpan();
        var tree = run.Output.SyntaxTrees.Single(tree => tree.FilePath == span.Path);
        return tree.GetText().ToString(diagnostic.Location.SourceSpan);
    }

    [Fact]
    public void SeveralProblemsInOneDeclarationAreAllReported()
    {
        var run = GeneratorHarness.Run("""
            using SoftmaxGen;
            [Softmax(3, 0, 3, 0, ElementType = typeof(string))]
            public partial class C<T> { }
            """);
        Assert.Equal(new[] { "SMG0002", "SMG0003", "SMG0005", "SMG0006", "SMG0007" }, run.GeneratorDiagnostics.Select(d => d.Id).OrderBy(id => id));
        Assert.Empty(run.Sources);
    }

    [Fact]
    public void AnInvalidRankSuppressesAxisRangeErrors()
    {
        var run = GeneratorHarness.Run("using SoftmaxGen; [Softmax(12, 10, 11)] static partial class C { }");
        Assert.Equal("SMG0001", Assert.Single(run.GeneratorDiagnostics).Id);
    }

    [Fact]
    public void AValidClassBesideAnInvalidOneIsStillGenerated()
    {
        var run = GeneratorHarness.Run("""
            using SoftmaxGen;
            [Softmax(2, 2)] static partial class Bad { }
            [Softmax(2, 1)] static partial class Good { }
            """);
        Assert.Equal("SMG0002", Assert.Single(run.GeneratorDiagnostics).Id);
        Assert.Equal("Good.Softmax.g.cs", Assert.Single(run.Sources).Key);
        Assert.Empty(run.CompilationErrors);
    }

    [Fact]
    public void EveryDescriptorIsListedInTheReleaseTrackingFile()
    {
        var descriptors = Descriptors();
        Assert.Equal(12, descriptors.Count);
        string unshipped = System.IO.File.ReadAllText(System.IO.Path.Combine(RepositoryRoot.Path, "generator", "AnalyzerReleases.Unshipped.md"));
        foreach (var descriptor in descriptors)
        {
            Assert.Contains($"{descriptor.Id} | SoftmaxGen | Error |", unshipped);
            Assert.Equal("SoftmaxGen", descriptor.Category);
            Assert.True(descriptor.IsEnabledByDefault);
        }
    }

    public static TheoryData<string> DescriptorIds() => new(Descriptors().Select(descriptor => descriptor.Id));

    /// <summary>
    /// Each help link opens the rule's section of docs/diagnostics.md, which gives the title, a wrong example and a
    /// fixed one; the examples are run through the generator, so they cannot go stale: the wrong one gives exactly
    /// that rule's error, the fixed one none and compiles.
    /// </summary>
    [Theory]
    [MemberData(nameof(DescriptorIds))]
    public void EveryRuleIsExplainedInTheDocsWithAWrongAndAFixedExample(string id)
    {
        var descriptor = Descriptors().Single(descriptor => descriptor.Id == id);
        // GitHub's anchor for the heading "## SMG000N".
        Assert.Equal("https://github.com/softmaxgen/softmaxgen/blob/main/docs/diagnostics.md#" + id.ToLowerInvariant(), descriptor.HelpLinkUri);

        Assert.True(DocsSections().TryGetValue(id, out string? section), $"docs/diagnostics.md has no section \"## {id}\".");
        Assert.Contains($"**{descriptor.Title}.**", section);
        var blocks = Regex.Matches(section, @"```csharp\r?\n(?<code>.*?)```", RegexOptions.Singleline);
        Assert.Equal(2, blocks.Count);
        Assert.Contains("Fix", section[blocks[0].Index..blocks[1].Index]);

        var wrong = GeneratorHarness.Run("using SoftmaxGen;\n" + blocks[0].Groups["code"].Value);
        Assert.Equal([id], wrong.GeneratorDiagnostics.Select(diagnostic => diagnostic.Id).Distinct());
        var fixedRun = GeneratorHarness.Run("using SoftmaxGen;\n" + blocks[1].Groups["code"].Value);
        Assert.Empty(fixedRun.GeneratorDiagnostics);
        Assert.NotEmpty(fixedRun.Sources);
        Assert.Empty(fixedRun.CompilationErrors);
    }

    [Fact]
    public void TheDocsExplainNoRuleThatDoesNotExist()
        => Assert.Equal(Descriptors().Select(descriptor => descriptor.Id).Order(), DocsSections().Keys.Order());

    private static List<DiagnosticDescriptor> Descriptors()
        => typeof(SoftmaxGenerator).Assembly.GetType("SoftmaxGen.Generator.Diagnostics.DiagnosticDescriptors")!
            .GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Static)
            .Select(field => (DiagnosticDescriptor)field.GetValue(null)!)
            .ToList();

    /// <summary>The sections of docs/diagnostics.md by heading ("SMG0001"), each up to the next heading.</summary>
    private static Dictionary<string, string> DocsSections()
        => Regex.Split(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docs", "diagnostics.md")), @"^## ", RegexOptions.Multiline)
            .Skip(1)
            .ToDictionary(section => section[..section.IndexOfAny(['\r', '\n'])].Trim());
}
