using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The row kernels: the slice kernels for layouts whose slices are single contiguous runs (the last axis reduced, no
/// other reduced axis), moving eight elements at a time with 16-byte loads and stores
/// (<see cref="IGpuVectorElement{TStorage, TAccumulator}"/>). Thread t of a group takes units t, t + stride, ... of
/// eight elements each (elements 8u to 8u + 7 of the row), then the elements past the last whole unit one at a time.
/// </summary>
/// <remarks>
/// The launcher (<see cref="GpuRows"/>) picks these only for aligned rows: the views start on 16-byte boundaries and
/// the row length is a whole number of 16-byte chunks, so that every unit is aligned. Shared memory holds element j of
/// unit u at <c>j · units + u</c>, so that a warp's threads, on consecutive units, touch consecutive words (no bank
/// conflicts); each thread reads back only what it wrote. Sums take each thread's elements in row order, unit by
/// unit, then the group reduction: the same operations as the element kernels, grouped differently, so the results
/// agree with theirs to rounding, not bit for bit (maxima, exact however grouped, agree exactly).
/// </remarks>
internal static partial class GpuKernels
{
    /// <summary>Elements a row kernel moves per thread and step: one 16-byte load of Half, two of float, four of double.</summary>
    public const int RowUnit = 8;

    /// <summary>
    /// As <see cref="ForwardSlicesCached"/>, for aligned rows: <paramref name="input"/> gives the logits, eight at a
    /// time and past the last whole unit one at a time (z = scale · A with the options applied,
    /// <see cref="GpuInputLoads{TStorage, TAccumulator, TElement, TMath, TLayout}"/>), and stores B. Shared memory holds
    /// accumulators, a float for a Half element, for the reasons <see cref="ForwardSlicesCached"/> gives
    /// (<see cref="GpuLogitCache{TStorage, TAccumulator, TElement, TMath, TLayout, TOp}"/>).
    /// </summary>
    public static void ForwardRowsCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
        => ForwardRowsThroughCache<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, TAccumulator, GpuLogitCache<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>>(a, b, layout, input);

    /// <summary>
    /// <see cref="ForwardRowsCached"/> for rows whose accumulators do not fit shared memory but whose stored elements
    /// do (<see cref="GpuLaunch.CacheStored"/>: Half rows up to twice as long): shared memory holds A's row as stored,
    /// and the sum and output passes recompute each logit from it
    /// (<see cref="GpuStoredCache{TStorage, TAccumulator, TElement, TMath, TLayout, TOp}"/>). A is read from device
    /// memory once, where <see cref="ForwardRowsOnline"/> reads it twice, with as many exps; the results are
    /// <see cref="ForwardRowsCached"/>'s on the same group, bit for bit.
    /// </summary>
    public static void ForwardRowsCachedAsStored<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>(
        ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
        => ForwardRowsThroughCache<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, TStorage, GpuStoredCache<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>>(a, b, layout, input);

    /// <summary>
    /// The forward row kernels with shared memory, keeping each row there as <typeparamref name="TCache"/> does: A's
    /// values loaded once, their logits' maximum, the sum of exponentials, then B from what the cache gives back.
    /// </summary>
    private static void ForwardRowsThroughCache<TStorage, TAccumulator, TElement, TMath, TLayout, TOp, TCached, TCache>(
        ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
        where TCached : unmanaged
        where TCache : struct, IGpuForwardCache<TStorage, TAccumulator, TElement, TMath, TLayout, TCached>
    {
        var math = default(TMath);
        var op = default(TOp);
        var element = default(TElement);
        var kept = default(TCache);
        var cache = SharedMemory.GetDynamic<TCached>();
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int units = length / RowUnit;
        int whole = units * RowUnit;
        int stride = Group.DimX;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = math.NegativeInfinity;
            for (int u = Group.IdxX; u < units; u += stride)
            {
                int at = origin + u * RowUnit;
                var x = element.LoadEight(a, at);
                var z = input.LogitsEight(x, at);
                kept.KeepEight(cache, u, units, x, z);
                max = math.Max(max, MaxEight(z, math));
            }

            for (int e = whole + Group.IdxX; e < length; e += stride)
            {
                var x = element.Load(a, origin + e);
                var z = input.Logit(x, origin + e);
                kept.Keep(cache, e, x, z);
                max = math.Max(max, z);
            }

            var shift = math.Shift(GpuReduce.GroupMax<TAccumulator, TMath>(max, scratch));
            var sum = math.Zero;
            for (int u = Group.IdxX; u < units; u += stride)
            {
                sum = kept.SumEight(cache, u, units, input, origin + u * RowUnit, shift, sum);
            }

            for (int e = whole + Group.IdxX; e < length; e += stride)
            {
                sum = kept.Sum(cache, e, input, origin + e, shift, sum);
            }

            var parameter = op.Parameter(shift, GpuReduce.GroupSum<TAccumulator, TMath>(sum, scratch), math);
            for (int u = Group.IdxX; u < units; u += stride)
            {
                var value = kept.ValuesEight(cache, u, units, input, origin + u * RowUnit, shift);
                input.StoreEight(b, origin + u * RowUnit, new Eight<TAccumulator>(
                    op.Output(value.A, parameter, math), op.Output(value.B, parameter, math), op.Output(value.C, parameter, math), op.Output(value.D, parameter, math),
                    op.Output(value.E, parameter, math), op.Output(value.F, parameter, math), op.Output(value.G, parameter, math), op.Output(value.H, parameter, math)));
            }

            for (int e = whole + Group.IdxX; e < length; e += stride)
            {
                input.Store(b, origin + e, op.Output(kept.Value(cache, e, input, origin + e, shift), parameter, math));
            }
        }
    }

    /// <summary>As <see cref="ForwardSlicesOnline"/>, for aligned rows, the logits from <paramref name="input"/> as <see cref="ForwardRowsCached"/> takes them.</summary>
    public static void ForwardRowsOnline<TStorage, TAccumulator, TVector, TMath, TLayout, TOp>(ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout, TVector input)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int units = length / RowUnit;
        int whole = units * RowUnit;
        int stride = Group.DimX;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            var max = math.NegativeInfinity;
            var sum = math.Zero;
            AccumulateRow<TStorage, TAccumulator, TVector, TMath, TLayout>(a, layout, origin, input, ref max, ref sum);
            GpuReduce.GroupCombine<TAccumulator, TMath>(ref max, ref sum, scratch);
            var shift = math.Shift(max);
            var parameter = op.Parameter(shift, math.PoisonIfInfinite(max, sum), math);
            for (int u = Group.IdxX; u < units; u += stride)
            {
                var x = input.LoadEight(a, origin + u * RowUnit);
                input.StoreEight(b, origin + u * RowUnit, new Eight<TAccumulator>(
                    op.Output(op.Value(x.A, shift, math), parameter, math), op.Output(op.Value(x.B, shift, math), parameter, math),
                    op.Output(op.Value(x.C, shift, math), parameter, math), op.Output(op.Value(x.D, shift, math), parameter, math),
                    op.Output(op.Value(x.E, shift, math), parameter, math), op.Output(op.Value(x.F, shift, math), parameter, math),
                    op.Output(op.Value(x.G, shift, math), parameter, math), op.Output(op.Value(x.H, shift, math), parameter, math)));
            }

            for (int e = whole + Group.IdxX; e < length; e += stride)
            {
                var x = input.Load(a, origin + e);
                input.Store(b, origin + e, op.Output(op.Value(x, shift, math), parameter, math));
            }
        }
    }

    /// <summary>
    /// The backward pass over aligned rows, a group per row, dA = scale · pullback. <paramref name="cached"/> (an int,
    /// as kernel parameters must be blittable): 0 reads B from device memory in both passes of every cotangent, 1 keeps
    /// B's row in shared memory for all cotangents, 2 keeps the current cotangent's row there too (as
    /// <see cref="BackwardSlicesCached"/> with its cotangent cached). Shared memory holds the rows as stored
    /// (<typeparamref name="TStorage"/>, 2 bytes a Half), as <see cref="BackwardSlicesCached"/> holds its slices: the
    /// loads convert each eight to the accumulator and the element's stores (<typeparamref name="TVector"/>, which
    /// does not scale here) convert them back, exactly, as they came from <typeparamref name="TStorage"/>.
    /// </summary>
    public static void BackwardRows<TStorage, TAccumulator, TVector, TMath, TLayout, TOp>(
        ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, TLayout layout, int cotangents, int cached, TAccumulator scale)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TVector : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
        where TOp : struct, IGpuOperation
    {
        var math = default(TMath);
        var op = default(TOp);
        var vector = default(TVector);
        var cache = SharedMemory.GetDynamic<TStorage>(); // B's row at 0, the current cotangent's row at length
        var scratch = SharedMemory.Allocate<TAccumulator>(ScratchLength);
        int length = layout.SliceLength;
        int units = length / RowUnit;
        int whole = units * RowUnit;
        int stride = Group.DimX;
        int count = layout.SliceCount * length;
        for (int slice = Grid.IdxX; slice < layout.SliceCount; slice += Grid.DimX)
        {
            int origin = layout.Origin(slice);
            if (cached != 0)
            {
                for (int u = Group.IdxX; u < units; u += stride)
                {
                    CacheEight(cache, u, units, vector.LoadEight(b, origin + u * RowUnit), vector);
                }

                for (int e = whole + Group.IdxX; e < length; e += stride)
                {
                    cache[e] = b[origin + e];
                }
            }

            for (int k = 0; k < cotangents; k++)
            {
                int first = k * count + origin;
                var dot = math.Zero;
                for (int u = Group.IdxX; u < units; u += stride)
                {
                    var bx = cached != 0 ? CachedEight<TStorage, TAccumulator, TVector>(cache, u, units, vector) : vector.LoadEight(b, origin + u * RowUnit);
                    var d = vector.LoadEight(dB, first + u * RowUnit);
                    if (cached == 2)
                    {
                        CacheEight(cache.SubView(length), u, units, d, vector);
                    }

                    dot = math.Add(dot, op.Term(bx.A, d.A, math));
                    dot = math.Add(dot, op.Term(bx.B, d.B, math));
                    dot = math.Add(dot, op.Term(bx.C, d.C, math));
                    dot = math.Add(dot, op.Term(bx.D, d.D, math));
                    dot = math.Add(dot, op.Term(bx.E, d.E, math));
                    dot = math.Add(dot, op.Term(bx.F, d.F, math));
                    dot = math.Add(dot, op.Term(bx.G, d.G, math));
                    dot = math.Add(dot, op.Term(bx.H, d.H, math));
                }

                for (int e = whole + Group.IdxX; e < length; e += stride)
                {
                    var bx = cached != 0 ? vector.Load(cache, e) : vector.Load(b, origin + e);
                    var d = vector.Load(dB, first + e);
                    if (cached == 2)
                    {
                        vector.Store(cache, length + e, d);
                    }

                    dot = math.Add(dot, op.Term(bx, d, math));
                }

                dot = GpuReduce.GroupSum<TAccumulator, TMath>(dot, scratch);
                for (int u = Group.IdxX; u < units; u += stride)
                {
                    var bx = cached != 0 ? CachedEight<TStorage, TAccumulator, TVector>(cache, u, units, vector) : vector.LoadEight(b, origin + u * RowUnit);
                    var d = cached == 2 ? CachedEight<TStorage, TAccumulator, TVector>(cache.SubView(length), u, units, vector) : vector.LoadEight(dB, first + u * RowUnit);
                    vector.StoreEight(dA, first + u * RowUnit, new Eight<TAccumulator>(
                        math.Multiply(op.Pullback(bx.A, d.A, dot, math), scale), math.Multiply(op.Pullback(bx.B, d.B, dot, math), scale),
                        math.Multiply(op.Pullback(bx.C, d.C, dot, math), scale), math.Multiply(op.Pullback(bx.D, d.D, dot, math), scale),
                        math.Multiply(op.Pullback(bx.E, d.E, dot, math), scale), math.Multiply(op.Pullback(bx.F, d.F, dot, math), scale),
                        math.Multiply(op.Pullback(bx.G, d.G, dot, math), scale), math.Multiply(op.Pullback(bx.H, d.H, dot, math), scale)));
                }

                for (int e = whole + Group.IdxX; e < length; e += stride)
                {
                    var bx = cached != 0 ? vector.Load(cache, e) : vector.Load(b, origin + e);
                    var d = cached == 2 ? vector.Load(cache, length + e) : vector.Load(dB, first + e);
                    vector.Store(dA, first + e, math.Multiply(op.Pullback(bx, d, dot, math), scale));
                }
            }
        }
    }

    /// <summary>
    /// Unit <paramref name="unit"/>'s eight values into a shared-memory copy of the stored elements, element j at
    /// <c>j · units + unit</c>, each converted by <paramref name="element"/>'s store.
    /// </summary>
    internal static void CacheEight<TStorage, TAccumulator, TElement>(ArrayView<TStorage> cache, int unit, int units, Eight<TAccumulator> x, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
    {
        element.Store(cache, unit, x.A);
        element.Store(cache, units + unit, x.B);
        element.Store(cache, 2 * units + unit, x.C);
        element.Store(cache, 3 * units + unit, x.D);
        element.Store(cache, 4 * units + unit, x.E);
        element.Store(cache, 5 * units + unit, x.F);
        element.Store(cache, 6 * units + unit, x.G);
        element.Store(cache, 7 * units + unit, x.H);
    }

    /// <summary>Unit <paramref name="unit"/>'s eight stored values from shared memory, as <see cref="CacheEight{TStorage, TAccumulator, TElement}"/> put them, converted by <paramref name="element"/>'s load.</summary>
    internal static Eight<TAccumulator> CachedEight<TStorage, TAccumulator, TElement>(ArrayView<TStorage> cache, int unit, int units, TElement element)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuElement<TStorage, TAccumulator>
        => new(element.Load(cache, unit), element.Load(cache, units + unit), element.Load(cache, 2 * units + unit), element.Load(cache, 3 * units + unit),
            element.Load(cache, 4 * units + unit), element.Load(cache, 5 * units + unit), element.Load(cache, 6 * units + unit), element.Load(cache, 7 * units + unit));

    /// <summary>scale · each of eight values, as <see cref="GpuInputLoads{TStorage, TAccumulator, TElement, TMath, TLayout}"/> scales one.</summary>
    private static Eight<T> Scaled<T, TMath>(Eight<T> x, T scale, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => new(math.Multiply(x.A, scale), math.Multiply(x.B, scale), math.Multiply(x.C, scale), math.Multiply(x.D, scale),
            math.Multiply(x.E, scale), math.Multiply(x.F, scale), math.Multiply(x.G, scale), math.Multiply(x.H, scale));

    /// <summary>The largest of eight values.</summary>
    private static T MaxEight<T, TMath>(Eight<T> x, TMath math)
        where T : unmanaged
        where TMath : struct, IGpuMath<T>
        => math.Max(math.Max(math.Max(x.A, x.B), math.Max(x.C, x.D)), math.Max(math.Max(x.E, x.F), math.Max(x.G, x.H)));

    /// <summary>Unit <paramref name="unit"/>'s eight values into shared memory, element j at <c>j · units + unit</c>.</summary>
    internal static void CacheEight<T>(ArrayView<T> cache, int unit, int units, Eight<T> x)
        where T : unmanaged
    {
        cache[unit] = x.A;
        cache[units + unit] = x.B;
        cache[2 * units + unit] = x.C;
        cache[3 * units + unit] = x.D;
        cache[4 * units + unit] = x.E;
        cache[5 * units + unit] = x.F;
        cache[6 * units + unit] = x.G;
        cache[7 * units + unit] = x.H;
    }

    /// <summary>Unit <paramref name="unit"/>'s eight values from shared memory, as <see cref="CacheEight{T}"/> put them.</summary>
    internal static Eight<T> CachedEight<T>(ArrayView<T> cache, int unit, int units)
        where T : unmanaged
        => new(cache[unit], cache[units + unit], cache[2 * units + unit], cache[3 * units + unit],
            cache[4 * units + unit], cache[5 * units + unit], cache[6 * units + unit], cache[7 * units + unit]);
}
