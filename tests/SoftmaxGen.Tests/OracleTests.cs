using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;
using Xunit.Sdk;

namespace SoftmaxGen.Tests;

/// <summary>
/// Against an implementation that is not ours: PyTorch autograd in float64 (Oracle/README.md). Forward outputs,
/// pullbacks of several cotangents, dense Jacobians and log-sum-exps of softmax and log-softmax, at scale 1 and other
/// scales, are compared with the generated code of the same layout and operation.
/// </summary>
/// <remarks><see cref="OracleTestsOnVectorT"/> runs them again with the <c>Vector&lt;T&gt;</c> kernels.</remarks>
public class OracleTests
{
    /// <summary>Whether the CPU kernels take <c>Vector&lt;T&gt;</c> even where Vector512 is accelerated.</summary>
    protected virtual bool VectorOnly => false;

    private sealed record Case(string Name, int[] Shape, int[] Axes, int Cotangents, bool Jacobian, string? Special, string Operation, double Scale)
    {
        public SoftmaxGen.Runtime.SoftmaxOperation Kind =>
            Operation == "log_softmax" ? SoftmaxGen.Runtime.SoftmaxOperation.LogSoftmax : SoftmaxGen.Runtime.SoftmaxOperation.Softmax;
    }

    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Oracle");

