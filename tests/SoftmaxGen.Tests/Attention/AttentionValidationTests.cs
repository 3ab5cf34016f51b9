using System;
using System.Collections.Generic;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using SoftmaxGen;
using SoftmaxGen.Tests.Gpu;
using Xunit;

namespace SoftmaxGen.Tests.Fused;

/// <summary>
/// Every bad argument of the attention overloads throws the documented exception naming the argument, before
/// anything is written: all tensors are cut from one array (or one device buffer), so that outputs can overlap
/// inputs, and every bit of it is the same after the refused call.
/// </summary>
public sealed class AttentionValidationTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private const int D = AttentionFloat16.HeadDim;
    private const int Spacing = 200;
    private static readonly AttentionShape Shape = new(1, 2, 1, 3, 4); // q 96 elements, k 64, lse 6

    /// <summary>Where each tensor lies in the shared array.</summary>
    private sealed class Cut
    {
        public AttentionShape Shape = AttentionValidationTests.Shape;
        public float Scale = 0.25f;
        public (int Start, int Length) Q = (0 * Spacing, 96), K = (1 * Spacing, 64), V = (2 * Spacing, 64), O = (3 * Spacing, 96), Lse = (4 * Spacing, 6),
            DO = (5 * Spacing, 96), DQ = (6 * Spacing, 96), DK = (7 * Spacing, 64), DV = (8 * Spacing, 64);

        public Cut With(Action<Cut> change)
        {
            change(this);
            return this;
        }
    }

    private static float[] Memory()
    {
        var random = new Random(1);
        var memory = new float[9 * Spacing + 100];
        for (int i = 0; i < memory.Length; i++)
        {
            memory[i] = i >= 3 * Spacing && i < 5 * Spacing || i >= 6 * Spacing ? float.NaN : (float)random.NextDouble();
        }

        return memory;
    }

    private static (int, int) Longer((int Start, int Length) cut) => (cut.Start, cut.Length + 1);

    private static (int, int) Shorter((int Start, int Length) cut) => (cut.Start, cut.Length - 1);

    /// <summary>An output that starts on the last element of <paramref name="input"/>.</summary>
    private static (int, int) Over((int Start, int Length) input, (int Start, int Length) output) => (input.Start + input.Length - 1, output.Length);

    public static TheoryData<string, string, string> ForwardCases() => new()
    {
        // case, exception, parameter
        { "Batch 0", "ArgumentOutOfRangeException", "shape" },
        { "Heads 0", "ArgumentOutOfRangeException", "shape" },
        { "KeyValueHeads 0", "ArgumentOutOfRangeException", "shape" },
        { "QueryLength 0", "ArgumentOutOfRangeException", "shape" },
        { "KeyLength -1", "ArgumentOutOfRangeException", "shape" },
        { "Heads 3 of KeyValueHeads 2", "ArgumentException", "shape" },
        { "scale NaN", "ArgumentOutOfRangeException", "scale" },
        { "scale +∞", "ArgumentOutOfRangeException", "scale" },
        { "scale -∞", "ArgumentOutOfRangeException", "scale" },
        { "q shorter", "ArgumentException", "q" },
        { "k longer", "ArgumentException", "k" },
        { "v shorter", "ArgumentException", "v" },
        { "o longer", "ArgumentException", "o" },
        { "lse shorter", "ArgumentException", "lse" },
        { "o over q", "ArgumentException", "o" },
        { "o over k", "ArgumentException", "o" },
        { "o over v", "ArgumentException", "o" },
        { "lse over q", "ArgumentException", "lse" },
        { "lse over v", "ArgumentException", "lse" },
        { "lse over o", "ArgumentException", "lse" },
    };

    public static TheoryData<string, string, string> BackwardCases() => new()
    {
        { "Batch 0", "ArgumentOutOfRangeException", "shape" },
        { "KeyValueHeads 0", "ArgumentOutOfRangeException", "shape" },
        { "Heads 3 of KeyValueHeads 2", "ArgumentException", "shape" },
        { "scale NaN", "ArgumentOutOfRangeException", "scale" },
        { "scale +∞", "ArgumentOutOfRangeException", "scale" },
        { "q shorter", "ArgumentException", "q" },
        { "k longer", "ArgumentException", "k" },
        { "v shorter", "ArgumentException", "v" },
        { "o longer", "ArgumentException", "o" },
        { "lse shorter", "ArgumentException", "lse" },
        { "dO longer", "ArgumentException", "dO" },
        { "dQ shorter", "ArgumentException", "dQ" },
        { "dK longer", "ArgumentException", "dK" },
        { "dV shorter", "ArgumentException", "dV" },
        { "dQ over q", "ArgumentException", "dQ" },
        { "dQ over o", "ArgumentException", "dQ" },
        { "dQ over lse", "ArgumentException", "dQ" },
        { "dQ over dO", "ArgumentException", "dQ" },
        { "dK over k", "ArgumentException", "dK" },
        { "dK over v", "ArgumentException", "dK" },
        { "dK over dQ", "ArgumentException", "dK" },
        { "dV over v", "ArgumentException", "dV" },
        { "dV over dO", "ArgumentException", "dV" },
        { "dV over dK", "ArgumentException", "dV" },
    };

    private static readonly Dictionary<string, Action<Cut>> Changes = new()
    {
        ["Batch 0"] = c => c.Shape = c.Shape with { Batch = 0 },
        ["Heads 0"] = c => c.Shape = c.Shape with { Heads = 0 },
        ["KeyValueHeads 0"] = c => c.Shape = c.Shape with { KeyValueHeads = 0 },
        ["QueryLength 0"] = c => c.Shape = c.Shape with { QueryLength = 0 },
        ["KeyLength -1"] = c => c.Shape = c.Shape with { KeyLength = -1 },
        ["Heads 3 of KeyValueHeads 2"] = c => c.Shape = c.Shape with { Heads = 3, KeyValueHeads = 2 },
        ["scale NaN"] = c => c.Scale = float.NaN,
        ["scale +∞"] = c => c.Scale = float.PositiveInfinity,
        ["scale -∞"] = c => c.Scale = float.NegativeInfinity,
        ["q shorter"] = c => c.Q = Shorter(c.Q),
        ["k longer"] = c => c.K = Longer(c.K),
        ["v shorter"] = c => c.V = Shorter(c.V),
        ["o longer"] = c => c.O = Longer(c.O),
        ["lse shorter"] = c => c.Lse = Shorter(c.Lse),
        ["dO longer"] = c => c.DO = Longer(c.DO),
        ["dQ shorter"] = c => c.DQ = Shorter(c.DQ),
        ["dK longer"] = c => c.DK = Longer(c.DK),
        ["dV shorter"] = c => c.DV = Shorter(c.DV),
        ["o over q"] = c => c.O = Over(c.Q, c.O),
        ["o over k"] = c => c.O = Over(c.K, c.O),
        ["o over v"] = c => c.O = Over(c.V, c.O),
        ["lse over q"] = c => c.Lse = Over(c.Q, c.Lse),
        ["lse over v"] = c => c.Lse = Over(c.V, c.Lse),
        ["lse over o"] = c => c.Lse = Over(c.O, c.Lse),
        ["dQ over q"] = c => c.DQ = Over(c.Q, c.DQ),
        ["dQ over o"] = c => c.DQ = Over(c.O, c.DQ),
        ["dQ over lse"] = c => c.DQ = Over(c.Lse, c.DQ),
        ["dQ over dO"] = c => c.DQ = Over(c.DO, c.DQ),
        ["dK over k"] = c => c.DK = Over(c.K, c.DK),
        ["dK over v"] = c => c.DK = Over(c.V, c.DK),
        ["dK over dQ"] = c => c.DK = Over(c.DQ, c.DK),
        ["dV over v"] = c => c.DV = Over(c.V, c.DV),
        ["dV over dO"] = c => c.DV = Over(c.DO, c.DV),
        ["dV over dK"] = c => c.DV = Over(c.DK, c.DV),
    };

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void SpanForwardRefusesBeforeWriting(string name, string exception, string parameter)
    {
        var memory = Memory();
        var before = (float[])memory.Clone();
        var c = new Cut().With(Changes[name]);
        Span<float> all = memory;

        var thrown = Record.Exception(() => AttentionFloat16.Forward(
            Slice(memory, c.Q), Slice(memory, c.K), Slice(memory, c.V), Slice(memory, c.O), Slice(memory, c.Lse), c.Shape, c.Scale));

        AssertRefused(thrown, exception, parameter);
        AssertUntouched(before, memory);
    }

    [Theory]
    [MemberData(nameof(BackwardCases))]
    public void SpanBackwardRefusesBeforeWriting(string name, string exception, string parameter)
    {
        var memory = Memory();
        var before = (float[])memory.Clone();
        var c = new Cut().With(Changes[name]);

        var thrown = Record.Exception(() => AttentionFloat16.Backward(
            Slice(memory, c.Q), Slice(memory, c.K), Slice(memory, c.V), Slice(memory, c.O), Slice(memory, c.Lse), Slice(memory, c.DO),
            Slice(memory, c.DQ), Slice(memory, c.DK), Slice(memory, c.DV), c.Shape, c.Scale));

        AssertRefused(thrown, exception, parameter);
        AssertUntouched(before, memory);
    }

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void ViewForwardRefusesBeforeAnythingRuns(string name, string exception, string parameter)
    {
        var accelerator = fixture.Accelerator!;
        var memory = Memory();
        using var buffer = accelerator.Allocate1D(memory);
        var c = new Cut().With(Changes[name]);
        var view = buffer.View;

        var thrown = Record.Exception(() => AttentionFloat16.Forward(
            accelerator, Sub(view, c.Q), Sub(view, c.K), Sub(view, c.V), Sub(view, c.O), Sub(view, c.Lse), c.Shape, c.Scale));
        accelerator.Synchronize();

        AssertRefused(thrown, exception, parameter);
        AssertUntouched(memory, buffer.GetAsArray1D());
    }

    [Theory]
    [MemberData(nameof(BackwardCases))]
    public void ViewBackwardRefusesBeforeAnythingRuns(string name, string exception, string parameter)
    {
        var accelerator = fixture.Accelerator!;
        var memory = Memory();
        using var buffer = accelerator.Allocate1D(memory);
        using var stream = accelerator.CreateStream();
        var c = new Cut().With(Changes[name]);
        var view = buffer.View;

        var thrown = Record.Exception(() => AttentionFloat16.Backward(
            stream, Sub(view, c.Q), Sub(view, c.K), Sub(view, c.V), Sub(view, c.O), Sub(view, c.Lse), Sub(view, c.DO),
            Sub(view, c.DQ), Sub(view, c.DK), Sub(view, c.DV), c.Shape, c.Scale));
        stream.Synchronize();

        AssertRefused(thrown, exception, parameter);
        AssertUntouched(memory, buffer.GetAsArray1D());
    }

    /// <summary>The sound cut is accepted (so each refusal above is that case's doing) and writes every output.</summary>
    [Fact]
    public void TheSoundCutIsAcceptedOnSpansAndViews()
    {
        var memory = Memory();
        var c = new Cut();
        AttentionFloat16.Forward(Slice(memory, c.Q), Slice(memory, c.K), Slice(memory, c.V), Slice(memory, c.O), Slice(memory, c.Lse), c.Shape, c.Scale);
        AttentionFloat16.Backward(
            Slice(memory, c.Q), Slice(memory, c.K), Slice(memory, c.V), Slice(memory, c.O), Slice(memory, c.Lse), Slice(memory, c.DO),
            Slice(memory, c.DQ), Slice(memory, c.DK), Slice(memory, c.DV), c.Shape, c.Scale);
        foreach (var cut in new[] { c.O, c.Lse, c.DQ, c.DK, c.DV })
        {
            Assert.All(memory.AsSpan(cut.Start, cut.Length).ToArray(), value => Assert.True(float.IsFinite(value)));
        }

        var accelerator = fixture.Accelerator!;
        using var buffer = accelerator.Allocate1D(Memory());
        var view = buffer.View;
        AttentionFloat16.Forward(accelerator, Sub(view, c.Q), Sub(view, c.K), Sub(view, c.V), Sub(view, c.O), Sub(view, c.Lse), c.Shape, c.Scale);
        AttentionFloat16.Backward(
            accelerator, Sub(view, c.Q), Sub(view, c.K), Sub(view, c.V), Sub(view, c.O), Sub(view, c.Lse), Sub(view, c.DO),
            Sub(view, c.DQ), Sub(view, c.DK), Sub(view, c.DV), c.Shape, c.Scale);
        accelerator.Synchronize();
        var result = buffer.GetAsArray1D();
        foreach (var cut in new[] { c.O, c.Lse, c.DQ, c.DK, c.DV })
        {
            Assert.All(result.AsSpan(cut.Start, cut.Length).ToArray(), value => Assert.True(float.IsFinite(value)));
        }
    }

    [Fact]
    public void ViewsOnAnotherAcceleratorAndNullAcceleratorsAreRefused()
    {
        var accelerator = fixture.Accelerator!;
        using var context = Context.Create(builder => builder.CPU());
        using var other = context.CreateCPUAccelerator(0);
        var memory = Memory();
        using var here = accelerator.Allocate1D(memory);
        using var there = other.Allocate1D(memory);
        var c = new Cut();
        var h = here.View;

        var forward = Assert.Throws<ArgumentException>(() => AttentionFloat16.Forward(
            accelerator, Sub(h, c.Q), Sub(there.View, c.K), Sub(h, c.V), Sub(h, c.O), Sub(h, c.Lse), c.Shape, c.Scale));
        Assert.Equal("k", forward.ParamName);
        Assert.Contains("lives on", forward.Message);
        var backward = Assert.Throws<ArgumentException>(() => AttentionFloat16.Backward(
            accelerator, Sub(h, c.Q), Sub(h, c.K), Sub(h, c.V), Sub(h, c.O), Sub(h, c.Lse), Sub(h, c.DO),
            Sub(h, c.DQ), Sub(h, c.DK), Sub(there.View, c.DV), c.Shape, c.Scale));
        Assert.Equal("dV", backward.ParamName);
        Assert.Equal("accelerator", Assert.Throws<ArgumentNullException>(() => AttentionFloat16.Forward(
            (Accelerator)null!, Sub(h, c.Q), Sub(h, c.K), Sub(h, c.V), Sub(h, c.O), Sub(h, c.Lse), c.Shape, c.Scale)).ParamName);
        Assert.Equal("stream", Assert.Throws<ArgumentNullException>(() => AttentionFloat16.Backward(
            (AcceleratorStream)null!, Sub(h, c.Q), Sub(h, c.K), Sub(h, c.V), Sub(h, c.O), Sub(h, c.Lse), Sub(h, c.DO),
            Sub(h, c.DQ), Sub(h, c.DK), Sub(h, c.DV), c.Shape, c.Scale)).ParamName);
        accelerator.Synchronize();
        AssertUntouched(memory, here.GetAsArray1D());
    }

    private static Span<float> Slice(float[] memory, (int Start, int Length) cut) => memory.AsSpan(cut.Start, cut.Length);

    private static ArrayView<float> Sub(ArrayView<float> view, (int Start, int Length) cut) => view.SubView(cut.Start, cut.Length);

    private static void AssertRefused(Exception? thrown, string exception, string parameter)
    {
        Assert.NotNull(thrown);
        Assert.Equal(exception, thrown.GetType().Name);
        Assert.Equal(parameter, ((ArgumentException)thrown).ParamName);
    }

    private static void AssertUntouched(float[] before, float[] after)
    {
        Assert.Equal(before.Length, after.Length);
        for (int i = 0; i < before.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(before[i]) == BitConverter.SingleToInt32Bits(after[i]), $"element {i} was written: {before[i]} became {after[i]}");
        }
    }
}
