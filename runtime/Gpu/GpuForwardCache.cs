using ILGPU;

namespace SoftmaxGen.Runtime;

/// <summary>
/// What the forward row kernel with shared memory keeps of a row there, and how it gets each element's exponential and
/// value back from it (<see cref="GpuKernels.ForwardRowsCached"/>, <see cref="GpuKernels.ForwardRowsCachedAsStored"/>):
/// the first pass keeps each element, A's value as the element loads it or its logit, the second
/// adds the exponentials of logit − shift, the third takes each element's value for the output
/// (<see cref="IGpuOperation.Value{T, TMath}"/>). Entry i of a unit of eight is element j at <c>j · units + unit</c>,
/// entries past the last whole unit at their index in the row; <c>index</c> is the element's index in A, which
/// locates its options (<see cref="GpuInputLoads{TStorage, TAccumulator, TElement, TMath, TLayout}.Logit"/>).
/// </summary>
internal interface IGpuForwardCache<TStorage, TAccumulator, TElement, TMath, TLayout, TCached>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
    where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
    where TMath : struct, IGpuMath<TAccumulator>
    where TLayout : struct, IGpuSoftmaxLayout
    where TCached : unmanaged
{
    /// <summary>Keeps the element past the last whole unit at <paramref name="i"/>: A's value <paramref name="x"/>, its logit <paramref name="z"/>.</summary>
    void Keep(ArrayView<TCached> cache, int i, TAccumulator x, TAccumulator z);

    /// <summary>Keeps unit <paramref name="unit"/>'s eight elements: A's values <paramref name="x"/>, their logits <paramref name="z"/>.</summary>
    void KeepEight(ArrayView<TCached> cache, int unit, int units, Eight<TAccumulator> x, Eight<TAccumulator> z);

    /// <summary><paramref name="sum"/> plus exp(z − shift) of the element kept at <paramref name="i"/>.</summary>
    TAccumulator Sum(ArrayView<TCached> cache, int i, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift, TAccumulator sum);

    /// <summary><paramref name="sum"/> plus exp(z − shift) of unit <paramref name="unit"/>'s eight elements, in element order.</summary>
    TAccumulator SumEight(ArrayView<TCached> cache, int unit, int units, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift, TAccumulator sum);

    /// <summary>The value the output takes of the element kept at <paramref name="i"/>, after <see cref="Sum"/>.</summary>
    TAccumulator Value(ArrayView<TCached> cache, int i, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift);

    /// <summary>The values the output takes of unit <paramref name="unit"/>'s eight elements, after <see cref="SumEight"/>.</summary>
    Eight<TAccumulator> ValuesEight(ArrayView<TCached> cache, int unit, int units, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift);
}

/// <summary>
/// Shared memory holds accumulators (a float for a Half element): each entry a logit, overwritten in the sum pass with
/// what the output takes of it (<see cref="IGpuOperation.Kept{T}"/>): one exp an element.
/// </summary>
internal readonly struct GpuLogitCache<TStorage, TAccumulator, TElement, TMath, TLayout, TOp> : IGpuForwardCache<TStorage, TAccumulator, TElement, TMath, TLayout, TAccumulator>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
    where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
    where TMath : struct, IGpuMath<TAccumulator>
    where TLayout : struct, IGpuSoftmaxLayout
    where TOp : struct, IGpuOperation
{
    public void Keep(ArrayView<TAccumulator> cache, int i, TAccumulator x, TAccumulator z) => cache[i] = z;

    public void KeepEight(ArrayView<TAccumulator> cache, int unit, int units, Eight<TAccumulator> x, Eight<TAccumulator> z) => GpuKernels.CacheEight(cache, unit, units, z);

    public TAccumulator Sum(ArrayView<TAccumulator> cache, int i, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift, TAccumulator sum)
    {
        var math = default(TMath);
        var centered = math.Subtract(cache[i], shift);
        var exp = math.Exp(centered);
        cache[i] = default(TOp).Kept(centered, exp);
        return math.Add(sum, exp);
    }

    public TAccumulator SumEight(ArrayView<TAccumulator> cache, int unit, int units, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift, TAccumulator sum)
    {
        for (int j = 0; j < GpuKernels.RowUnit; j++)
        {
            sum = Sum(cache, j * units + unit, input, index + j, shift, sum);
        }

        return sum;
    }

    public TAccumulator Value(ArrayView<TAccumulator> cache, int i, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift) => cache[i];

    public Eight<TAccumulator> ValuesEight(ArrayView<TAccumulator> cache, int unit, int units, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift) =>
        GpuKernels.CachedEight(cache, unit, units);
}

