using System;
using System.Collections.Generic;
using System.Linq;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The paths the small tensors of the numerical suite do not reach: tensors past
/// <see cref="KernelWidths.StreamedFrom"/> (outputs written with non-temporal stores), slices and tiles too long
/// for the per-thread scratch (exp computed again from A), tiles of many rows, and all of them split over threads,
/// with and without options.
/// </summary>
/// <remarks><see cref="LargeTensorTestsOnVectorT"/> runs them again with the <c>Vector&lt;T&gt;</c> kernels.</remarks>
[Collection(nameof(ThreadCountCollection))]
public class LargeTensorTests
{
    /// <summary>Whether the CPU kernels take <c>Vector&lt;T&gt;</c> even where Vector512 is accelerated.</summary>
    protected virtual bool VectorOnly => false;

    public static IEnumerable<object[]> Cases =>
    [
        ["Rows", new[] { 2049, 1031 }],
        ["RowsDouble", new[] { 1025, 1031 }],
        ["Channels", new[] { 2, 67, 127, 131 }],
        ["Channels", new[] { 2, 67, 128, 128 }],
        ["Scattered", new[] { 5, 61, 100, 73 }],
        ["ScatteredDouble", new[] { 5, 61, 100, 37 }],
        ["Scattered", new[] { 5, 61, 100, 32 }],
        ["ScatteredDouble", new[] { 5, 61, 100, 16 }],
        ["Scattered", new[] { 40, 11, 10, 32 }],
        ["Scattered", new[] { 40, 11, 150, 32 }],
        ["ScatteredDouble", new[] { 40, 11, 150, 16 }],
        ["Rows", new[] { 3, 70001 }],
        ["Rows", new[] { 60, 40001 }],
        ["Rows", new[] { 70001, 33 }],
        ["Rows", new[] { 300007, 7 }],
        ["Vector", new[] { 100003 }],
        ["Columns", new[] { 40000, 5 }],
        ["ColumnsDouble", new[] { 6000, 7 }],
        // Streamed tiles whose last strip is narrower than a vector (a held run end must not be
        // joined into it), in float, double and block mode; rows of awkward lengths around a vector and the scratch.
        ["Channels", new[] { 24, 500, 1, 196 }],
        ["ChannelsDouble", new[] { 24, 500, 1, 98 }],
        ["Scattered", new[] { 100, 29, 709, 4 }],
        ["Channels", new[] { 24, 500, 1, 197 }],
        ["Rows", new[] { 130001, 17 }],
        ["Rows", new[] { 140001, 16 }],
        ["RowsDouble", new[] { 110001, 9 }],
        ["Rows", new[] { 9, 65521 }],
        // A forward tile wider than a backward one (8000 lanes × 30 rows, streamed), in strips.
        ["Channels", new[] { 9, 30, 1, 8000 }],
        // Backward tiles whose runs lie back to back and are over a KiB long: the dot pass requests two runs ahead.
        ["Channels", new[] { 5, 70, 1, 301 }],
        ["ChannelsDouble", new[] { 5, 70, 1, 150 }],
        // Rows whose element count is a whole number of vectors: rows ending mid-line (with vectors after the last
        // group of four and a partial one), rows of four lines, rows of 2.5 vectors, rows of many sum blocks. These
        // arrays lie where the heap puts them, so the rows backward's joined path (BackwardRowsBody, which needs B,
        // dB and dA alike in their lines) runs only now and then here; RowsBackwardGetsTheSameBitsAtAnyOffsetInALine
        // places them.
        ["Rows", new[] { 2048, 1031 }],
        ["Rows", new[] { 16384, 64 }],
        ["Rows", new[] { 65536, 40 }],
        ["Rows", new[] { 32, 70000 }],
        ["RowsDouble", new[] { 1024, 1031 }],
        ["RowsDouble", new[] { 64, 33001 }],
        // Rows longer than the scratch (exp computed again from A); Half rows, cached and streamed (exp kept in the scratch).
        ["Rows", new[] { 20, 140001 }],
        ["RowsHalf", new[] { 300, 1031 }],
        ["RowsHalf", new[] { 4100, 1031 }],
        // Slices of several runs too long for block mode: cached, streamed, and longer than the scratch.
        ["Scattered", new[] { 4, 10, 10, 300 }],
        ["Scattered", new[] { 20, 30, 20, 200 }],
        ["Scattered", new[] { 100, 4, 5, 1400 }],
        // Lanes and block tiles too tall for the tile budget (A read again from memory).
        ["Channels", new[] { 1, 9000, 1, 300 }],
        ["Scattered", new[] { 3000, 3, 10, 32 }],
        ["ChannelsHalf", new[] { 4, 67, 127, 131 }],
        ["ScatteredHalf", new[] { 40, 11, 150, 32 }],
        // Log-softmax, through each strategy, cached and streamed (the engine's choices do not depend on the operation).
        ["LogRows", new[] { 2049, 1031 }],
        ["LogRows", new[] { 60, 1031 }],
        ["LogRowsDouble", new[] { 64, 3301 }],
        ["LogRowsHalf", new[] { 300, 1031 }],
        ["LogChannels", new[] { 2, 67, 127, 131 }],
        ["LogColumns", new[] { 40000, 5 }],
        ["LogScattered", new[] { 40, 11, 150, 32 }],
        ["LogScattered", new[] { 5, 61, 100, 32 }],
        ["LogScattered", new[] { 4, 10, 10, 300 }],
        ["LogScattered", new[] { 20, 30, 20, 200 }],
        // Options (mask, bias, causal) through each strategy: rows kept in the output, in the scratch (Half, and
        // streamed), and computed again from A (streamed rows longer than the scratch); more queries than keys (rows
        // with nothing included); slices of several runs; lanes.
        ["Attention", new[] { 2, 8, 200, 300 }],
        ["Attention", new[] { 4, 8, 256, 300 }],
        ["Attention", new[] { 2, 4, 300, 200 }],
        ["AttentionHalf", new[] { 2, 4, 100, 1031 }],
        ["Causal", new[] { 1, 2, 20, 140001 }],
        ["CausalOuter", new[] { 3, 40, 50, 64 }],
        ["CausalLanes", new[] { 4, 300, 301 }],
        ["AttentionLanes", new[] { 2, 3, 150, 140 }],
        ["MaskedChannels", new[] { 2, 67, 127, 131 }],
        ["LogAttention", new[] { 2, 8, 200, 300 }],
        ["LogCausalLanes", new[] { 4, 300, 301 }],
    ];

