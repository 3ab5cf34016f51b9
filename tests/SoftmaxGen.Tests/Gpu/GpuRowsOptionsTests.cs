using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The forward row kernels with a mask, a bias or a causal mask on ILGPU's CPU accelerator: aligned rows take them
/// (the options applied to each eight elements in registers), agree with the float64 reference, and give the same bits
/// whatever A holds where an element is excluded; misaligned views of A or B keep the element kernels, and a mask or a
/// bias off their eight-at-a-time boundaries is read one entry at a time, with the same results.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class GpuRowsOptionsTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private Accelerator Accelerator => fixture.Accelerator!;

    public static TheoryData<string, int[], string> Aligned() => new()
    {
        { "MaskedKeys", [2, 3, 2, 40], "Cached" },          // the mask along the row, one 8-byte word per eight
        { "MaskedKeys", [2, 3, 2, 44], "Cached" },          // a multiple of 4, not 8: mask bytes one at a time, a tail of 4
        { "MaskedKeysDouble", [2, 2, 2, 34], "Cached" },
        { "MaskedHeads", [3, 4, 48], "Cached" },            // the mask broadcast along the row
        { "BiasedRows", [3, 5, 64], "Cached" },             // the bias along the row, eight at a time
        { "BiasedRowsHalf", [3, 5, 48], "Cached" },
        { "Causal", [2, 1, 40, 40], "Cached" },             // the key index along the row
        { "CausalDouble", [1, 2, 20, 36], "Cached" },
        { "Attention", [2, 2, 24, 40], "Cached" },
        { "Attention", [1, 2, 10, 52], "Cached" },
        { "AttentionHalf", [2, 1, 20, 48], "Cached" },
        { "AttentionDouble", [1, 2, 12, 42], "Cached" },
        { "LogAttention", [2, 1, 24, 40], "Cached" },
        { "LogAttentionHalf", [1, 2, 16, 56], "Cached" },
        { "LogMaskedKeys", [2, 2, 3, 64], "Cached" },
        { "Attention", [1, 1, 3, 13000], "Streamed" },      // past shared memory: the online row kernel
        { "AttentionHalf", [1, 1, 2, 13000], "Streamed" },
        { "LogAttentionDouble", [1, 1, 3, 6504], "Streamed" },
    };

    [Theory, MemberData(nameof(Aligned))]
    public void AlignedRowsWithOptionsTakeTheRowKernels(string name, int[] shape, string strategy)
    {
        var expected = Enum.Parse<GpuStrategy>(strategy);
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(count), count));

        long rows = EngineDiagnostics.RowLaunches;
        long launched = EngineDiagnostics.Launched(expected);
        var b = target.Forward(a, shape).Value;
        Assert.Equal(rows + 1, EngineDiagnostics.RowLaunches);
        Assert.Equal(launched + 1, EngineDiagnostics.Launched(expected));
        Checks.AssertForwardClose(target, a, b, shape, $"{name} [{string.Join(", ", shape)}]");
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
    [InlineData("Attention", new[] { 1, 1, 3, 13000 })]
    public void NaNAndInfinityWhereExcludedChangeNoBit(string name, int[] shape)
    {
        var target = Layouts.GetGpu(name, Accelerator);
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(count + 1), count));
        var z = target.Logits(a, shape);
        var poisoned = (double[])a.Clone();
        int excluded = 0;
        for (int i = 0; i < count; i++)
        {
            if (double.IsNegativeInfinity(z[i]))
            {
                poisoned[i] = excluded++ % 2 == 0 ? double.NaN : double.PositiveInfinity;
            }
        }

        Assert.True(excluded > 0, $"{name}: nothing excluded");
        long rows = EngineDiagnostics.RowLaunches;
        var clean = target.Forward(a, shape).Value;
        var dirty = target.Forward(poisoned, shape).Value;
        Assert.Equal(rows + 2, EngineDiagnostics.RowLaunches);
        Assert.True(Checks.Bits(clean).SequenceEqual(Checks.Bits(dirty)), $"{name}: NaN or +∞ where excluded changed the output");
        Assert.DoesNotContain(clean, double.IsNaN);
    }

    /// <summary>
    /// Attention (mask, bias and causal mask) on views that start <c>offset</c> elements into their buffers: A or B off
    /// a 16-byte boundary takes the element kernel; a mask or a bias off its boundary still takes the row kernel,
    /// reading those entries one at a time.
    /// </summary>
    [Theory]
    [InlineData(0, 0, 0, true)]
    [InlineData(1, 0, 0, false)]
    [InlineData(4, 0, 0, true)]
    [InlineData(0, 3, 0, true)]
    [InlineData(0, 0, 1, true)]
    [InlineData(0, 5, 2, true)]
    [InlineData(2, 5, 2, false)]
    public void MisalignedViewsOfAttention(int offset, int maskOffset, int biasOffset, bool rows)
    {
        var target = Layouts.GetGpu("Attention", Accelerator);
        int[] shape = [2, 2, 12, 48];
        int count = TestData.Count(shape);
        var a = target.Round(TestData.Logits(new Random(count + offset), count));
        var (mask, bias) = new TargetOptions([0, 3], [1, 2, 3], 2, 3).Data(shape, 4);
        Assert.NotEmpty(mask);
        Assert.NotEmpty(bias);

        using var x = Upload(a.Select(value => (float)value).ToArray(), offset);
        using var output = Upload(Enumerable.Repeat(float.NaN, count).ToArray(), offset);
        using var maskBuffer = Upload(mask.Select(entry => entry ? (byte)1 : (byte)0).ToArray(), maskOffset);
        using var biasBuffer = Upload(bias.Select(value => (float)value).ToArray(), biasOffset);
        ArrayView<float> b = output.View.SubView(offset, count);

        long before = EngineDiagnostics.RowLaunches;
        Attention.Forward(Accelerator, x.View.SubView(offset, count), maskBuffer.View.SubView(maskOffset, mask.Length), biasBuffer.View.SubView(biasOffset, bias.Length), b, shape, 1f);
        Accelerator.Synchronize();
        Assert.Equal(before + (rows ? 1 : 0), EngineDiagnostics.RowLaunches);
        var actual = b.GetAsArray<float>().Select(value => (double)value).ToArray();
        Checks.AssertForwardClose(target, a, actual, shape, $"Attention, offsets {offset}, {maskOffset}, {biasOffset}");
    }

    private MemoryBuffer1D<T, Stride1D.Dense> Upload<T>(T[] values, int offset)
        where T : unmanaged
    {
        var buffer = Accelerator.Allocate1D<T>(values.Length + offset + 1);
        buffer.View.SubView(offset, values.Length).CopyFromCPU(values);
        return buffer;
    }
}