/// <summary>
/// Shared memory holds A as stored (<typeparamref name="TStorage"/>, 2 bytes a Half: rows twice as long as a cache of
/// float accumulators takes), each entry converted by the element's store and back by its load, exactly, as it came
/// from A. The sum pass and the output pass each recompute an element's logit from it
/// (<see cref="GpuInputLoads{TStorage, TAccumulator, TElement, TMath, TLayout}.LogitsEight"/>, the options located
/// once for eight) and its value: two exps an element, as the streamed kernel takes, one for log-softmax, whose value
/// needs none. The logits are those the first pass loaded, bit for bit, so the sum and the outputs are
/// <see cref="GpuLogitCache{TStorage, TAccumulator, TElement, TMath, TLayout, TOp}"/>'s.
/// </summary>
internal readonly struct GpuStoredCache<TStorage, TAccumulator, TElement, TMath, TLayout, TOp> : IGpuForwardCache<TStorage, TAccumulator, TElement, TMath, TLayout, TStorage>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
    where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
    where TMath : struct, IGpuMath<TAccumulator>
    where TLayout : struct, IGpuSoftmaxLayout
    where TOp : struct, IGpuOperation
{
    public void Keep(ArrayView<TStorage> cache, int i, TAccumulator x, TAccumulator z) => default(TElement).Store(cache, i, x);

    public void KeepEight(ArrayView<TStorage> cache, int unit, int units, Eight<TAccumulator> x, Eight<TAccumulator> z) => GpuKernels.CacheEight(cache, unit, units, x, default(TElement));

    public TAccumulator Sum(ArrayView<TStorage> cache, int i, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift, TAccumulator sum)
    {
        var math = default(TMath);
        return math.Add(sum, math.Exp(math.Subtract(input.Logit(default(TElement).Load(cache, i), index), shift)));
    }

    public TAccumulator SumEight(ArrayView<TStorage> cache, int unit, int units, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift, TAccumulator sum)
    {
        var math = default(TMath);
        var z = input.LogitsEight(GpuKernels.CachedEight<TStorage, TAccumulator, TElement>(cache, unit, units, default(TElement)), index);
        sum = math.Add(sum, math.Exp(math.Subtract(z.A, shift)));
        sum = math.Add(sum, math.Exp(math.Subtract(z.B, shift)));
        sum = math.Add(sum, math.Exp(math.Subtract(z.C, shift)));
        sum = math.Add(sum, math.Exp(math.Subtract(z.D, shift)));
        sum = math.Add(sum, math.Exp(math.Subtract(z.E, shift)));
        sum = math.Add(sum, math.Exp(math.Subtract(z.F, shift)));
        sum = math.Add(sum, math.Exp(math.Subtract(z.G, shift)));
        return math.Add(sum, math.Exp(math.Subtract(z.H, shift)));
    }

    public TAccumulator Value(ArrayView<TStorage> cache, int i, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift) =>
        default(TOp).Value(input.Logit(default(TElement).Load(cache, i), index), shift, default(TMath));

    public Eight<TAccumulator> ValuesEight(ArrayView<TStorage> cache, int unit, int units, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> input, int index, TAccumulator shift)
    {
        var math = default(TMath);
        var op = default(TOp);
        var z = input.LogitsEight(GpuKernels.CachedEight<TStorage, TAccumulator, TElement>(cache, unit, units, default(TElement)), index);
        return new(
            op.Value(z.A, shift, math), op.Value(z.B, shift, math), op.Value(z.C, shift, math), op.Value(z.D, shift, math),
            op.Value(z.E, shift, math), op.Value(z.F, shift, math), op.Value(z.G, shift, math), op.Value(z.H, shift, math));
    }
}
