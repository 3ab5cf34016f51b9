using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using SoftmaxGen.Tests;
using Xunit;

namespace SoftmaxGen.Generator.Tests;

/// <summary>
/// Layouts drawn at random (rank, axis set, axis order, element type, [Softmax] or [LogSoftmax], scale, a mask and a
/// bias over random axes, a causal pair; fixed seeds), generated and compiled in memory, then put through the numerical
/// suite against the float64 reference.
/// </summary>
public sealed class RandomLayoutTests
{
    private const int LayoutCount = 48;

    private sealed record Drawn(string Name, int Rank, int[] Axes, string Element, string Attribute, double Scale, TargetOptions Options);

    private static readonly Lazy<List<Drawn>> Layouts = new(Draw);

    private static readonly Lazy<Assembly> Compiled = new(Compile);

    private static readonly Lazy<Dictionary<string, ITarget>> Targets = new(() =>
        Layouts.Value.ToDictionary(layout => layout.Name, layout => MakeTarget(Compiled.Value, layout, accelerator: null)));

    /// <summary>ILGPU's CPU accelerator, for the GPU launchers of the same layouts.</summary>
    private static readonly Lazy<Accelerator> CpuAccelerator = new(() => Context.Create(builder => builder.CPU()).CreateCPUAccelerator(0));

    public static IEnumerable<object[]> Names() => Enumerable.Range(0, LayoutCount).Select(index => new object[] { $"L{index:D2}" });

    [Fact]
    public void TheDrawCoversEveryRankBothStrategiesAndEveryElementType()
    {
        var layouts = Layouts.Value;
        Assert.Equal(Enumerable.Range(1, 8), layouts.Select(layout => layout.Rank).Distinct().OrderBy(rank => rank));
        Assert.Contains(layouts, layout => layout.Axes.Contains(layout.Rank - 1));
        Assert.Contains(layouts, layout => !layout.Axes.Contains(layout.Rank - 1));
        Assert.Contains(layouts, layout => !layout.Axes.SequenceEqual(layout.Axes.OrderBy(axis => axis)));
        Assert.Equal(new[] { "double", "float", "System.Half" }, layouts.Select(layout => layout.Element).Distinct().OrderBy(name => name));
        foreach (string attribute in new[] { "Softmax", "LogSoftmax" })
        {
            Assert.Equal(3, layouts.Where(layout => layout.Attribute == attribute).Select(layout => layout.Element).Distinct().Count());
        }

        Assert.Contains(layouts, layout => layout.Scale != 1);
        Assert.Contains(layouts, layout => layout.Options.HasMask && layout.Options.HasBias && layout.Options.HasCausal);
        Assert.Contains(layouts, layout => layout.Options.HasCausal && !layout.Options.HasMask);
        Assert.Contains(layouts, layout => !layout.Options.Any);
    }

    [Theory, MemberData(nameof(Names))]
    public void ForwardMatchesReference(string name) => Checks.ForwardMatchesReference(Targets.Value[name], seed: 101, maxElements: 3000);

    [Theory, MemberData(nameof(Names))]
    public void BackwardMatchesReference(string name) => Checks.BackwardMatchesReference(Targets.Value[name], seed: 102, cotangents: 2, maxElements: 3000);

    [Theory, MemberData(nameof(Names))]
    public void BackwardMatchesJacobianTranspose(string name) => Checks.BackwardMatchesJacobianTranspose(Targets.Value[name], seed: 103);

    [Theory, MemberData(nameof(Names))]
    public void SlicesSumToOneAndPullbacksToZero(string name) => Checks.SlicesSumToOneAndPullbacksToZero(Targets.Value[name], seed: 104);

    [Theory, MemberData(nameof(Names))]
    public void MaskedSlicesGiveZeros(string name) => Checks.MaskedSlices(Targets.Value[name], seed: 105);

    [Theory, MemberData(nameof(Names))]
    public void NaNStaysInItsSlice(string name) => Checks.NaNStaysInItsSlice(Targets.Value[name], seed: 106, double.NaN);

    [Theory, MemberData(nameof(Names))]
    public void ShiftingASliceLeavesItUnchanged(string name) => Checks.ShiftInvariant(Targets.Value[name], seed: 107);

    [Theory, MemberData(nameof(Names))]
    public void BadArgumentsAreRefused(string name) => Checks.BadArgumentsAreRefused(Targets.Value[name]);