    /// <summary>
    /// Every strategy of the CPU engine, streamed and not, with each place a forward keeps its values, is reached by a
    /// softmax case of this suite at this vector width (the decision the kernels take, from <see cref="CpuLaunch.Choose"/>),
    /// and every strategy, streamed and not, by a log-softmax case.
    /// </summary>
    [Fact]
    public void TheCasesReachEveryPath() => KernelWidths.Run(VectorOnly, () =>
    {
        var reached = new SortedSet<string>();
        foreach (var row in Cases)
        {
            string name = (string)row[0];
            int[] shape = (int[])row[1];
            var layout = LayoutOf(name, shape);
            bool log = name.StartsWith("Log", StringComparison.Ordinal);
            int size = name.EndsWith("Double", StringComparison.Ordinal) ? 8 : name.EndsWith("Half", StringComparison.Ordinal) ? 2 : 4;
            int compute = Math.Max(size, 4);
            int vector = (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && !VectorOnly ? 64 : System.Numerics.Vector<byte>.Count) / compute;
            long count = TestData.Count(shape);
            var forward = CpuLaunch.Choose(layout, count * size, size, compute, vector, canStream: true, keeps: true, backward: false);
            var backward = CpuLaunch.Choose(layout, 2 * count * size, size, compute, vector, canStream: true, keeps: false, backward: true);
            string operation = log ? "log " : "";
            reached.Add($"{operation}forward {forward.Strategy} {(forward.Stream ? "streamed" : "cached")}{(log ? "" : $" {forward.Keep}")}");
            reached.Add($"{operation}backward {backward.Strategy} {(backward.Stream ? "streamed" : "cached")}");
            if (Layouts.Get(name).Options.Any)
            {
                reached.Add($"options forward {forward.Strategy} {(forward.Stream ? "streamed" : "cached")} {forward.Keep}");
            }
        }

        string[] expected =
        [
            "forward Rows streamed Scratch", "forward Rows streamed None", "forward Rows cached Output", "forward Rows cached Scratch",
            "forward Slices streamed Scratch", "forward Slices cached Scratch", "forward Slices streamed None",
            "forward Lanes streamed Scratch", "forward Lanes cached Scratch", "forward Lanes streamed None",
            "forward Block streamed Scratch", "forward Block cached Scratch", "forward Block streamed None",
            "backward Rows streamed", "backward Rows cached", "backward Slices streamed", "backward Slices cached",
            "backward Lanes streamed", "backward Lanes cached", "backward Block streamed", "backward Block cached",
            "log forward Rows streamed", "log forward Rows cached", "log forward Slices streamed", "log forward Slices cached",
            "log forward Lanes streamed", "log forward Lanes cached", "log forward Block streamed", "log forward Block cached",
            "log backward Rows streamed", "log backward Rows cached", "log backward Slices streamed", "log backward Slices cached",
            "log backward Lanes streamed", "log backward Lanes cached", "log backward Block streamed", "log backward Block cached",
            "options forward Rows cached Output", "options forward Rows cached Scratch", "options forward Rows streamed Scratch",
            "options forward Rows streamed None", "options forward Slices cached Scratch", "options forward Lanes cached Scratch",
        ];
        Assert.True(!expected.Except(reached).Any(), $"not reached: {string.Join("; ", expected.Except(reached))}; reached: {string.Join("; ", reached)}");
    });

