using System;
using System.Linq;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The forward and log-sum-exp row kernels with a mask, a bias or a causal mask on ILGPU's CPU accelerator: aligned rows
/// take them (the options applied to each eight elements in registers), short rows the register row kernels, longer
/// ones those with shared memory or the online pass; they agree with the float64 reference and with the element
/// kernels, give the same bits whatever A holds where an element is excluded, and rows with nothing included give 0
/// (softmax), −∞ (log-softmax) and a log-sum-exp of −∞; misaligned views of A or B keep the element kernels, and a mask
/// or a bias off their eight-at-a-time boundaries is read one entry at a time, with the same results.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class GpuRowsOptionsTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private Accelerator Accelerator => fixture.Accelerator!;

    /// <summary>
    /// On the CPU accelerator, rows of up to 132 elements take the register row kernels on a warp of four, rows of up
    /// to 516 on two or four warps of a group.
    /// </summary>
    public static TheoryData<string, int[], string> Aligned() => new()
    {
        { "MaskedKeys", [2, 3, 2, 40], "WarpRows" },        // the mask along the row, one 8-byte word per eight
        { "MaskedKeys", [2, 3, 2, 44], "WarpRows" },        // a multiple of 4, not 8: mask bytes one at a time, a tail of 4
        { "MaskedKeysDouble", [2, 2, 2, 34], "WarpRows" },
        { "MaskedHeads", [3, 4, 48], "WarpRows" },          // the mask broadcast along the row
        { "BiasedRows", [3, 5, 64], "WarpRows" },           // the bias along the row, eight at a time
        { "BiasedRowsHalf", [3, 5, 48], "WarpRows" },
        { "Causal", [2, 1, 40, 40], "WarpRows" },           // the key index along the row
        { "CausalDouble", [1, 2, 20, 36], "WarpRows" },
        { "Attention", [2, 2, 24, 40], "WarpRows" },
        { "Attention", [1, 2, 10, 132], "WarpRows" },       // 16 units and a tail of 4: the most a warp of four holds
        { "AttentionHalf", [2, 1, 20, 48], "WarpRows" },
        { "AttentionDouble", [1, 2, 12, 42], "WarpRows" },
        { "LogAttention", [2, 1, 24, 40], "WarpRows" },
        { "LogAttentionHalf", [1, 2, 16, 56], "WarpRows" },
        { "LogMaskedKeys", [2, 2, 3, 64], "WarpRows" },
        { "MaskedKeys", [1, 2, 2, 200], "WarpRows" },       // past a warp of four's registers: several warps a row
        { "BiasedRows", [2, 3, 136], "WarpRows" },
        { "Causal", [1, 1, 12, 148], "WarpRows" },
        { "Attention", [1, 2, 10, 196], "WarpRows" },
        { "AttentionHalf", [1, 1, 12, 208], "WarpRows" },
        { "AttentionDouble", [1, 1, 8, 202], "WarpRows" },
        { "LogAttention", [1, 1, 12, 164], "WarpRows" },
        { "Attention", [1, 1, 9, 516], "WarpRows" },        // 64 units and a tail of 4: the most four warps hold
        { "LogMaskedKeys", [1, 2, 3, 512], "WarpRows" },
        { "MaskedKeys", [1, 2, 2, 600], "Cached" },         // past four warps' registers: shared memory
        { "BiasedRows", [2, 3, 520], "Cached" },
        { "Causal", [1, 1, 6, 548], "Cached" },
        { "AttentionHalf", [1, 1, 6, 528], "Cached" },
        { "AttentionDouble", [1, 1, 4, 522], "Cached" },
        { "LogAttention", [1, 1, 6, 564], "Cached" },
        { "Attention", [1, 1, 3, 13000], "Streamed" },      // past shared memory: the online row kernel
        { "AttentionHalf", [1, 1, 2, 13000], "Cached" },   // past floats in shared memory: A kept as stored
        { "LogAttentionHalf", [1, 1, 2, 24448], "Cached" },
        { "BiasedRowsHalf", [1, 2, 12232], "Cached" },
        { "AttentionHalf", [1, 1, 2, 24456], "Streamed" }, // past halves too
        { "LogAttentionDouble", [1, 1, 3, 6504], "Streamed" },
    };

    /// <summary>
    /// The forward takes the expected row kernel, and log-sum-exp a row kernel too: the register one where the forward
    /// takes it, otherwise the online pass, a group a row.
    /// </summary>
    [Theory, MemberData(nameof(Aligned))]
    public void AlignedRowsWithOptionsTakeTheRowKernels(string name, int[] shape, string strategy)
    {
        var expected = Enum.Parse<GpuStrategy>(strategy);
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(count), count));
        string what = $"{name} [{string.Join(", ", shape)}]";

        long rows = EngineDiagnostics.RowLaunches;
        long launched = EngineDiagnostics.Launched(expected);
        var b = target.Forward(a, shape).Value;
        Assert.Equal(rows + 1, EngineDiagnostics.RowLaunches);
        Assert.Equal(launched + 1, EngineDiagnostics.Launched(expected));
        Checks.AssertForwardClose(target, a, b, shape, what);

        long registers = EngineDiagnostics.Launched(GpuStrategy.WarpRows);
        var lse = target.LogSumExp(a, shape).Value;
        Assert.Equal(rows + 2, EngineDiagnostics.RowLaunches);
        Assert.Equal(registers + (expected == GpuStrategy.WarpRows ? 1 : 0), EngineDiagnostics.Launched(GpuStrategy.WarpRows));
        Checks.AssertLogSumExpClose(target, a, shape, lse, $"{what} logsumexp");
    }

    [Theory]
    [InlineData("MaskedKeys", new[] { 2, 3, 2, 40 })]
    [InlineData("MaskedHeads", new[] { 3, 4, 48 })]
    [InlineData("Causal", new[] { 2, 1, 40, 40 })]
    [InlineData("CausalDouble", new[] { 1, 2, 20, 36 })]
    [InlineData("Attention", new[] { 2, 2, 24, 40 })]
    [InlineData("AttentionHalf", new[] { 2, 1, 20, 48 })]
    [InlineData("AttentionDouble", new[] { 1, 2, 12, 42 })]
    [InlineData("LogAttention", new[] { 2, 1, 24, 44 })]
    [InlineData("LogAttentionHalf", new[] { 1, 2, 16, 128 })]
    [InlineData("Attention", new[] { 1, 2, 8, 200 })]
    [InlineData("Attention", new[] { 1, 1, 9, 516 })]
    [InlineData("LogAttentionDouble", new[] { 1, 1, 8, 202 })]
    [InlineData("LogAttentionHalf", new[] { 1, 1, 6, 528 })]
    [InlineData("Attention", new[] { 1, 1, 3, 13000 })]
    [InlineData("AttentionHalf", new[] { 1, 1, 2, 13000 })]
    [InlineData("LogAttentionHalf", new[] { 1, 1, 2, 20000 })]
    public void NaNAndInfinityWhereExcludedChangeNoBit(string name, int[] shape)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(count + 1), count));
        var poisoned = Checks.PoisonExcluded(a, target.Logits(a, shape), out int excluded);

        Assert.True(excluded > 0, $"{name}: nothing excluded");
        long rows = EngineDiagnostics.RowLaunches;
        var clean = target.Forward(a, shape).Value;
        var dirty = target.Forward(poisoned, shape).Value;
        var cleanLse = target.LogSumExp(a, shape).Value;
        var dirtyLse = target.LogSumExp(poisoned, shape).Value;
        Assert.Equal(rows + 4, EngineDiagnostics.RowLaunches);
        Assert.True(Checks.Bits(clean).SequenceEqual(Checks.Bits(dirty)), $"{name}: NaN or +∞ where excluded changed the output");
        Assert.True(Checks.Bits(cleanLse).SequenceEqual(Checks.Bits(dirtyLse)), $"{name}: NaN or +∞ where excluded changed the log-sum-exp");
        Assert.DoesNotContain(clean, double.IsNaN);
        Assert.DoesNotContain(cleanLse, double.IsNaN);
    }

    /// <summary>
    /// More queries than keys under the causal mask: the first Q − K queries see no key. Their rows give exactly 0
    /// (softmax) or −∞ (log-softmax) and a log-sum-exp of −∞, as the element kernels give them, in registers and with
    /// shared memory alike.
    /// </summary>
    [Theory]
    [InlineData("Causal", new[] { 1, 2, 20, 8 }, "WarpRows")]
    [InlineData("Attention", new[] { 1, 1, 20, 8 }, "WarpRows")]
    [InlineData("AttentionHalf", new[] { 1, 1, 20, 16 }, "WarpRows")]
    [InlineData("AttentionDouble", new[] { 1, 1, 20, 10 }, "WarpRows")]
    [InlineData("LogAttention", new[] { 1, 1, 20, 12 }, "WarpRows")]
    [InlineData("LogAttentionHalf", new[] { 1, 1, 20, 8 }, "WarpRows")]
    [InlineData("LogAttentionDouble", new[] { 1, 1, 20, 6 }, "WarpRows")]
    [InlineData("Attention", new[] { 1, 1, 150, 140 }, "WarpRows")]
    [InlineData("LogAttentionHalf", new[] { 1, 1, 150, 144 }, "WarpRows")]
    [InlineData("AttentionDouble", new[] { 1, 1, 140, 130 }, "WarpRows")]
    [InlineData("Attention", new[] { 1, 1, 530, 524 }, "Cached")]
    [InlineData("LogAttentionHalf", new[] { 1, 1, 532, 528 }, "Cached")]
    public void RowsWithNothingIncludedGiveZeroOrMinusInfinity(string name, int[] shape, string strategy)
    {
        var expected = Enum.Parse<GpuStrategy>(strategy);
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        int length = shape[^1];
        var a = target.Round(TestData.Logits(new Random(count + 2), count));
        var z = target.Logits(a, shape);

        long launched = EngineDiagnostics.Launched(expected);
        var b = target.Forward(a, shape).Value;
        Assert.Equal(launched + 1, EngineDiagnostics.Launched(expected));
        var lse = target.LogSumExp(a, shape).Value;
        double none = target.Operation == SoftmaxOperation.LogSoftmax ? double.NegativeInfinity : 0;
        int empty = 0;
        for (int row = 0; row < count / length; row++)
        {
            if (Enumerable.Range(row * length, length).All(i => double.IsNegativeInfinity(z[i])))
            {
                empty++;
                Assert.True(Enumerable.Range(row * length, length).All(i => BitConverter.DoubleToInt64Bits(b[i]) == BitConverter.DoubleToInt64Bits(none)), $"{name}: row {row} gives {b[row * length]}, not {none}");
                Assert.Equal(double.NegativeInfinity, lse[row]);
            }
        }

        Assert.True(empty >= (shape[^2] - length) * (count / length / shape[^2]), $"{name}: {empty} rows with nothing included");
        Checks.AssertForwardClose(target, a, b, shape, name);
        Checks.AssertLogSumExpClose(target, a, shape, lse, $"{name} logsumexp");
    }

    /// <summary>
    /// The six attention classes (softmax and log-softmax; float, Half and double) in registers (a warp a row, or two
    /// and four warps: 152, 164, 514), and with shared memory (528, 600), against the element kernels that a view one element off its 16-byte boundary takes, on the same data:
    /// both within the reference's bounds, and the same bits wherever an element is excluded.
    /// </summary>
    [Theory]
    [InlineData("Attention", 100)]
    [InlineData("AttentionHalf", 64)]
    [InlineData("AttentionDouble", 34)]
    [InlineData("LogAttention", 36)]
    [InlineData("LogAttentionHalf", 120)]
    [InlineData("LogAttentionDouble", 130)]
    [InlineData("Attention", 164)]
    [InlineData("LogAttentionHalf", 152)]
    [InlineData("AttentionDouble", 514)]
    [InlineData("Attention", 600)]
    [InlineData("LogAttentionHalf", 528)]
    public void TheRowKernelsWithOptionsAgreeWithTheElementKernels(string name, int length)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [2, 1, 12, length];
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(count + 3), count));
        var z = target.Logits(a, shape);

        long rows = EngineDiagnostics.RowLaunches;
        var b = RunAttention(name, logSumExp: false, 0, 0, 0, shape, a);
        var lse = RunAttention(name, logSumExp: true, 0, 0, 0, shape, a);
        Assert.Equal(rows + 2, EngineDiagnostics.RowLaunches);
        var elementB = RunAttention(name, logSumExp: false, 1, 0, 0, shape, a);
        var elementLse = RunAttention(name, logSumExp: true, 1, 0, 0, shape, a);
        Assert.Equal(rows + 2, EngineDiagnostics.RowLaunches);

        Checks.AssertForwardClose(target, a, b, shape, $"{name} rows");
        Checks.AssertForwardClose(target, a, elementB, shape, $"{name} elements");
        Checks.AssertLogSumExpClose(target, a, shape, lse, $"{name} rows logsumexp");
        Checks.AssertLogSumExpClose(target, a, shape, elementLse, $"{name} elements logsumexp");
        var excluded = Enumerable.Range(0, count).Where(i => double.IsNegativeInfinity(z[i])).ToArray();
        Assert.NotEmpty(excluded);
        Assert.True(excluded.All(i => BitConverter.DoubleToInt64Bits(b[i]) == BitConverter.DoubleToInt64Bits(elementB[i])), $"{name}: excluded elements differ");
    }

    /// <summary>
    /// Attention (mask, bias and causal mask) on views that start <c>offset</c> elements into their buffers, rows in
    /// registers (48 on a warp, 200 on four warps) and in shared memory (600): A or B off a 16-byte boundary takes the element kernel; a mask or a
    /// bias off its boundary still takes the row kernel, reading those entries one at a time. Log-sum-exp needs A alone
    /// aligned.
    /// </summary>
    [Theory]
    [InlineData(48, 0, 0, 0, true)]
    [InlineData(48, 1, 0, 0, false)]
    [InlineData(48, 4, 0, 0, true)]
    [InlineData(48, 0, 3, 0, true)]
    [InlineData(48, 0, 0, 1, true)]
    [InlineData(48, 0, 5, 2, true)]
    [InlineData(48, 2, 5, 2, false)]
    [InlineData(200, 0, 0, 0, true)]
    [InlineData(200, 1, 0, 0, false)]
    [InlineData(200, 0, 5, 2, true)]
    [InlineData(600, 0, 0, 0, true)]
    [InlineData(600, 1, 0, 0, false)]
    [InlineData(600, 0, 5, 2, true)]
    public void MisalignedViewsOfAttention(int length, int offset, int maskOffset, int biasOffset, bool rows)
    {
        var target = Layouts.GetGpu("Attention", Accelerator);
        int[] shape = [2, 2, 12, length];
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(count + offset), count));

        long before = EngineDiagnostics.RowLaunches;
        var b = RunAttention("Attention", logSumExp: false, offset, maskOffset, biasOffset, shape, a);
        Assert.Equal(before + (rows ? 1 : 0), EngineDiagnostics.RowLaunches);
        Checks.AssertForwardClose(target, a, b, shape, $"Attention, offsets {offset}, {maskOffset}, {biasOffset}");

        before = EngineDiagnostics.RowLaunches;
        var lse = RunAttention("Attention", logSumExp: true, offset, maskOffset, biasOffset, shape, a);
        Assert.Equal(before + (rows ? 1 : 0), EngineDiagnostics.RowLaunches);
        Checks.AssertLogSumExpClose(target, a, shape, lse, $"Attention logsumexp, offsets {offset}, {maskOffset}, {biasOffset}");
    }

    /// <summary>
    /// Half rows with every option too long for floats in shared memory keep A as stored and recompute each logit
    /// from it, the options applied to the values read back: against the element kernel, which streams them from A
    /// (A's view one element off its boundary), within one unit in the last place of Half, the same exclusions
    /// exactly, and both within the reference's bounds; the mask and the bias off their eight-at-a-time boundaries
    /// for the row kernel too.
    /// </summary>
    [Theory]
    [InlineData("AttentionHalf", 13000, 0, 0)]
    [InlineData("AttentionHalf", 24448, 5, 2)]
    [InlineData("LogAttentionHalf", 12232, 0, 0)]
    [InlineData("LogAttentionHalf", 20000, 3, 1)]
    public void HalfRowsKeepingAAsStoredAgreeWithTheStreamedElementKernel(string name, int length, int maskOffset, int biasOffset)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int[] shape = [1, 1, 3, length];
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(length), count));

        long rows = EngineDiagnostics.RowLaunches;
        long cached = EngineDiagnostics.Launched(GpuStrategy.Cached);
        long streamed = EngineDiagnostics.Launched(GpuStrategy.Streamed);
        var kept = RunAttention(name, logSumExp: false, 0, maskOffset, biasOffset, shape, a);
        var stream = RunAttention(name, logSumExp: false, 1, maskOffset, biasOffset, shape, a);
        Assert.Equal((rows + 1, cached + 1, streamed + 1), (EngineDiagnostics.RowLaunches, EngineDiagnostics.Launched(GpuStrategy.Cached), EngineDiagnostics.Launched(GpuStrategy.Streamed)));
        Checks.AssertForwardClose(target, a, kept, shape, $"{name} {length} kept as stored");
        Checks.AssertForwardClose(target, a, stream, shape, $"{name} {length} streamed");
        for (int i = 0; i < count; i++)
        {
            int keptBits = BitConverter.HalfToInt16Bits((System.Half)kept[i]);
            int streamBits = BitConverter.HalfToInt16Bits((System.Half)stream[i]);
            Assert.True(Math.Abs(keptBits - streamBits) <= 1 || (double.IsInfinity(kept[i]) && kept[i] == stream[i]), $"{name} {length} [{i}]: {kept[i]} against {stream[i]}");
        }
    }

    /// <summary>Runs an attention class's forward or log-sum-exp on views that start the given numbers of elements into their buffers.</summary>
    private double[] RunAttention(string name, bool logSumExp, int offset, int maskOffset, int biasOffset, int[] shape, double[] a) => name switch
    {
        "Attention" => RunAttention<float>(Attention.Forward, Attention.LogSumExp, logSumExp, offset, maskOffset, biasOffset, shape, a),
        "AttentionHalf" => RunAttention<System.Half>(AttentionHalf.Forward, AttentionHalf.LogSumExp, logSumExp, offset, maskOffset, biasOffset, shape, a),
        "AttentionDouble" => RunAttention<double>(AttentionDouble.Forward, AttentionDouble.LogSumExp, logSumExp, offset, maskOffset, biasOffset, shape, a),
        "LogAttention" => RunAttention<float>(LogAttention.Forward, LogAttention.LogSumExp, logSumExp, offset, maskOffset, biasOffset, shape, a),
        "LogAttentionHalf" => RunAttention<System.Half>(LogAttentionHalf.Forward, LogAttentionHalf.LogSumExp, logSumExp, offset, maskOffset, biasOffset, shape, a),
        "LogAttentionDouble" => RunAttention<double>(LogAttentionDouble.Forward, LogAttentionDouble.LogSumExp, logSumExp, offset, maskOffset, biasOffset, shape, a),
        _ => throw new ArgumentException(name, nameof(name)),
    };

    private double[] RunAttention<T>(GpuFamilyForward<T> forward, GpuFamilyLogSumExp<T> logSumExp, bool lse, int offset, int maskOffset, int biasOffset, int[] shape, double[] a)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (mask, bias) = new TargetOptions([0, 3], [1, 2, 3], 2, 3).Data(shape, 4);
        Assert.NotEmpty(mask);
        Assert.NotEmpty(bias);
        int outputs = lse ? a.Length / shape[^1] : a.Length;
        using var x = Upload(Elements<T>.From(a), offset);
        using var output = Upload(Elements<T>.Poisoned(outputs), offset);
        using var maskBuffer = Upload(mask.Select(entry => entry ? (byte)1 : (byte)0).ToArray(), maskOffset);
        using var biasBuffer = Upload(Elements<T>.From(bias), biasOffset);
        ArrayView<T> result = output.View.SubView(offset, outputs);
        var maskView = maskBuffer.View.SubView(maskOffset, mask.Length);
        var biasView = biasBuffer.View.SubView(biasOffset, bias.Length);
        if (lse)
        {
            logSumExp(Accelerator, x.View.SubView(offset, a.Length), maskView, biasView, result, shape, 1f);
        }
        else
        {
            forward(Accelerator, x.View.SubView(offset, a.Length), maskView, biasView, result, shape, 1f);
        }

        Accelerator.Synchronize();
        return result.GetAsArray<T>().Select(double.CreateTruncating).ToArray();
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] values, int offset)
        where T : unmanaged
    {
        var buffer = Accelerator.Allocate1D<T>(values.Length + offset + 1);
        buffer.View.SubView(offset, values.Length).CopyFromCPU(values);
        return buffer;
    }
}