    [Theory, MemberData(nameof(Names))]
    public void LogSumExpMatchesReference(string name) => Checks.LogSumExpMatchesReference(Targets.Value[name], seed: 109, maxElements: 3000);

    /// <summary>The ILGPU launchers (on the CPU accelerator) and the CPU path agree: forward, backward and log-sum-exp.</summary>
    [Theory, MemberData(nameof(Names))]
    public void GpuLaunchersAgreeWithTheCpuPath(string name)
    {
        var cpu = Targets.Value[name];
        var gpu = MakeTarget(Compiled.Value, Layouts.Value.Single(layout => layout.Name == name), CpuAccelerator.Value);
        var random = new Random(name.GetHashCode(StringComparison.Ordinal) & 0xFFFF);
        foreach (var shape in TestData.Shapes(cpu.Rank, seed: 108, maxElements: 1200))
        {
            int count = TestData.Count(shape);
            var a = cpu.Round(TestData.Logits(random, count));
            var dB = cpu.Round(TestData.Logits(random, 2 * count, 1));
            var b = cpu.Forward(a, shape).Value;
            double tolerance = 2 * Checks.Tolerance(cpu, Checks.SliceLength(cpu, shape));
            var z = cpu.Logits(a, shape);
            var forwardMagnitude = Reference.ForwardMagnitude(z, shape, cpu.Axes, cpu.Operation);
            Checks.AssertClose(b, gpu.Forward(a, shape).Value, forwardMagnitude, tolerance, 8 * cpu.Tiny, $"{gpu.Name} forward against the CPU path");
            var lse = cpu.LogSumExp(a, shape).Value;
            var lseMagnitude = lse.Select(value => Math.Abs(value) + 1).ToArray();
            Checks.AssertClose(lse, gpu.LogSumExp(a, shape).Value, lseMagnitude, tolerance, 8 * cpu.Tiny, $"{gpu.Name} log-sum-exp against the CPU path");
            var rounded = cpu.Round(b);
            var magnitude = Reference.BackwardMagnitude(rounded, dB, shape, cpu.Axes, cpu.Operation, cpu.Scale);
            var expected = cpu.Backward(rounded, dB, shape).Value;
            var actual = gpu.Backward(rounded, dB, shape).Value;
            for (int i = 0; i < expected.Length; i++)
            {
                Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * magnitude[i] + 8 * cpu.Tiny,
                    $"{gpu.Name} backward against the CPU path: dA[{i}] = {actual[i]:R}, CPU {expected[i]:R}");
            }
        }
    }

    private static List<Drawn> Draw()
    {
        var random = new Random(2026);
        var optionRandom = new Random(77); // its own generator: drawing options does not change the layouts drawn
        string[] elements = ["float", "double", "System.Half"];
        var layouts = new List<Drawn>();
        for (int index = 0; index < LayoutCount; index++)
        {
            int rank = index < 8 ? index + 1 : random.Next(1, 9);
            int[] axes;
            do
            {
                axes = Enumerable.Range(0, rank).Where(_ => random.Next(2) == 0).OrderBy(_ => random.Next()).ToArray();
            }
            while (axes.Length == 0);

            // Attributes alternate every three layouts, so that each meets every element type; every fourth has a scale.
            layouts.Add(new Drawn(
                $"L{index:D2}", rank, axes, elements[index % 3], index / 3 % 2 == 0 ? "Softmax" : "LogSoftmax", index % 4 == 3 ? 0.5 : 1,
                DrawOptions(optionRandom, index, rank, axes)));
        }

        return layouts;
    }

    /// <summary>
    /// Options for every other layout: alternately a mask and a bias over random non-empty axis sets (with a causal pair
    /// where there are batch and reduced axes, half the time), and a causal pair alone.
    /// </summary>
    private static TargetOptions DrawOptions(Random random, int index, int rank, int[] axes)
    {
        var batch = Enumerable.Range(0, rank).Except(axes).ToArray();
        bool causal = batch.Length > 0 && random.Next(2) == 0;
        int query = causal ? batch[random.Next(batch.Length)] : -1;
        int key = causal ? axes[random.Next(axes.Length)] : -1;
        int[] Subset()
        {
            int[] subset;
            do
            {
                subset = Enumerable.Range(0, rank).Where(_ => random.Next(2) == 0).ToArray();
            }
            while (subset.Length == 0);
            return subset;
        }

        return (index % 4) switch
        {
            1 => new TargetOptions(Subset(), Subset(), query, key),
            3 when batch.Length > 0 => new TargetOptions([], [], batch[random.Next(batch.Length)], axes[random.Next(axes.Length)]),
            _ => TargetOptions.None,
        };
    }

    private static string AttributeOf(Drawn layout)
    {
        var options = layout.Options;
        string text = $"{layout.Attribute}({layout.Rank}, {string.Join(", ", layout.Axes)}";
        if (options.HasMask)
        {
            text += $", MaskAxes = new[] {{ {string.Join(", ", options.MaskAxes)} }}";
        }

        if (options.HasBias)
        {
            text += $", BiasAxes = new[] {{ {string.Join(", ", options.BiasAxes)} }}";
        }

        if (options.HasCausal)
        {
            text += $", CausalQueryAxis = {options.CausalQuery}, CausalKeyAxis = {options.CausalKey}";
        }

        return text + ")";
    }

    private static Assembly Compile()
    {
        var source = "using SoftmaxGen;\nnamespace Drawn;\n" + string.Join("\n", Layouts.Value.Select(layout =>
            $"[{AttributeOf(layout)[..^1]}, ElementType = typeof({layout.Element}))] public static partial class {layout.Name} {{ }}"));
        var run = GeneratorHarness.Run(source);
        Assert.Empty(run.GeneratorDiagnostics);
        Assert.Equal(LayoutCount, run.Sources.Count);
        return GeneratorHarness.Load(run);
    }

    private static ITarget MakeTarget(Assembly assembly, Drawn layout, Accelerator? accelerator) => layout.Element switch
    {
        "float" => MakeTarget<float>(assembly, layout, accelerator),
        "double" => MakeTarget<double>(assembly, layout, accelerator),
        _ => MakeTarget<System.Half>(assembly, layout, accelerator),
    };

    /// <summary>The class's span methods as a target, or its ILGPU launchers on <paramref name="accelerator"/> when one is given.</summary>
    private static ITarget MakeTarget<T>(Assembly assembly, Drawn layout, Accelerator? accelerator)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var type = assembly.GetType("Drawn." + layout.Name)!;
        TDelegate Method<TDelegate>(string name) where TDelegate : Delegate =>
            (TDelegate)Delegate.CreateDelegate(typeof(TDelegate), type, name); // the overload whose signature matches the delegate
        // A class with a mask and a bias has the members' full signatures; one without has neither parameter (the draw
        // gives both or neither).
        Assert.Equal(layout.Options.HasMask, layout.Options.HasBias);
        bool options = layout.Options.HasMask;
        var members = options
            ? new Members<T>(Method<FamilyForward<T>>("Forward"), Method<BackwardMethod<T>>("Backward"), Method<JacobianMethod<T>>("Jacobian"), Method<FamilyLogSumExp<T>>("LogSumExp"))
            : Members<T>.Plain(Method<ForwardMethod<T>>("Forward"), Method<BackwardMethod<T>>("Backward"), Method<JacobianMethod<T>>("Jacobian"), Method<LogSumExpMethod<T>>("LogSumExp"));
        var cpu = new Target<T>($"{layout.Name} [{AttributeOf(layout)}] {layout.Element}", layout.Rank, layout.Axes,
            Enum.Parse<SoftmaxGen.Runtime.SoftmaxOperation>(layout.Attribute), members, layout.Scale, layout.Options);
        if (accelerator is null)
        {
            return cpu;
        }

        var gpu = options
            ? new GpuMembers<T>(Method<GpuFamilyForward<T>>("Forward"), Method<GpuBackwardMethod<T>>("Backward"), Method<GpuJacobianMethod<T>>("Jacobian"), Method<GpuFamilyLogSumExp<T>>("LogSumExp"))
            : GpuMembers<T>.Plain(Method<GpuForwardMethod<T>>("Forward"), Method<GpuBackwardMethod<T>>("Backward"), Method<GpuJacobianMethod<T>>("Jacobian"), Method<GpuLogSumExpMethod<T>>("LogSumExp"));
        return new GpuTarget<T>(accelerator, cpu, gpu);
    }
}
