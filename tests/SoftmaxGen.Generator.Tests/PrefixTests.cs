using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace SoftmaxGen.Generator.Tests;

/// <summary>
/// While a user types an attribute, every intermediate text is compiled: the generator must never throw on any of
/// them (no CS8785 "generator failed", no AD0001 "analyzer threw").
/// </summary>
public sealed class PrefixTests
{
    public static IEnumerable<object[]> Lines() => new[]
    {
        "[Softmax(5, 2, 3, 4, ElementType = typeof(double))] public static partial class C { }",
        "[Softmax(3, new[] { 2, 0 }, ElementType = typeof(System.Half))] static partial class C { }",
        "[Softmax(4, [1, 3])] internal static partial class C { }",
        "[SoftmaxGen.Softmax(rank: 2, axes: 1)] static partial class C { }",
        "[Softmax(2, 1, ElementType = null)] static partial class C<T> { }",
    }.Select(line => new object[] { line });

    [Theory, MemberData(nameof(Lines))]
    public void EveryPrefixOfAnAttributeLineCompilesWithoutTheGeneratorThrowing(string line)
    {
        for (int length = 0; length <= line.Length; length++)
        {
            string source = "using SoftmaxGen;\nnamespace N;\n" + line.Substring(0, length) + "\nstatic class Other { }\n";
            var run = GeneratorHarness.Run(source);
            Assert.Null(run.Result.Exception);
            var all = run.GeneratorDiagnostics.Concat(run.Output.GetDiagnostics());
            Assert.DoesNotContain(all, diagnostic => diagnostic.Id is "CS8785" or "AD0001");
        }
    }

    [Theory, MemberData(nameof(Lines))]
    public void EveryPrefixFollowedByTheRestOfTheClassCompilesWithoutTheGeneratorThrowing(string line)
    {
        int attributeEnd = line.IndexOf(']') + 1;
        string rest = line.Substring(attributeEnd);
        for (int length = 0; length < attributeEnd; length++)
        {
            string source = "using SoftmaxGen;\nnamespace N;\n" + line.Substring(0, length) + rest + "\n";
            var run = GeneratorHarness.Run(source);
            Assert.Null(run.Result.Exception);
            Assert.DoesNotContain(run.GeneratorDiagnostics.Concat(run.Output.GetDiagnostics()), diagnostic => diagnostic.Id is "CS8785" or "AD0001");
        }
    }
}
