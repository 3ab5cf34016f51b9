using System;
using System.Diagnostics;

namespace SoftmaxGen.Samples.Attention;

/// <summary>What one call costs: wall time, and the managed memory it allocates (on every thread).</summary>
public readonly record struct Cost(double Milliseconds, long AllocatedBytes);

public static class Measurement
{
    /// <summary>
    /// Runs <paramref name="step"/> once untimed (JIT and kernel compilation), then <paramref name="runs"/> times: the
    /// median wall time, and the fewest managed bytes allocated in one call (GC.GetTotalAllocatedBytes(true) before and
    /// after, which counts every thread, so runtime work in the background can only add to it).
    /// </summary>
    public static Cost Of(Action step, int runs = 3)
    {
        step();
        var times = new double[runs];
        long fewest = long.MaxValue;
        for (int i = 0; i < runs; i++)
        {
            long before = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            step();
            times[i] = clock.Elapsed.TotalMilliseconds;
            fewest = Math.Min(fewest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        Array.Sort(times);
        return new Cost(times[runs / 2], fewest);
    }
}
