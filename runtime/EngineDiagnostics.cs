using System;
using System.Numerics;
using System.Threading;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>
/// What the tests observe of the engines, and the one choice they may make: the launch counts per GPU strategy, the
/// kernels loaded per accelerator, and the CPU vector width of the calling thread. Nothing else in the runtime exists
/// for the tests.
/// </summary>
internal static class EngineDiagnostics
{
    [ThreadStatic]
    private static bool vectorOnly;

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

    /// <summary>How many launches used <paramref name="strategy"/> in this process.</summary>
    public static long Launched(GpuStrategy strategy) => Interlocked.Read(ref GpuLaunches[(int)strategy]);

    /// <summary>Counts a launch of <paramref name="strategy"/>.</summary>
    public static void CountLaunch(GpuStrategy strategy) => Interlocked.Increment(ref GpuLaunches[(int)strategy]);

    /// <summary>The number of kernels loaded for <paramref name="accelerator"/> so far.</summary>
    public static int KernelsLoaded(Accelerator accelerator) => KernelCache.CountFor(accelerator);
}
