using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace SoftmaxGen.Generator.Tests;

/// <summary>
/// The pipeline caches: an edit that does not touch a [Softmax] declaration leaves every step Cached or Unchanged and
/// regenerates nothing; an edit of the attribute regenerates exactly that class.
/// </summary>
public sealed class IncrementalTests
{
    private const string Layouts = """
        using SoftmaxGen;
        namespace N;
        [Softmax(2, 1)] public static partial class Rows { }
        [Softmax(4, 1, ElementType = typeof(double))] public static partial class Channels { }
        """;

    private const string Other = "namespace N; public static class Other { public static int Value => 1; }";

    [Fact]
    public void AnEditElsewhereLeavesEveryStepCached()
    {
        var compilation = GeneratorHarness.Compile(Layouts, Other);
        var first = GeneratorHarness.Run(compilation);
        Assert.Equal(2, first.Sources.Count);

        var otherTree = compilation.SyntaxTrees.Single(tree => tree.ToString() == Other);
        var edited = compilation.ReplaceSyntaxTree(otherTree, CSharpSyntaxTree.ParseText(Other.Replace("1", "2"), GeneratorHarness.ParseOptions, otherTree.FilePath))
            .AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace N; static class Added { }", GeneratorHarness.ParseOptions, "Added.cs"));
        var second = GeneratorHarness.Run(edited, first.Driver);

        AssertAll(second, SoftmaxGenerator.Steps.Parse, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);
        AssertAll(second, SoftmaxGenerator.Steps.Spec, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);
        AssertAll(second, SoftmaxGenerator.Steps.Plan, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);
        AssertAll(second, SoftmaxGenerator.Steps.Source, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);
        Assert.All(second.Result.TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(run => run.Outputs),
            output => Assert.Equal(IncrementalStepRunReason.Cached, output.Reason));
    }

    [Fact]
    public void MovingTheDeclarationReparsesButDoesNotRegenerate()
    {
        var compilation = GeneratorHarness.Compile(Layouts, Other);
        var first = GeneratorHarness.Run(compilation);
        var tree = compilation.SyntaxTrees.First();
        var moved = compilation.ReplaceSyntaxTree(tree, CSharpSyntaxTree.ParseText("// a comment moves everything down\n\n" + Layouts, GeneratorHarness.ParseOptions, tree.FilePath));
        var second = GeneratorHarness.Run(moved, first.Driver);

        AssertAll(second, SoftmaxGenerator.Steps.Spec, IncrementalStepRunReason.Unchanged, IncrementalStepRunReason.Cached);
        AssertAll(second, SoftmaxGenerator.Steps.Source, IncrementalStepRunReason.Cached, IncrementalStepRunReason.Unchanged);
    }

    [Fact]
    public void EditingOneAttributeRegeneratesThatClassOnly()
    {
        var compilation = GeneratorHarness.Compile(Layouts, Other);
        var first = GeneratorHarness.Run(compilation);
        var tree = compilation.SyntaxTrees.First();
        var edited = compilation.ReplaceSyntaxTree(tree, CSharpSyntaxTree.ParseText(Layouts.Replace("[Softmax(2, 1)]", "[Softmax(2, 0)]"), GeneratorHarness.ParseOptions, tree.FilePath));
        var second = GeneratorHarness.Run(edited, first.Driver);

        var reasons = second.Result.TrackedSteps[SoftmaxGenerator.Steps.Source].SelectMany(step => step.Outputs).Select(output => output.Reason).ToList();
        Assert.Equal(1, reasons.Count(reason => reason == IncrementalStepRunReason.Modified));
        Assert.Equal(1, reasons.Count(reason => reason is IncrementalStepRunReason.Unchanged or IncrementalStepRunReason.Cached));
        Assert.Contains("LanesInner => true", second.Sources["N.Rows.Softmax.g.cs"]);
    }

    [Fact]
    public void ModelsHoldNoSymbolsSyntaxOrCompilations()
    {
        var run = GeneratorHarness.Run(Layouts);
        string[] ours = [SoftmaxGenerator.Steps.Parse, SoftmaxGenerator.Steps.Diagnostics, SoftmaxGenerator.Steps.Spec, SoftmaxGenerator.Steps.Plan, SoftmaxGenerator.Steps.Source];
        foreach (var step in run.Result.TrackedSteps.Where(pair => ours.Contains(pair.Key)).SelectMany(pair => pair.Value))
        {
            foreach (var (value, _) in step.Outputs)
            {
                Assert.False(value is ISymbol or SyntaxNode or Compilation or Location, $"{step.Name} outputs a {value.GetType()}");
            }
        }
    }

    private static void AssertAll(GeneratorRun run, string step, params IncrementalStepRunReason[] allowed)
    {
        var outputs = run.Result.TrackedSteps[step].SelectMany(s => s.Outputs).ToList();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, output => Assert.Contains(output.Reason, allowed));
    }
}