    private static ISoftmaxLayout LayoutOf(string name, int[] shape) => name switch
    {
        "Rows" => new Generated.SoftmaxGen.Tests.Rows_Layout(shape),
        "RowsDouble" => new Generated.SoftmaxGen.Tests.RowsDouble_Layout(shape),
        "RowsHalf" => new Generated.SoftmaxGen.Tests.RowsHalf_Layout(shape),
        "Vector" => new Generated.SoftmaxGen.Tests.Vector_Layout(shape),
        "Columns" => new Generated.SoftmaxGen.Tests.Columns_Layout(shape),
        "ColumnsDouble" => new Generated.SoftmaxGen.Tests.ColumnsDouble_Layout(shape),
        "Channels" => new Generated.SoftmaxGen.Tests.Channels_Layout(shape),
        "ChannelsDouble" => new Generated.SoftmaxGen.Tests.ChannelsDouble_Layout(shape),
        "ChannelsHalf" => new Generated.SoftmaxGen.Tests.ChannelsHalf_Layout(shape),
        "Scattered" => new Generated.SoftmaxGen.Tests.Scattered_Layout(shape),
        "ScatteredDouble" => new Generated.SoftmaxGen.Tests.ScatteredDouble_Layout(shape),
        "ScatteredHalf" => new Generated.SoftmaxGen.Tests.ScatteredHalf_Layout(shape),
        "Seed" => new Generated.SoftmaxGen.Tests.Seed_Layout(shape),
        "LogRows" => new Generated.SoftmaxGen.Tests.LogRows_Layout(shape),
        "LogRowsDouble" => new Generated.SoftmaxGen.Tests.LogRowsDouble_Layout(shape),
        "LogRowsHalf" => new Generated.SoftmaxGen.Tests.LogRowsHalf_Layout(shape),
        "LogChannels" => new Generated.SoftmaxGen.Tests.LogChannels_Layout(shape),
        "LogColumns" => new Generated.SoftmaxGen.Tests.LogColumns_Layout(shape),
        "LogScattered" => new Generated.SoftmaxGen.Tests.LogScattered_Layout(shape),
        "Attention" => new Generated.SoftmaxGen.Tests.Attention_Layout(shape),
        "AttentionHalf" => new Generated.SoftmaxGen.Tests.AttentionHalf_Layout(shape),
        "AttentionLanes" => new Generated.SoftmaxGen.Tests.AttentionLanes_Layout(shape),
        "Causal" => new Generated.SoftmaxGen.Tests.Causal_Layout(shape),
        "CausalOuter" => new Generated.SoftmaxGen.Tests.CausalOuter_Layout(shape),
        "CausalLanes" => new Generated.SoftmaxGen.Tests.CausalLanes_Layout(shape),
        "MaskedChannels" => new Generated.SoftmaxGen.Tests.MaskedChannels_Layout(shape),
        "LogAttention" => new Generated.SoftmaxGen.Tests.LogAttention_Layout(shape),
        "LogCausalLanes" => new Generated.SoftmaxGen.Tests.LogCausalLanes_Layout(shape),
        _ => throw new ArgumentException($"no layout case for {name}", nameof(name)),
    };

