using System;
using System.Threading.Tasks;

namespace SoftmaxGen.Runtime;

/// <summary>A body of work over independent items [first, end) that <see cref="CpuParallel"/> may split between threads.</summary>
internal interface IParallelBody
{
    void Run(int first, int end);
}

/// <summary>
/// Splits independent work items (slices, or tiles of adjacent slices) into contiguous ranges over the cores.
/// Each item is always computed whole by one thread with the same code, so results do not depend on the
/// number of threads.
/// </summary>
internal static class CpuParallel
{
    /// <summary>Below this many elements a call stays on the calling thread: waking workers would cost more than it saves.</summary>
    internal const long SerialElements = 1 << 15;

    public static void For<TBody>(int items, long elementsPerItem, TBody body)
        where TBody : struct, IParallelBody
    {
        int workers = Workers(items, elementsPerItem);
        if (workers <= 1)
        {
            body.Run(0, items);
            return;
        }

        // A few ranges per worker lets a fast worker take over from a slow one.
        int ranges = (int)Math.Min(items, workers * 4L);
        var options = new ParallelOptions { MaxDegreeOfParallelism = workers };
        Parallel.For(0, ranges, options, range =>
        {
            int first = (int)((long)items * range / ranges);
            int end = (int)((long)items * (range + 1) / ranges);
            body.Run(first, end);
        });
    }

    private static int Workers(int items, long elementsPerItem)
    {
        long elements = items * elementsPerItem;
        if (elements < SerialElements || items < 2)
        {
            return 1;
        }

        long byWork = elements / SerialElements;
        return (int)Math.Min(Math.Min(CpuSoftmax.MaxDegreeOfParallelism, items), byWork);
    }
}