    private static readonly Lazy<List<Case>> Cases = new(() =>
        JsonSerializer.Deserialize<List<Case>>(
            File.ReadAllText(Path.Combine(Folder, "cases.json")),
            new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!);

    public static IEnumerable<object[]> CasesAndTypes() =>
        from c in Cases.Value
        from element in new[] { "Single", "Double", "Half" }
        where !(element == "Half" && c.Special == "large") // logits of ±2000 are not Half values (their spacing is 1)
        select new object[] { c.Name, element };

    [Fact]
    public void EveryOracleFileIsThere()
    {
        Assert.Equal(16, Cases.Value.Count);
        Assert.Equal(7, Cases.Value.Count(c => c.Kind == SoftmaxGen.Runtime.SoftmaxOperation.LogSoftmax));
        foreach (var c in Cases.Value)
        {
            int count = TestData.Count(c.Shape);
            Assert.Equal(count, Read(c.Name, "a").Length);
            Assert.Equal(Reference.SliceCount(c.Shape, c.Axes), Read(c.Name, "lse").Length);
            Assert.Equal(count * c.Cotangents, Read(c.Name, "db").Length);
            if (c.Jacobian)
            {
                Assert.Equal(count * count, Read(c.Name, "jac").Length);
            }
        }
    }

    [Theory, MemberData(nameof(CasesAndTypes))]
    public void ForwardMatchesPyTorch(string name, string element) => KernelWidths.Run(VectorOnly, () =>
    {
        var (c, target) = Find(name, element);
        var a = Read(name, "a");
        var expected = Read(name, "b");
        var actual = target.Forward(a, c.Shape).Value;
        // Rounding A to the element type moves B by about ε |z| (relative for softmax, absolute for log-softmax); allow
        // for it on top of the computation's own error.
        double inputRounding = InputRounding(target, a);
        var magnitude = Reference.ForwardMagnitude(target.Logits(target.Round(a), c.Shape), c.Shape, c.Axes, c.Kind);
        var bound = magnitude.Select((value, i) => value + (c.Kind == SoftmaxGen.Runtime.SoftmaxOperation.Softmax ? Math.Abs(expected[i]) : 1) * inputRounding / Checks.Tolerance(target, Checks.SliceLength(target, c.Shape))).ToArray();
        Checks.AssertClose(expected, actual, bound, Checks.Tolerance(target, Checks.SliceLength(target, c.Shape)), 4 * target.Tiny, $"{name} forward ({element})");
    });

    [Theory, MemberData(nameof(CasesAndTypes))]
    public void LogSumExpMatchesPyTorch(string name, string element) => KernelWidths.Run(VectorOnly, () =>
    {
        var (c, target) = Find(name, element);
        var a = Read(name, "a");
        var expected = Read(name, "lse");
        var actual = target.LogSumExp(a, c.Shape).Value;
        double tolerance = Checks.Tolerance(target, Checks.SliceLength(target, c.Shape));
        var magnitude = expected.Select(value => Math.Abs(value) + 1 + InputRounding(target, a) / tolerance).ToArray();
        Checks.AssertClose(expected, actual, magnitude, tolerance, 4 * target.Tiny, $"{name} log-sum-exp ({element})");
    });

    [Theory, MemberData(nameof(CasesAndTypes))]
    public void BackwardMatchesPyTorchForEveryCotangent(string name, string element) => KernelWidths.Run(VectorOnly, () =>
    {
        var (c, target) = Find(name, element);
        var b = Read(name, "b");
        var dB = Read(name, "db");
        var expected = Read(name, "da");
        var actual = target.Backward(b, dB, c.Shape).Value;
        var magnitude = Reference.BackwardMagnitude(b, dB, c.Shape, c.Axes, c.Kind, c.Scale);
        double tolerance = 4 * Checks.Tolerance(target, Checks.SliceLength(target, c.Shape));
        for (int i = 0; i < expected.Length; i++)
        {
            double bound = tolerance * magnitude[i] + 4 * target.Tiny;
            if (!(Math.Abs(expected[i] - actual[i]) <= bound))
            {
                throw new XunitException($"{name} backward ({element}): dA[{i}] = {actual[i]:R}, PyTorch {expected[i]:R}");
            }
        }
    });

    [Theory, MemberData(nameof(CasesAndTypes))]
    public void JacobianMatchesPyTorch(string name, string element) => KernelWidths.Run(VectorOnly, () =>
    {
        var (c, target) = Find(name, element);
        if (!c.Jacobian)
        {
            return; // the oracle holds Jacobians for the small cases only; EveryOracleFileIsThere checks which
        }

        var b = Read(name, "b");
        var expected = Read(name, "jac");
        var actual = target.Jacobian(b, c.Shape).Value;
        int count = b.Length;
        for (int p = 0; p < count; p++)
        {
            for (int q = 0; q < count; q++)
            {
                double terms = c.Kind == SoftmaxGen.Runtime.SoftmaxOperation.Softmax ? Math.Abs(b[p]) + Math.Abs(b[p] * b[q]) : 1 + Math.Exp(b[q]);
                double bound = 4 * target.Epsilon * Math.Abs(c.Scale) * terms + 4 * target.Tiny;
                if (!(Math.Abs(expected[p * count + q] - actual[p * count + q]) <= bound))
                {
                    throw new XunitException($"{name} Jacobian ({element}): [{p}, {q}] = {actual[p * count + q]:R}, PyTorch {expected[p * count + q]:R}");
                }
            }
        }
    });

    private static (Case Case, ITarget Target) Find(string name, string element)
    {
        var c = Cases.Value.Single(candidate => candidate.Name == name);
        var target = Layouts.All.First(candidate =>
            candidate.ElementName == element
            && candidate.Operation == c.Kind
            && candidate.Scale == 1
            && candidate.Rank == c.Shape.Length
            && candidate.Axes.OrderBy(axis => axis).SequenceEqual(c.Axes.OrderBy(axis => axis)));
        return (c, target.WithScale(c.Scale));
    }

    /// <summary>How far rounding A to the element type moves z = scale · A: about ε |z|, at most.</summary>
    private static double InputRounding(ITarget target, double[] a)
        => 2 * target.Epsilon * Math.Abs(target.Scale) * a.Where(double.IsFinite).Select(Math.Abs).DefaultIfEmpty(0).Max();

    private static double[] Read(string name, string part)
    {
        var bytes = File.ReadAllBytes(Path.Combine(Folder, $"{name}.{part}.bin"));
        var values = new double[bytes.Length / sizeof(double)];
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BitConverter.ToDouble(bytes, i * sizeof(double)); // the files are little-endian, as is every .NET target here
        }

        return values;
    }
}

/// <summary>The PyTorch comparisons with the <c>Vector&lt;T&gt;</c> kernels, which AVX2 and ARM machines run.</summary>
public sealed class OracleTestsOnVectorT : OracleTests
{
    protected override bool VectorOnly => true;
}
