using System;
using System.Runtime.CompilerServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Log-sum-exp: one value per slice, shift + log Σ exp(z − shift), from the forward's first two passes. A slice with
/// nothing included gives −∞; a NaN gives NaN; a +∞ without a NaN gives +∞.
/// </summary>
internal static unsafe partial class CpuKernels<TStorage, T, TV, TS, TIO, TLayout, TOp, TInput>
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LogSumExp(TStorage* a, TStorage* lse, TLayout layout, TInput input)
    {
        var launch = CpuLaunch.Choose(layout, 0, sizeof(TStorage), sizeof(T), TS.Count, canStream: false, keeps: false, backward: false);
        if (launch.Strategy is CpuStrategy.Rows or CpuStrategy.Slices)
        {
            CpuParallel.For(layout.SliceCount, layout.SliceLength, new LogSumExpSlices(a, lse, layout, input));
        }
        else
        {
            CpuParallel.For(launch.Items(layout), (long)launch.Width * CpuLaunch.Rows(layout), new LogSumExpTiles(a, lse, layout, input, launch));
        }
    }

    /// <summary>shift + log sum, or the special values: −∞ for an empty sum, +∞ for a +∞ max with no NaN in the slice.</summary>
    private static T LogSumExpOf(T max, T shift, T sum, bool nan)
    {
        if (T.IsPositiveInfinity(max))
        {
            return nan ? T.NaN : T.PositiveInfinity;
        }

        return sum == T.Zero ? T.NegativeInfinity : shift + T.Log(sum);
    }

    private static TStorage ToStorage(T value)
    {
        if (typeof(TStorage) == typeof(T))
        {
            return Unsafe.As<T, TStorage>(ref value);
        }

        var half = (Half)float.CreateTruncating(value);
        return Unsafe.As<Half, TStorage>(ref half);
    }

    private readonly struct LogSumExpSlices(TStorage* a, TStorage* lse, TLayout layout, TInput input) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[CpuTuning.PadElements];
            int length = layout.InnerExtent;
            for (int slice = first; slice < end; slice++)
            {
                int origin = layout.Origin(slice);
                var max = MaxPass(a, layout, origin, null, false, length, input, pad);
                var shift = TS.Shift(max);
                T sum = TS.First(ExpSumPass(a, layout, origin, null, false, length, shift, input, pad));
                T top = TS.First(max);
                bool nan = T.IsPositiveInfinity(top) && NaNCount(a, layout, origin, 0, length, input, pad) > 0;
                lse[slice] = ToStorage(LogSumExpOf(top, TS.First(shift), sum, nan));
            }
        }
    }

    private readonly struct LogSumExpTiles(TStorage* a, TStorage* lse, TLayout layout, TInput input, CpuLaunch launch) : IParallelBody
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[CpuTuning.PadElements];
            T* shift = Scratch<T>.Lanes();
            T* partial = shift + Scratch<T>.LaneArray;
            T* total = partial + Scratch<T>.LaneArray;
            T* top = total + Scratch<T>.LaneArray;
            int group = launch.Group;
            for (int item = first; item < end; item++)
            {
                int origin = launch.Origin(layout, item, out int width);
                nuint pitch = RoundUp((nuint)width);
                MaxPass(a, layout, origin, shift, width, input, pad);
                if (group > 1)
                {
                    FoldGroups(shift, width, group, max: true);
                }

                for (nuint j = 0; j < pitch; j += Width)
                {
                    TS.Store(TS.Load(shift + j), top + j);
                    TS.Store(TS.Shift(TS.Load(shift + j)), shift + j);
                }

                ExpSumPass(a, layout, origin, null, pitch, shift, partial, total, width, input, pad);
                if (group > 1)
                {
                    FoldGroups(total, width, group, max: false);
                }

                int slice = launch.FirstSlice(item);
                for (int j = 0; j < width; j += group, slice++)
                {
                    bool nan = T.IsPositiveInfinity(top[j]) && NaNCount(a, layout, origin, j, group, input, pad) > 0;
                    lse[slice] = ToStorage(LogSumExpOf(top[j], shift[j], total[j], nan));
                }
            }
        }
    }

    /// <summary>
    /// The NaN logits among elements [first, first + count) of each run from <paramref name="origin"/> (a slice's runs,
    /// or one lane's or group's share of a tile's rows); taken only for a slice whose max is +∞, to tell +∞ from NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int NaNCount(TStorage* a, TLayout layout, int origin, int first, int count, TInput input, T* pad)
    {
        var visitor = new NaNRun(a, first, count, input, pad);
        layout.ForEachRun(origin, ref visitor);
        return visitor.Count;
    }

    private ref struct NaNRun(TStorage* a, int first, int length, TInput input, T* pad) : IRunVisitor
    {
        public int Count;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Visit(int offset)
        {
            TStorage* x = a + first + offset;
            var place = input.Place(first + offset);
            for (nuint i = 0; i < (nuint)length; i += Width)
            {
                nuint n = Math.Min(Width, (nuint)length - i);
                var z = input.Apply<TStorage, T, TV, TS, TIO>(TIO.LoadPartial(x + i, n, pad), place, i, n, pad);
                // NaN lanes count 1 each; the padding past n is 0 and counts nothing.
                Count += int.CreateTruncating(TS.First(TS.SumAll(TS.Select(TS.Equal(z, z), TS.Create(T.Zero), TS.Create(T.One)))));
            }
        }
    }
}
