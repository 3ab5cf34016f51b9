using System;
using System.Linq;
using Xunit;
using SoftmaxGen.Runtime;

namespace SoftmaxGen.Tests;

/// <summary>
/// Runs a check with the CPU kernels of one vector width (see <see cref="EngineDiagnostics.VectorOnly"/>), streaming
/// outputs from <see cref="StreamedFrom"/> bytes on whatever this machine's cache.
/// </summary>
public static class KernelWidths
{
    /// <summary>The output size from which the checks' calls take non-temporal stores: the large suite's cases are past it.</summary>
    public const long StreamedFrom = 8L << 20;

    /// <summary>
    /// Runs <paramref name="check"/> on this thread with the <c>Vector&lt;T&gt;</c> kernels when
    /// <paramref name="vectorOnly"/> is set, else with the widest accelerated ones; the choices apply to the calls
    /// made from this thread only, so suites running in parallel do not see them.
    /// </summary>
    public static void Run(bool vectorOnly, Action check)
    {
        EngineDiagnostics.VectorOnly = vectorOnly;
        EngineDiagnostics.NonTemporalBytes = StreamedFrom;
        try
        {
            check();
        }
        finally
        {
            EngineDiagnostics.VectorOnly = false;
            EngineDiagnostics.NonTemporalBytes = 0;
        }
    }
}

/// <summary>The width a suite asks for is the one its calls take.</summary>
public sealed class KernelWidthTests
{
    /// <summary>
    /// With Vector512 accelerated, the <c>Vector&lt;T&gt;</c> kernels sum in another order (8 partial sums of float
    /// against 16), so some of a large tensor's bits differ between the widths: if the setting were ignored, every
    /// bit would match and the suites named OnVectorT would test nothing new. Both stay close to the reference.
    /// </summary>
    [SkippableFact]
    public void AskingForVectorTTakesOtherKernels()
    {
        Skip.IfNot(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated, "Vector512 is not accelerated: the widest kernels are the Vector<T> ones");
        int[] shape = [64, 1031];
        int count = TestData.Count(shape);
        var a = Array.ConvertAll(TestData.Logits(new Random(31), count), value => (float)value);
        var wide = new float[count];
        var narrow = new float[count];
        Rows.Forward(a, wide, shape);
        KernelWidths.Run(vectorOnly: true, () => Rows.Forward(a, narrow, shape));
        Assert.False(EngineDiagnostics.VectorOnly, "the setting outlives its check");
        Assert.Contains(Enumerable.Range(0, count), i => BitConverter.SingleToInt32Bits(wide[i]) != BitConverter.SingleToInt32Bits(narrow[i]));

        var target = Layouts.Get("Rows");
        var reference = Reference.Forward(Array.ConvertAll(a, value => (double)value), shape, target.Axes);
        double tolerance = Checks.Tolerance(target, Checks.SliceLength(target, shape));
        Checks.AssertClose(reference, Array.ConvertAll(narrow, value => (double)value), tolerance, 4 * target.Tiny, "forward with Vector<T>");
    }
}
