using System;
using System.Numerics;
using System.Threading;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>
/// What the tests observe of the engines, and the choices they may make for their own thread: the launch counts per GPU
/// strategy, the kernels loaded per accelerator, the CPU vector width and the size from which CPU outputs are streamed.
/// Nothing else in the runtime exists for the tests.
/// </summary>
internal static class EngineDiagnostics
{
    [ThreadStatic]
    private static bool vectorOnly;

    [ThreadStatic]
    private static long nonTemporalBytes;

    private static long rowLaunches;
    private static long laneVectorLaunches;

    private static readonly long[] GpuLaunches = new long[Enum.GetValues<GpuStrategy>().Length];

    /// <summary>
    /// Whether CPU calls from this thread take the <see cref="Vector{T}"/> kernels (those of AVX2 and ARM machines) even
    /// where Vector512 is accelerated, so that they are tested there too.
    /// </summary>
    public static bool VectorOnly
    {
        get => vectorOnly;
        set => vectorOnly = value;
    }

    /// <summary>Whether CPU calls from this thread take the Vector512 kernels.</summary>
    public static bool Vector512 => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && !vectorOnly;

    /// <summary>
    /// From how many output bytes CPU calls from this thread stream their outputs past the caches: the machine's
    /// <see cref="CpuTuning.NonTemporalBytes"/> unless set (0 resets it), so that the streamed paths are tested on any
    /// machine whatever its cache.
    /// </summary>
    public static long NonTemporalBytes
    {
        get => nonTemporalBytes > 0 ? nonTemporalBytes : CpuTuning.NonTemporalBytes;
        set => nonTemporalBytes = value;
    }

    /// <summary>How many launches used <paramref name="strategy"/> in this process.</summary>
    public static long Launched(GpuStrategy strategy) => Interlocked.Read(ref GpuLaunches[(int)strategy]);

    /// <summary>Counts a launch of <paramref name="strategy"/>.</summary>
    public static void CountLaunch(GpuStrategy strategy) => Interlocked.Increment(ref GpuLaunches[(int)strategy]);

    /// <summary>How many of those launches took the row kernels (16-byte loads and stores) in this process.</summary>
    public static long RowLaunches => Interlocked.Read(ref rowLaunches);

    /// <summary>Counts a launch of a row kernel (besides its strategy's count).</summary>
    public static void CountRowLaunch() => Interlocked.Increment(ref rowLaunches);

    /// <summary>How many lanes launches took the eight-slices-a-thread kernel (16-byte loads and stores) in this process.</summary>
    public static long LaneVectorLaunches => Interlocked.Read(ref laneVectorLaunches);

    /// <summary>
    /// Counts a launch of an eight-wide lanes kernel (<see cref="GpuKernels.ForwardLanesEight"/>,
    /// <see cref="GpuKernels.ForwardLanesSplit"/>, <see cref="GpuKernels.BackwardLanesEight"/>,
    /// <see cref="GpuKernels.LogSumExpLanesEight"/>), besides its strategy's count (log-sum-exp counts no strategy).
    /// </summary>
    public static void CountLaneVectorLaunch() => Interlocked.Increment(ref laneVectorLaunches);

    /// <summary>The number of kernels loaded for <paramref name="accelerator"/> so far.</summary>
    public static int KernelsLoaded(Accelerator accelerator) => KernelCache.CountFor(accelerator);
}
