using System;
using System.Linq;
using System.Numerics;
using System.Reflection;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The lanes kernels with eight adjacent slices a thread (<see cref="GpuKernels.ForwardLanesEight"/>,
/// <see cref="GpuKernels.BackwardLanesEight"/>, <see cref="GpuKernels.LogSumExpLanesEight"/>): taken where the lanes come
/// in whole groups of eight and the views they move 16 bytes of start on 16-byte boundaries, with or without a mask, a
/// bias or a causal mask; their outputs are those of the element kernels bit for bit (the same call on views one element
/// into their buffers, which take the element kernels), and within the reference's bounds. Slices of 2 001 elements are
/// past the CPU accelerator's shared memory, so these shapes take the lanes strategy (not the cached one). Shorter
/// slices, a group's cached lanes fewer than eight warps, take the forward kernel whose warps split the runs
/// (<see cref="GpuKernels.ForwardLanesSplit"/>), within rounding of the element kernels. The launch
/// counters are per process, hence the collection that runs alone.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class GpuLanesEightTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private Accelerator Accelerator => fixture.Accelerator!;

    public static TheoryData<string, int[], float> Aligned() => new()
    {
        { "Columns", [2001, 24], 1f },
        { "Columns", [2001, 8], 0.5f },
        { "LogColumns", [2001, 16], 1f },
        { "ColumnsHalf", [2001, 16], 1f },
        { "LogColumnsHalf", [2001, 8], 1f },
        { "ColumnsDouble", [2001, 8], 2f },
        { "LogColumnsDouble", [2001, 8], 1f },
        { "Channels", [2, 2001, 4, 4], 1f },
        { "MaskedChannels", [2, 2001, 1, 8], 1f },         // the mask along the lanes: one 8-byte word per eight
        { "MaskedChannelsHalf", [1, 2001, 1, 16], 0.5f },
        { "LogMaskedChannelsHalf", [2, 2001, 1, 8], 1f },
        { "CausalLanes", [2, 2001, 16], 1f },               // the causal query index along the lanes
        { "CausalLanesDouble", [1, 2001, 8], 1f },
        { "LogCausalLanesDouble", [1, 2001, 16], 1f },
        { "AttentionLanes", [2, 1, 2001, 16], 1f },         // the mask broadcast along the lanes, the bias along them, causal
        { "AttentionLanes", [1, 2, 2001, 8], 0.5f },
        { "AttentionLanesHalf", [2, 1, 2001, 16], 1f },
        { "AttentionLanesDouble", [2, 1, 2001, 8], 2f },
        { "LogAttentionLanes", [2, 1, 2001, 8], 1f },
    };

    [Theory, MemberData(nameof(Aligned))]
    public void AlignedLanesTakeTheVectorForwardWithTheElementKernelsBits(string name, int[] shape, float scale)
    {
        var run = Case(name);
        var a = run.Round(Logits(shape));
        long strategy = EngineDiagnostics.Launched(GpuStrategy.Lanes);
        var (vector, launches) = Counted(() => run.Forward(Accelerator, a, shape, scale, new Offsets()));
        Assert.Equal(1, launches);
        Assert.Equal(strategy + 1, EngineDiagnostics.Launched(GpuStrategy.Lanes));
        // One element into the buffers: A and B no longer start on 16-byte boundaries, and the element kernel runs.
        var (element, fallback) = Counted(() => run.Forward(Accelerator, a, shape, scale, new Offsets(A: 1, B: 1)));
        Assert.Equal(0, fallback);
        Assert.Equal(strategy + 2, EngineDiagnostics.Launched(GpuStrategy.Lanes));
        Assert.True(Checks.Bits(vector).SequenceEqual(Checks.Bits(element)), $"{name}: the vector kernel's bits differ from the element kernel's");
        Checks.AssertForwardClose(Layouts.Get(name).WithScale(scale), a, vector, shape, $"{name} eight lanes a thread");
    }

    /// <summary>
    /// Runs of a few elements fit many slices into shared memory, but on the CPU accelerator fewer than eight warps of
    /// them a group (its groups hold 16 threads): aligned lanes take the kernel whose warps split the runs, the views one
    /// element into their buffers the cached element kernel. The split kernel sums each slice's exponentials in another
    /// order, so the two agree to rounding; both within the reference's bounds. Runs fewer than the four warps (3), not
    /// a multiple of them (5, 7, 13), lane counts whose slices end partway through a group's block of 32 (40, 56).
    /// </summary>
    [Theory]
    [InlineData("Columns", new[] { 20, 32 }, 1f)]
    [InlineData("Columns", new[] { 3, 40 }, 0.5f)]
    [InlineData("LogColumns", new[] { 13, 64 }, 1f)]
    [InlineData("ColumnsHalf", new[] { 7, 56 }, 1f)]
    [InlineData("LogColumnsHalf", new[] { 16, 32 }, 2f)]
    [InlineData("ColumnsDouble", new[] { 5, 48 }, 1f)]
    [InlineData("LogColumnsDouble", new[] { 20, 64 }, 1f)]
    [InlineData("Channels", new[] { 2, 12, 4, 8 }, 1f)]
    [InlineData("MaskedChannels", new[] { 2, 9, 1, 32 }, 1f)]
    [InlineData("MaskedChannelsHalf", new[] { 1, 6, 1, 48 }, 0.5f)]
    [InlineData("LogMaskedChannelsHalf", new[] { 2, 10, 1, 32 }, 1f)]
    [InlineData("CausalLanes", new[] { 2, 12, 32 }, 1f)]
    [InlineData("CausalLanesDouble", new[] { 1, 7, 40 }, 1f)]
    [InlineData("LogCausalLanesDouble", new[] { 2, 17, 32 }, 1f)]
    [InlineData("AttentionLanes", new[] { 2, 1, 11, 32 }, 1f)]
    [InlineData("AttentionLanesHalf", new[] { 1, 2, 8, 40 }, 1f)]
    [InlineData("AttentionLanesDouble", new[] { 2, 1, 4, 32 }, 2f)]
    [InlineData("LogAttentionLanes", new[] { 1, 2, 19, 48 }, 1f)]
    public void AlignedLanesWithFewPerGroupSplitTheRunsAcrossWarps(string name, int[] shape, float scale)
    {
        var run = Case(name);
        var a = run.Round(Logits(shape));
        long split = EngineDiagnostics.Launched(GpuStrategy.LanesSplit);
        long cached = EngineDiagnostics.Launched(GpuStrategy.LanesCached);
        var (vector, launches) = Counted(() => run.Forward(Accelerator, a, shape, scale, new Offsets()));
        Assert.Equal(1, launches);
        Assert.Equal(split + 1, EngineDiagnostics.Launched(GpuStrategy.LanesSplit));
        Assert.Equal(cached, EngineDiagnostics.Launched(GpuStrategy.LanesCached));
        var (element, fallback) = Counted(() => run.Forward(Accelerator, a, shape, scale, new Offsets(A: 1, B: 1)));
        Assert.Equal(0, fallback);
        Assert.Equal(split + 1, EngineDiagnostics.Launched(GpuStrategy.LanesSplit));
        Assert.Equal(cached + 1, EngineDiagnostics.Launched(GpuStrategy.LanesCached));
        // Either of A and B alone off a 16-byte boundary takes the element kernel too.
        Assert.Equal(0, Counted(() => run.Forward(Accelerator, a, shape, scale, new Offsets(A: 1))).Launches);
        Assert.Equal(0, Counted(() => run.Forward(Accelerator, a, shape, scale, new Offsets(B: 3))).Launches);

        // Rounding: a few units in the last place of the element type, relative to the value, or for log-softmax at
        // least to 1 (its values are logits less the slice's shift and log-sum, each rounded at its own magnitude).
        double tolerance = name.Contains("Half") ? 4e-3 : name.Contains("Double") ? 1e-13 : 2e-6;
        double floor = name.StartsWith("Log", StringComparison.Ordinal) ? 1 : 1e-3;
        for (int i = 0; i < vector.Length; i++)
        {
            bool same = vector[i].Equals(element[i]) || Math.Abs(vector[i] - element[i]) <= tolerance * Math.Max(floor, Math.Max(Math.Abs(vector[i]), Math.Abs(element[i])));
            Assert.True(same, $"{name} {string.Join("x", shape)}: element {i}, split {vector[i]}, element kernel {element[i]}");
        }

        Checks.AssertForwardClose(Layouts.Get(name).WithScale(scale), a, vector, shape, $"{name} runs split across warps");
    }

    [Theory]
    [InlineData("Columns", new[] { 2001, 16 }, 1)]
    [InlineData("Columns", new[] { 2001, 8 }, 3)]
    [InlineData("LogColumns", new[] { 2001, 8 }, 2)]
    [InlineData("ColumnsHalf", new[] { 2001, 16 }, 5)]
    [InlineData("LogColumnsHalf", new[] { 2001, 8 }, 1)]
    [InlineData("ColumnsDouble", new[] { 2001, 8 }, 4)]
    [InlineData("LogColumnsDouble", new[] { 2001, 8 }, 6)]
    [InlineData("Channels", new[] { 2, 2001, 2, 4 }, 2)]
    [InlineData("AttentionLanesHalf", new[] { 1, 1, 2001, 16 }, 3)]
    public void AlignedLanesTakeTheVectorBackwardWithTheElementKernelsBits(string name, int[] shape, int cotangents)
    {
        var run = Case(name);
        var target = Layouts.Get(name).WithScale(0.5);
        int count = TestData.Count(shape);
        var random = new Random(count + cotangents);
        var b = run.Round(Checks.ForwardReference(target, TestData.Logits(random, count), shape));
        var dB = run.Round(TestData.Logits(random, count * cotangents, 1));
        long strategy = EngineDiagnostics.Launched(GpuStrategy.Lanes);
        var (vector, launches) = Counted(() => run.Backward(Accelerator, b, dB, shape, 0.5f, new Offsets()));
        Assert.Equal(1, launches);
        Assert.Equal(strategy + 1, EngineDiagnostics.Launched(GpuStrategy.Lanes));
        var (element, fallback) = Counted(() => run.Backward(Accelerator, b, dB, shape, 0.5f, new Offsets(A: 1, B: 1, DB: 1)));
        Assert.Equal(0, fallback);
        Assert.True(Checks.Bits(vector).SequenceEqual(Checks.Bits(element)), $"{name}: the vector backward's bits differ from the element kernel's");
        Checks.AssertBackwardClose(target, b, dB, vector, shape, $"{name} backward, {cotangents} cotangents, eight lanes a thread");
    }

    /// <summary>Any one of B, dB and dA off a 16-byte boundary takes the element kernel, with the same bits.</summary>
    [Theory]
    [InlineData(0, 0, 0, true)]
    [InlineData(4, 4, 4, true)]
    [InlineData(1, 0, 0, false)]
    [InlineData(0, 2, 0, false)]
    [InlineData(0, 0, 3, false)]
    public void MisalignedViewsOfTheBackward(int bOffset, int dBOffset, int dAOffset, bool vector)
    {
        var run = Case("Columns");
        int[] shape = [2001, 8];
        int count = TestData.Count(shape);
        var random = new Random(count);
        var b = run.Round(Checks.ForwardReference(Layouts.Get("Columns"), TestData.Logits(random, count), shape));
        var dB = run.Round(TestData.Logits(random, 2 * count, 1));
        var (expected, _) = Counted(() => run.Backward(Accelerator, b, dB, shape, 1f, new Offsets(B: 1)));
        var (actual, launches) = Counted(() => run.Backward(Accelerator, b, dB, shape, 1f, new Offsets(B: bOffset, DB: dBOffset, A: dAOffset)));
        Assert.Equal(vector ? 1 : 0, launches);
        Assert.True(Checks.Bits(expected).SequenceEqual(Checks.Bits(actual)), $"offsets {bOffset}, {dBOffset}, {dAOffset}: the bits differ");
    }

    [Theory]
    [InlineData("Columns", new[] { 2001, 16 }, 1f)]
    [InlineData("ColumnsHalf", new[] { 2001, 8 }, 1f)]
    [InlineData("ColumnsDouble", new[] { 2001, 8 }, 0.5f)]
    [InlineData("MaskedChannelsHalf", new[] { 2, 2001, 1, 8 }, 1f)]
    [InlineData("CausalLanesDouble", new[] { 1, 2001, 16 }, 1f)]
    [InlineData("AttentionLanes", new[] { 2, 1, 2001, 16 }, 2f)]
    [InlineData("AttentionLanesHalf", new[] { 2, 1, 2001, 8 }, 1f)]
    [InlineData("AttentionLanesDouble", new[] { 2, 1, 2001, 8 }, 1f)]
    public void AlignedLanesTakeTheVectorLogSumExpWithTheElementKernelsBits(string name, int[] shape, float scale)
    {
        var run = Case(name);
        var a = run.Round(Logits(shape));
        // Special slices: a +∞ with and without a NaN (the second read), a NaN, and all −∞.
        int lanes = shape[^1];
        a[3] = double.PositiveInfinity;
        a[lanes + 5] = double.PositiveInfinity;
        a[2 * lanes + 5] = double.NaN;
        a[lanes + 6] = double.NaN;
        for (int r = 0; r < shape[^2]; r++)
        {
            a[r * lanes + 7] = double.NegativeInfinity;
        }

        var (vector, launches) = Counted(() => run.LogSumExp(Accelerator, a, shape, scale, new Offsets()));
        Assert.Equal(1, launches);
        var (element, fallback) = Counted(() => run.LogSumExp(Accelerator, a, shape, scale, new Offsets(A: 1)));
        Assert.Equal(0, fallback);
        var (other, lse) = Counted(() => run.LogSumExp(Accelerator, a, shape, scale, new Offsets(B: 1)));
        Assert.Equal(0, lse);
        Assert.True(Checks.Bits(vector).SequenceEqual(Checks.Bits(element)), $"{name}: the vector log-sum-exp's bits differ from the element kernel's");
        Assert.True(Checks.Bits(vector).SequenceEqual(Checks.Bits(other)), $"{name}: the vector log-sum-exp's bits differ from the element kernel's");
        Assert.True(Layouts.Get(name).Options.Any || (double.IsPositiveInfinity(vector[3]) && double.IsNaN(vector[5])), $"{name}: the +∞ slices");
        Checks.AssertLogSumExpClose(Layouts.Get(name).WithScale(scale), a, shape, vector, $"{name} log-sum-exp, eight lanes a thread");
    }

    [Theory]
    [InlineData("Columns", new[] { 2001, 12 })] // lanes not a multiple of eight
    [InlineData("Channels", new[] { 2, 2001, 3, 3 })]
    [InlineData("AttentionLanes", new[] { 1, 2, 2001, 12 })]
    public void OtherLanesTakeTheElementKernels(string name, int[] shape)
    {
        var run = Case(name);
        var a = run.Round(Logits(shape));
        long strategy = EngineDiagnostics.Launched(GpuStrategy.Lanes);
        var (_, launches) = Counted(() => run.Forward(Accelerator, a, shape, 1f, new Offsets()));
        Assert.Equal(0, launches);
        Assert.Equal(strategy + 1, EngineDiagnostics.Launched(GpuStrategy.Lanes));
        (_, launches) = Counted(() => run.Backward(Accelerator, a, a, shape, 1f, new Offsets()));
        Assert.Equal(0, launches);
        (_, launches) = Counted(() => run.LogSumExp(Accelerator, a, shape, 1f, new Offsets()));
        Assert.Equal(0, launches);
    }

    /// <summary>
    /// NaN and +∞ in A where the mask or the causal mask excludes an element change no bit of B or of the log-sum-exp;
    /// a mask or a bias off its eight-at-a-time boundary is read one entry at a time by the same kernel, with the same
    /// bits.
    /// </summary>
    [Theory]
    [InlineData("MaskedChannels", new[] { 2, 2001, 1, 8 })]
    [InlineData("MaskedChannelsHalf", new[] { 1, 2001, 1, 16 })]
    [InlineData("CausalLanes", new[] { 1, 2001, 16 })]
    [InlineData("CausalLanesDouble", new[] { 2, 2001, 8 })]
    [InlineData("AttentionLanes", new[] { 2, 1, 2001, 16 })]
    [InlineData("AttentionLanesHalf", new[] { 2, 1, 2001, 8 })]
    [InlineData("AttentionLanesDouble", new[] { 1, 2, 2001, 8 })]
    [InlineData("LogAttentionLanes", new[] { 2, 1, 2001, 8 })]
    // Runs split across warps (ForwardLanesSplit).
    [InlineData("MaskedChannels", new[] { 2, 9, 1, 32 })]
    [InlineData("MaskedChannelsHalf", new[] { 1, 6, 1, 48 })]
    [InlineData("CausalLanesDouble", new[] { 2, 7, 40 })]
    [InlineData("AttentionLanes", new[] { 2, 1, 11, 32 })]
    [InlineData("LogAttentionLanes", new[] { 1, 2, 19, 48 })]
    public void NaNAndInfinityWhereExcludedChangeNoBit(string name, int[] shape)
    {
        var run = Case(name);
        var a = run.Round(Logits(shape));
        var poisoned = Checks.PoisonExcluded(a, Layouts.Get(name).Logits(a, shape), out int excluded);

        Assert.True(excluded > 0, $"{name}: nothing excluded");
        var (clean, cleanLaunches) = Counted(() => run.Forward(Accelerator, a, shape, 1f, new Offsets()));
        var (dirty, dirtyLaunches) = Counted(() => run.Forward(Accelerator, poisoned, shape, 1f, new Offsets()));
        var (unaligned, unalignedLaunches) = Counted(() => run.Forward(Accelerator, poisoned, shape, 1f, new Offsets(Mask: 3, Bias: 1)));
        Assert.Equal(3, cleanLaunches + dirtyLaunches + unalignedLaunches);
        Assert.True(Checks.Bits(clean).SequenceEqual(Checks.Bits(dirty)), $"{name}: NaN or +∞ where excluded changed the output");
        Assert.True(Checks.Bits(clean).SequenceEqual(Checks.Bits(unaligned)), $"{name}: the mask or bias read one entry at a time changed the output");
        Assert.DoesNotContain(clean, double.IsNaN);

        var (lse, lseLaunches) = Counted(() => run.LogSumExp(Accelerator, a, shape, 1f, new Offsets()));
        var (dirtyLse, dirtyLseLaunches) = Counted(() => run.LogSumExp(Accelerator, poisoned, shape, 1f, new Offsets(Mask: 5, Bias: 3)));
        Assert.Equal(2, lseLaunches + dirtyLseLaunches);
        Assert.True(Checks.Bits(lse).SequenceEqual(Checks.Bits(dirtyLse)), $"{name}: NaN or +∞ where excluded changed the log-sum-exp");
    }

    /// <summary>
    /// The kernels' PTX moves 16 bytes per load and store for SM_70, SM_80 and SM_90, nothing in local memory. Per run of
    /// the eight slices the forward kernel loads A in each pass and stores B once: two loads of float, one of Half, four
    /// of double a move of eight. The backward kernel moves B in each pass, and for each of up to four cotangents dB in
    /// each pass and dA once; log-sum-exp loads A in its pass and its second read and stores the eight values. With
    /// options the forward kernels load A as without them (and a bias along the lanes eight at a time).
    /// </summary>
    [Theory]
    [InlineData("float", "v4.f32", 2)]
    [InlineData("half", "v4.b32", 1)]
    [InlineData("double", "v2.f64", 4)]
    public void TheVectorKernelsMove16BytesAtATime(string element, string form, int moves)
    {
        using var context = Context.Create(builder => builder.CPU());
        foreach (var (architecture, instructionSet) in new[] { (CudaArchitecture.SM_70, CudaInstructionSet.ISA_60), (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70), (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78) })
        {
            using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            var load = new Regex(@"^\s*ld(\.global)?\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
            var store = new Regex(@"^\s*st(\.global)?\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
            foreach (var (kernel, options, loads, stores) in new[]
            {
                (nameof(GpuKernels.ForwardLanesEight), false, 2 * moves, moves),
                (nameof(GpuKernels.ForwardLanesEight), true, 4 * moves, moves),  // A twice, the bias twice
                (nameof(GpuKernels.BackwardLanesEight), false, 2 * 5 * moves, 4 * moves),
                (nameof(GpuKernels.LogSumExpLanesEight), false, 2 * moves, moves),
                (nameof(GpuKernels.LogSumExpLanesEight), true, 4 * moves, moves),
                (nameof(GpuKernels.ForwardLanesSplit), false, 2 * moves, moves),
                (nameof(GpuKernels.ForwardLanesSplit), true, 4 * moves, moves),
            })
            {
                string ptx = Ptx(backend, element, kernel, options);
                string what = $"{element} {kernel}{(options ? " with options" : "")} {architecture}";
                Assert.True(loads == load.Matches(ptx).Count, $"{what}: {load.Matches(ptx).Count} 16-byte loads, not {loads}");
                Assert.True(stores == store.Matches(ptx).Count, $"{what}: {store.Matches(ptx).Count} 16-byte stores, not {stores}");
                Assert.DoesNotContain(".local", ptx);
                // The split kernel's warps meet once, to combine their partial (max, sum) pairs; the others never.
                int barriers = Regex.Matches(ptx, @"^\s*(bar|barrier)\.sync\b", RegexOptions.Multiline).Count;
                Assert.True((kernel == nameof(GpuKernels.ForwardLanesSplit) ? 1 : 0) == barriers, $"{what}: {barriers} bar.sync");
            }

            foreach (var kernel in new[] { nameof(GpuKernels.ForwardLanes), nameof(GpuKernels.BackwardLanes), nameof(GpuKernels.LogSumExpLanes) })
            {
                string elementKernel = Ptx(backend, element, kernel, options: false);
                Assert.DoesNotContain(".v4.", elementKernel);
                Assert.DoesNotContain(".v2.", elementKernel);
            }
        }
    }

    private static double[] Logits(int[] shape) => TestData.Logits(new Random(shape.Sum()), TestData.Count(shape), 4);

    /// <summary>What <paramref name="call"/> returns, and how many eight-wide lanes launches it made.</summary>
    private static (double[] Values, long Launches) Counted(Func<double[]> call)
    {
        long before = EngineDiagnostics.LaneVectorLaunches;
        var values = call();
        return (values, EngineDiagnostics.LaneVectorLaunches - before);
    }

    /// <summary>How many elements into its buffer each view starts: A (dA backward), B (the log-sum-exp's values), dB, the mask and the bias.</summary>
    private readonly record struct Offsets(int A = 0, int B = 0, int DB = 0, int Mask = 0, int Bias = 0);

    private interface ILanesCase
    {
        double[] Round(double[] values);

        double[] Forward(Accelerator accelerator, double[] a, int[] shape, float scale, Offsets offsets);

        double[] Backward(Accelerator accelerator, double[] b, double[] dB, int[] shape, float scale, Offsets offsets);

        double[] LogSumExp(Accelerator accelerator, double[] a, int[] shape, float scale, Offsets offsets);
    }

    private static ILanesCase Case(string name) => name switch
    {
        "Columns" => new LanesCase<float>(name, GpuMembers<float>.Plain(Columns.Forward, Columns.Backward, Columns.Jacobian, Columns.LogSumExp)),
        "LogColumns" => new LanesCase<float>(name, GpuMembers<float>.Plain(LogColumns.Forward, LogColumns.Backward, LogColumns.Jacobian, LogColumns.LogSumExp)),
        "ColumnsHalf" => new LanesCase<System.Half>(name, GpuMembers<System.Half>.Plain(ColumnsHalf.Forward, ColumnsHalf.Backward, ColumnsHalf.Jacobian, ColumnsHalf.LogSumExp)),
        "LogColumnsHalf" => new LanesCase<System.Half>(name, GpuMembers<System.Half>.Plain(LogColumnsHalf.Forward, LogColumnsHalf.Backward, LogColumnsHalf.Jacobian, LogColumnsHalf.LogSumExp)),
        "ColumnsDouble" => new LanesCase<double>(name, GpuMembers<double>.Plain(ColumnsDouble.Forward, ColumnsDouble.Backward, ColumnsDouble.Jacobian, ColumnsDouble.LogSumExp)),
        "LogColumnsDouble" => new LanesCase<double>(name, GpuMembers<double>.Plain(LogColumnsDouble.Forward, LogColumnsDouble.Backward, LogColumnsDouble.Jacobian, LogColumnsDouble.LogSumExp)),
        "Channels" => new LanesCase<float>(name, GpuMembers<float>.Plain(Channels.Forward, Channels.Backward, Channels.Jacobian, Channels.LogSumExp)),
        "MaskedChannels" => new LanesCase<float>(name, new GpuMembers<float>((g, a, m, _, b, s, k) => MaskedChannels.Forward(g, a, m, b, s, k), MaskedChannels.Backward, MaskedChannels.Jacobian, (g, a, m, _, l, s, k) => MaskedChannels.LogSumExp(g, a, m, l, s, k))),
        "MaskedChannelsHalf" => new LanesCase<System.Half>(name, new GpuMembers<System.Half>((g, a, m, _, b, s, k) => MaskedChannelsHalf.Forward(g, a, m, b, s, k), MaskedChannelsHalf.Backward, MaskedChannelsHalf.Jacobian, (g, a, m, _, l, s, k) => MaskedChannelsHalf.LogSumExp(g, a, m, l, s, k))),
        "LogMaskedChannelsHalf" => new LanesCase<System.Half>(name, new GpuMembers<System.Half>((g, a, m, _, b, s, k) => LogMaskedChannelsHalf.Forward(g, a, m, b, s, k), LogMaskedChannelsHalf.Backward, LogMaskedChannelsHalf.Jacobian, (g, a, m, _, l, s, k) => LogMaskedChannelsHalf.LogSumExp(g, a, m, l, s, k))),
        "CausalLanes" => new LanesCase<float>(name, new GpuMembers<float>((g, a, _, _, b, s, k) => CausalLanes.Forward(g, a, b, s, k), CausalLanes.Backward, CausalLanes.Jacobian, (g, a, _, _, l, s, k) => CausalLanes.LogSumExp(g, a, l, s, k))),
        "CausalLanesDouble" => new LanesCase<double>(name, new GpuMembers<double>((g, a, _, _, b, s, k) => CausalLanesDouble.Forward(g, a, b, s, k), CausalLanesDouble.Backward, CausalLanesDouble.Jacobian, (g, a, _, _, l, s, k) => CausalLanesDouble.LogSumExp(g, a, l, s, k))),
        "LogCausalLanesDouble" => new LanesCase<double>(name, new GpuMembers<double>((g, a, _, _, b, s, k) => LogCausalLanesDouble.Forward(g, a, b, s, k), LogCausalLanesDouble.Backward, LogCausalLanesDouble.Jacobian, (g, a, _, _, l, s, k) => LogCausalLanesDouble.LogSumExp(g, a, l, s, k))),
        "AttentionLanes" => new LanesCase<float>(name, new GpuMembers<float>(AttentionLanes.Forward, AttentionLanes.Backward, AttentionLanes.Jacobian, AttentionLanes.LogSumExp)),
        "AttentionLanesHalf" => new LanesCase<System.Half>(name, new GpuMembers<System.Half>(AttentionLanesHalf.Forward, AttentionLanesHalf.Backward, AttentionLanesHalf.Jacobian, AttentionLanesHalf.LogSumExp)),
        "AttentionLanesDouble" => new LanesCase<double>(name, new GpuMembers<double>(AttentionLanesDouble.Forward, AttentionLanesDouble.Backward, AttentionLanesDouble.Jacobian, AttentionLanesDouble.LogSumExp)),
        _ => new LanesCase<float>(name, new GpuMembers<float>(LogAttentionLanes.Forward, LogAttentionLanes.Backward, LogAttentionLanes.Jacobian, LogAttentionLanes.LogSumExp)),
    };

    /// <summary>
    /// A class's launchers called on views that start the given number of elements into their buffers, outputs poisoned
    /// with NaN first; the mask and the bias are the suite's (<see cref="TargetOptions.Data"/>).
    /// </summary>
    private sealed class LanesCase<T>(string name, GpuMembers<T> members) : ILanesCase
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ITarget _target = Layouts.Get(name);

        public double[] Round(double[] values) => _target.Round(values);

        public double[] Forward(Accelerator accelerator, double[] a, int[] shape, float scale, Offsets offsets)
        {
            var (mask, bias) = _target.Options.Data(shape, _target.Rank);
            using var x = Upload(accelerator, Elements<T>.From(a), offsets.A);
            using var y = Upload(accelerator, Elements<T>.Poisoned(a.Length), offsets.B);
            using var m = Upload(accelerator, mask.Select(entry => entry ? (byte)1 : (byte)0).ToArray(), offsets.Mask);
            using var t = Upload(accelerator, Elements<T>.From(bias), offsets.Bias);
            var output = View(y, offsets.B, a.Length);
            members.Forward(accelerator, View(x, offsets.A, a.Length), View(m, offsets.Mask, mask.Length), View(t, offsets.Bias, bias.Length), output, shape, scale);
            accelerator.Synchronize();
            return Elements<T>.ToDouble(output.GetAsArray<T>());
        }

        public double[] Backward(Accelerator accelerator, double[] b, double[] dB, int[] shape, float scale, Offsets offsets)
        {
            using var forward = Upload(accelerator, Elements<T>.From(b), offsets.B);
            using var cotangents = Upload(accelerator, Elements<T>.From(dB), offsets.DB);
            using var result = Upload(accelerator, Elements<T>.Poisoned(dB.Length), offsets.A);
            var output = View(result, offsets.A, dB.Length);
            members.Backward(accelerator, View(forward, offsets.B, b.Length), View(cotangents, offsets.DB, dB.Length), output, shape, scale);
            accelerator.Synchronize();
            return Elements<T>.ToDouble(output.GetAsArray<T>());
        }

        public double[] LogSumExp(Accelerator accelerator, double[] a, int[] shape, float scale, Offsets offsets)
        {
            var (mask, bias) = _target.Options.Data(shape, _target.Rank);
            int slices = Reference.SliceCount(shape, _target.Axes);
            using var x = Upload(accelerator, Elements<T>.From(a), offsets.A);
            using var y = Upload(accelerator, Elements<T>.Poisoned(slices), offsets.B);
            using var m = Upload(accelerator, mask.Select(entry => entry ? (byte)1 : (byte)0).ToArray(), offsets.Mask);
            using var t = Upload(accelerator, Elements<T>.From(bias), offsets.Bias);
            var output = View(y, offsets.B, slices);
            members.LogSumExp(accelerator, View(x, offsets.A, a.Length), View(m, offsets.Mask, mask.Length), View(t, offsets.Bias, bias.Length), output, shape, scale);
            accelerator.Synchronize();
            return Elements<T>.ToDouble(output.GetAsArray<T>());
        }

        /// <summary>The values <paramref name="offset"/> elements into a new buffer (null for none).</summary>
        private static MemoryBuffer1D<TValue, Stride1D.Dense>? Upload<TValue>(Accelerator accelerator, TValue[] values, int offset)
            where TValue : unmanaged
        {
            if (values.Length == 0)
            {
                return null;
            }

            var buffer = accelerator.Allocate1D<TValue>(values.Length + offset + 1);
            buffer.View.SubView(offset, values.Length).CopyFromCPU(values);
            return buffer;
        }

        private static ArrayView<TValue> View<TValue>(MemoryBuffer1D<TValue, Stride1D.Dense>? buffer, int offset, int length)
            where TValue : unmanaged
            => buffer is null ? default : buffer.View.SubView(offset, length);
    }

    private static string Ptx(PTXBackend backend, string element, string kernelName, bool options)
    {
        var (storage, accumulator, type, math, layout) = (element, options) switch
        {
            ("float", false) => (typeof(float), typeof(float), typeof(GpuSingle), typeof(GpuFloatMath<GpuExp>), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.Columns_Layout)),
            ("float", true) => (typeof(float), typeof(float), typeof(GpuSingle), typeof(GpuFloatMath<GpuExp>), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.AttentionLanes_Layout)),
            ("double", false) => (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.ColumnsDouble_Layout)),
            ("double", true) => (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.AttentionLanesDouble_Layout)),
            (_, false) => (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), typeof(GpuFloatMath<GpuExp>), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.ColumnsHalf_Layout)),
            _ => (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), typeof(GpuFloatMath<GpuExp>), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.AttentionLanesHalf_Layout)),
        };
        var launcher = typeof(GpuLauncher<,,,,,>).MakeGenericType(storage, accumulator, type, math, layout, typeof(Softmax));
        var kernel = ((System.Collections.Generic.IReadOnlyList<Delegate>)launcher.GetProperty("Kernels", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)
            .Single(candidate => candidate.Method.Name == kernelName).Method;
        // The thread-per-eight-slices kernels take their index as a first parameter (implicitly grouped); the split kernel a group configuration.
        var entry = kernel.GetParameters()[0].ParameterType == typeof(Index1D)
            ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        return ((PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization())).PTXAssembly;
    }
}