    /// <summary>
    /// Outputs that start one byte past an element boundary (a span cast from bytes) cannot take non-temporal stores:
    /// the kernels fall back to plain stores and write the same values.
    /// </summary>
    [Fact]
    public void OutputsNotAlignedToTheirElementSizeGetTheSameValues() => KernelWidths.Run(VectorOnly, () =>
    {
        int[] rows = [70001, 33];
        int[] channels = [2, 67, 127, 131];
        foreach (var (shape, forward, backward) in new (int[], SpanForward, SpanBackward)[]
        {
            (rows, Rows.Forward, Rows.Backward),
            (channels, Channels.Forward, Channels.Backward),
        })
        {
            int count = TestData.Count(shape);
            var random = new Random(count + 3);
            var a = Array.ConvertAll(TestData.Logits(random, count), value => (float)value);
            var dB = Array.ConvertAll(TestData.Logits(random, count, 1), value => (float)value);
            var b = new float[count];
            var dA = new float[count];
            forward(a, b, shape);
            backward(b, dB, dA, shape);

            var bytes = new byte[(count * sizeof(float)) + 1];
            var shifted = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(1));
            shifted.Fill(float.NaN);
            forward(a, shifted, shape);
            Assert.True(shifted.SequenceEqual(b), $"forward {string.Join("x", shape)} with a misaligned output");
            shifted.Fill(float.NaN);
            backward(b, dB, shifted, shape);
            Assert.True(shifted.SequenceEqual(dA), $"backward {string.Join("x", shape)} with a misaligned output");
        }
    });

    /// <summary>
    /// Logits far below zero, so that every slice's max is negative and a wrong shift (0 instead of the max) underflows
    /// every exp, in strips of lanes whose first is narrower than whole vectors (an output off the line boundary, so
    /// the strips after it start on one): each strip must take its max from -inf, whatever the strip before it left in
    /// the vector they share.
    /// </summary>
    [Fact]
    public void FarNegativeLogitsInStripsOffTheLineMatchReference() => KernelWidths.Run(VectorOnly, () =>
    {
        int[] shape = [2, 67, 127, 131];
        var target = Layouts.Get("Channels");
        int count = TestData.Count(shape);
        var random = new Random(count + 4);
        var a = target.Round(Array.ConvertAll(TestData.Logits(random, count), value => value - 300));
        var expected = Reference.Forward(a, shape, target.Axes);
        double tolerance = Checks.Tolerance(target, Checks.SliceLength(target, shape));
        var input = Array.ConvertAll(a, value => (float)value);
        foreach (int offset in new[] { 4, 8, 12 })
        {
            var bytes = new byte[(count * sizeof(float)) + offset];
            var b = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes.AsSpan(offset));
            b.Fill(float.NaN);
            Channels.Forward(input, b, shape);
            var actual = Array.ConvertAll(b.ToArray(), value => (double)value);
            Checks.AssertClose(expected, actual, tolerance, 4 * target.Tiny, $"forward {Checks.Describe(target, shape)} at byte offset {offset}");
        }
    });

    /// <summary>
    /// Strips and tiles of lanes read A (and B, dB) over windows widened to whole aligned vectors where their runs start
    /// off a vector boundary: inputs and outputs at every element offset within a 64-byte line, with dB's offset
    /// differing from B's in some of them (no window then), give the same bits as at offset 0.
    /// </summary>
    [Theory]
    [InlineData("Scattered", new[] { 40, 11, 150, 32 })]
    [InlineData("Channels", new[] { 2, 67, 128, 128 })]
    [InlineData("Channels", new[] { 2, 67, 1, 512 })]
    public void InputsAtAnyOffsetInALineGetTheSameBits(string name, int[] shape) => KernelWidths.Run(VectorOnly, () =>
    {
        SpanForward forward = name == "Scattered" ? Scattered.Forward : Channels.Forward;
        SpanBackward backward = name == "Scattered" ? Scattered.Backward : Channels.Backward;
        int count = TestData.Count(shape);
        var random = new Random(count + 5);
        var logits = Array.ConvertAll(TestData.Logits(random, count), value => (float)value);
        var cotangents = Array.ConvertAll(TestData.Logits(random, 2 * count, 1), value => (float)value);
        var a = Line(count);
        var b = Line(count);
        var dB = Line(2 * count);
        var dA = Line(2 * count);
        float[]? expectedB = null, expectedDA = null;
        for (int offset = 0; offset < 16; offset++)
        {
            // B at the same offset as A in even rounds, dB at the same offset as B unless the round is a multiple of 3.
            int place = offset % 2 == 0 ? offset : (offset * 7) % 16;
            int other = offset % 3 == 0 ? (offset + 5) % 16 : place;
            logits.CopyTo(a.Slice(offset, count));
            cotangents.CopyTo(dB.Slice(other, 2 * count));
            var output = b.Slice(place, count);
            output.Fill(float.NaN);
            forward(a.Slice(offset, count), output, shape);
            var gradient = dA.Slice(offset, 2 * count);
            gradient.Fill(float.NaN);
            backward(output, dB.Slice(other, 2 * count), gradient, shape);
            if (offset == 0)
            {
                expectedB = output.ToArray();
                expectedDA = gradient.ToArray();
                continue;
            }

            Assert.True(output.SequenceEqual(expectedB), $"forward {name} {string.Join("x", shape)}: A at element {offset} of a line");
            Assert.True(gradient.SequenceEqual(expectedDA), $"backward {name} {string.Join("x", shape)}: B at element {place}, dB at {other}");
        }

        var target = Layouts.Get(name);
        var reference = Reference.Forward(Array.ConvertAll(logits, value => (double)value), shape, target.Axes);
        double tolerance = Checks.Tolerance(target, Checks.SliceLength(target, shape));
        Checks.AssertClose(reference, Array.ConvertAll(expectedB!, value => (double)value), tolerance, 4 * target.Tiny, $"forward {Checks.Describe(target, shape)}");
    });

    /// <summary>
    /// The rows backward visits a row once for all its cotangents and reads whole aligned lines, joining them into the
    /// vectors of consecutive elements its dot adds up, when B, dB and dA lie alike in their lines; otherwise the
    /// per-cotangent path runs. B, dB and dA at every element of a line (alike, so joined, in most rounds; dB
    /// elsewhere, so per cotangent, in every third), then on one thread, on 64 (ranges of one row where there are
    /// few rows) and in place (dA over dB): the same bits every time (the sums do not depend on where the arrays lie
    /// or which path runs), nothing written outside dA, B and dB untouched, and close to the float64 reference.
    /// </summary>
    /// <remarks>With <c>Vector&lt;T&gt;</c> (the subclass) only the per-cotangent path runs; it must not depend on the offsets either.</remarks>
    [Theory]
    [InlineData(new[] { 2048, 1031 }, 3)]
    [InlineData(new[] { 1024, 1024 }, 2)]
    [InlineData(new[] { 65536, 41 }, 1)]
    [InlineData(new[] { 32768, 32 }, 2)]
    [InlineData(new[] { 16, 140000 }, 5)]
    public void RowsBackwardGetsTheSameBitsAtAnyOffsetInALine(int[] shape, int cotangents) => KernelWidths.Run(VectorOnly, () =>
        RowsBackwardAtEveryOffset<float>(shape, cotangents, Rows.Backward));

    [Theory]
    [InlineData(new[] { 1024, 1031 }, 3)]
    [InlineData(new[] { 32768, 37 }, 1)]
    [InlineData(new[] { 65536, 16 }, 2)]
    public void RowsDoubleBackwardGetsTheSameBitsAtAnyOffsetInALine(int[] shape, int cotangents) => KernelWidths.Run(VectorOnly, () =>
        RowsBackwardAtEveryOffset<double>(shape, cotangents, RowsDouble.Backward));

    private static void RowsBackwardAtEveryOffset<T>(int[] shape, int cotangents, RowsBackward<T> backward)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int lanes = 64 / System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        int count = TestData.Count(shape);
        int all = cotangents * count;
        var random = new Random(count + cotangents);
        var name = typeof(T) == typeof(float) ? "Rows" : "RowsDouble";
        var target = Layouts.Get(name);
        var output = Array.ConvertAll(target.Forward(TestData.Logits(random, count), shape).Value, value => T.CreateChecked(value));
        var cotangent = Array.ConvertAll(TestData.Logits(random, all, 1), value => T.CreateChecked(value));
        var canary = T.CreateChecked(-12345.5);
        var b = Line<T>(count);
        var dB = Line<T>(all);
        var dA = Line<T>(all);
        T[]? expected = null;
        int previous = CpuSoftmax.MaxDegreeOfParallelism;
        try
        {
            // Rounds 0 to lanes - 1: every offset; then one thread, 64 threads, and in place, at offset 3.
            for (int round = 0; round < lanes + 3; round++)
            {
                int place = round < lanes ? round : 3;
                int other = round % 3 == 1 && round < lanes ? (place + 5) % lanes : place;
                bool inPlace = round == lanes + 2;
                CpuSoftmax.MaxDegreeOfParallelism = round == lanes ? 1 : round == lanes + 1 ? 64 : previous;
                b.Fill(canary);
                dB.Fill(canary);
                dA.Fill(canary);
                output.CopyTo(b.Slice(place, count));
                var gradient = dA.Slice(place, all);
                ReadOnlySpan<T> input = cotangent;
                if (inPlace)
                {
                    cotangent.CopyTo(gradient);
                    input = gradient;
                }
                else
                {
                    cotangent.CopyTo(dB.Slice(other, all));
                    input = dB.Slice(other, all);
                    gradient.Fill(T.NaN);
                }

                backward(b.Slice(place, count), input, gradient, shape);
                string where = $"backward {name} {string.Join("x", shape)}, {cotangents} cotangent(s): B and dA at element {place} of a line, "
                    + (inPlace ? "in place" : $"dB at {other}") + $", {CpuSoftmax.MaxDegreeOfParallelism} thread(s)";
                AssertOnly(b, place, output, canary, $"{where}: B changed or written around");
                if (!inPlace)
                {
                    AssertOnly(dB, other, cotangent, canary, $"{where}: dB changed or written around");
                }

                expected ??= gradient.ToArray();
                AssertOnly(dA, place, expected, canary, $"{where}: dA differs from element 0's run, or written around");
            }
        }
        finally
        {
            CpuSoftmax.MaxDegreeOfParallelism = previous;
        }

        var rounded = Array.ConvertAll(output, value => double.CreateChecked(value));
        var dBRounded = Array.ConvertAll(cotangent, value => double.CreateChecked(value));
        Checks.AssertBackwardClose(target, rounded, dBRounded, Array.ConvertAll(expected!, value => double.CreateChecked(value)), shape, $"backward {Checks.Describe(target, shape)}, {cotangents} cotangent(s)");
    }

    /// <summary>Asserts that <paramref name="line"/> holds <paramref name="values"/> from <paramref name="place"/> on, bit for bit, and the canary elsewhere.</summary>
    private static void AssertOnly<T>(Span<T> line, int place, T[] values, T canary, string what)
        where T : unmanaged
    {
        var expected = new T[line.Length];
        Array.Fill(expected, canary);
        values.CopyTo(expected, place);
        if (System.Runtime.InteropServices.MemoryMarshal.AsBytes(line).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(expected.AsSpan())))
        {
            return;
        }

        var actual = line.ToArray();
        int differs = Enumerable.Range(0, expected.Length).First(i => !actual.AsSpan(i, 1).SequenceEqual(expected.AsSpan(i, 1)));
        Assert.Fail($"{what}: element {differs - place} is {actual[differs]}, expected {expected[differs]}");
    }

    private delegate void RowsBackward<T>(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<int> shape, float scale = 1f);

    /// <summary>A span of <paramref name="count"/> floats and 16 more, starting on a 64-byte boundary (pinned).</summary>
    private static Span<float> Line(int count) => Line<float>(count);

    /// <summary>A span of <paramref name="count"/> elements and a line more, starting on a 64-byte boundary (pinned).</summary>
    private static Span<T> Line<T>(int count)
        where T : unmanaged
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var array = GC.AllocateArray<T>(count + (128 / size), pinned: true);
        var handle = System.Runtime.InteropServices.GCHandle.Alloc(array, System.Runtime.InteropServices.GCHandleType.Pinned);
        long start = handle.AddrOfPinnedObject();
        handle.Free();
        int skip = (int)((64 - (start % 64)) % 64 / size);
        return array.AsSpan(skip, count + (64 / size));
    }

    private delegate void SpanForward(ReadOnlySpan<float> a, Span<float> b, ReadOnlySpan<int> shape, float scale = 1f);

    private delegate void SpanBackward(ReadOnlySpan<float> b, ReadOnlySpan<float> dB, Span<float> dA, ReadOnlySpan<int> shape, float scale = 1f);

    [Theory, MemberData(nameof(Cases))]
    public void ForwardAndBackwardMatchReference(string name, int[] shape) => KernelWidths.Run(VectorOnly, () =>
    {
        var target = Layouts.Get(name);
        int count = TestData.Count(shape);
        var random = new Random(count);
        var a = target.Round(TestData.Logits(random, count));
        var b = target.Forward(a, shape).Value;
        Checks.AssertForwardClose(target, a, b, shape, $"forward {Checks.Describe(target, shape)}");
        double tolerance = Checks.Tolerance(target, Checks.SliceLength(target, shape));
        var lse = Reference.LogSumExp(target.Logits(a, shape), shape, target.Axes);
        Checks.AssertClose(lse, target.LogSumExp(a, shape).Value, lse.Select(value => Math.Abs(value) + 1).ToArray(), tolerance, 4 * target.Tiny, $"logsumexp {Checks.Describe(target, shape)}");

        var rounded = target.Round(b);
        var dB = target.Round(TestData.Logits(random, 2 * count, 1));
        Checks.AssertBackwardClose(target, rounded, dB, target.Backward(rounded, dB, shape).Value, shape, $"backward {Checks.Describe(target, shape)}");
    });

    [Theory, MemberData(nameof(Cases))]
    public void ThreadCountAndInPlaceDoNotChangeABit(string name, int[] shape) => KernelWidths.Run(VectorOnly, () =>
    {
        var target = Layouts.Get(name);
        int count = TestData.Count(shape);
        var random = new Random(count + 1);
        var a = TestData.Logits(random, count);
        var dB = TestData.Logits(random, 2 * count, 1);
        var (b, dA) = Checks.AssertThreadCountDoesNotMatter(target, a, dB, shape);
        Assert.True(Checks.Bits(b).SequenceEqual(Checks.Bits(target.ForwardInPlace(a, shape))), "forward in place differs");
        Assert.True(Checks.Bits(dA).SequenceEqual(Checks.Bits(target.BackwardInPlace(b, dB, shape))), "backward in place differs");
    });

    [Theory]
    [InlineData("Rows", new[] { 2049, 1031 })]
    [InlineData("Channels", new[] { 2, 67, 127, 131 })]
    [InlineData("Scattered", new[] { 40, 11, 10, 32 })]
    [InlineData("Rows", new[] { 3, 70001 })]
    [InlineData("Columns", new[] { 40000, 5 })]
    [InlineData("LogRows", new[] { 3, 70001 })]
    [InlineData("LogScattered", new[] { 40, 11, 10, 32 })]
    public void MaskedAndNaNSlicesStayInTheirSlice(string name, int[] shape) => KernelWidths.Run(VectorOnly, () =>
    {
        var target = Layouts.Get(name);
        int count = TestData.Count(shape);
        var random = new Random(count + 2);
        var a = TestData.Logits(random, count);
        var slices = Reference.Slices(shape, target.Axes);
        var clean = target.Forward(a, shape).Value;
        var dB = TestData.Logits(random, count, 1);
        var cleanDA = target.Backward(clean, dB, shape).Value;

        int masked = 0, poisoned = slices.Count - 1;
        foreach (int i in slices[masked])
        {
            a[i] = double.NegativeInfinity;
        }

        a[slices[poisoned][slices[poisoned].Length / 2]] = double.NaN;
        var b = target.Forward(a, shape).Value;
        var dA = target.Backward(b, dB, shape).Value;
        for (int s = 0; s < slices.Count; s++)
        {
            foreach (int i in slices[s])
            {
                if (s == masked)
                {
                    double excluded = target.Operation == SoftmaxOperation.Softmax ? 0 : double.NegativeInfinity;
                    Assert.True(b[i] == excluded && dA[i] == 0, $"masked slice: B[{i}] = {b[i]}, dA[{i}] = {dA[i]}");
                }
                else if (s == poisoned)
                {
                    Assert.True(double.IsNaN(b[i]), $"poisoned slice: B[{i}] = {b[i]}");
                }
                else
                {
                    Assert.True(b[i].Equals(clean[i]) && dA[i].Equals(cleanDA[i]), $"slice {s} changed at [{i}]");
                }
            }
        }
    });
}

/// <summary>The large paths with the <c>Vector&lt;T&gt;</c> kernels, which AVX2 and ARM machines run.</summary>
[Collection(nameof(ThreadCountCollection))]
public sealed class LargeTensorTestsOnVectorT : LargeTensorTests
{
    protected override bool VectorOnly => true;
}
