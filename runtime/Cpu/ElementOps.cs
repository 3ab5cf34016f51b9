using System;
using System.Numerics;
using System.Numerics.Tensors;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The run and lane primitives of <see cref="SimdMath{T}"/> for one element type <typeparamref name="T"/>, with
/// accumulators of type <typeparamref name="TAccumulator"/> (<see cref="float"/> for <see cref="Half"/>).
/// </summary>
/// <remarks>
/// The forward pass is max, then <see cref="ExpSum"/>, then <see cref="Normalize"/>. Element types that can hold
/// exp(a - shift) exactly enough store it in <see cref="ExpSum"/> and only rescale in <see cref="Normalize"/>;
/// <see cref="Half"/> does not store it (that would round twice) and recomputes it in <see cref="Normalize"/>.
/// </remarks>
internal interface IElementOps<T, TAccumulator>
    where T : unmanaged
    where TAccumulator : unmanaged, IFloatingPointIeee754<TAccumulator>
{
    static abstract TAccumulator Max(ReadOnlySpan<T> a, TAccumulator max);

    static abstract TAccumulator ExpSum(ReadOnlySpan<T> a, Span<T> b, TAccumulator shift);

    static abstract void Normalize(ReadOnlySpan<T> a, Span<T> b, TAccumulator shift, TAccumulator scale);

    static abstract TAccumulator Dot(ReadOnlySpan<T> x, ReadOnlySpan<T> y);

    static abstract void Backward(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, TAccumulator dot);

    static abstract void MaxLanes(ReadOnlySpan<T> a, Span<TAccumulator> max);

    static abstract void ExpSumLanes(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<TAccumulator> shift, Span<TAccumulator> sum);

    static abstract void NormalizeLanes(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<TAccumulator> shift, ReadOnlySpan<TAccumulator> scale);

    static abstract void DotLanes(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<TAccumulator> dot);

    static abstract void BackwardLanes(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<TAccumulator> dot);
}

/// <summary>
/// Primitives for <see cref="Half"/>: each run is widened to <see cref="float"/> a chunk at a time, computed in
/// float, and narrowed once when written.
/// </summary>
internal readonly struct HalfOps : IElementOps<Half, float>
{
    /// <summary>Elements widened at once; a multiple of every vector width.</summary>
    private const int Chunk = 256;

    public static float Max(ReadOnlySpan<Half> a, float max)
    {
        Span<float> x = stackalloc float[Chunk];
        for (int start = 0; start < a.Length; start += Chunk)
        {
            var part = Widen(a, start, x);
            max = SimdMath<float>.Max(part, max);
        }

        return max;
    }

    public static float ExpSum(ReadOnlySpan<Half> a, Span<Half> b, float shift)
    {
        Span<float> x = stackalloc float[Chunk];
        float sum = 0;
        for (int start = 0; start < a.Length; start += Chunk)
        {
            var part = Widen(a, start, x);
            sum += SimdMath<float>.ExpSum(part, part, shift);
        }

        return sum;
    }

    public static void Normalize(ReadOnlySpan<Half> a, Span<Half> b, float shift, float scale)
    {
        Span<float> x = stackalloc float[Chunk];
        for (int start = 0; start < a.Length; start += Chunk)
        {
            var part = Widen(a, start, x);
            SimdMath<float>.ExpSum(part, part, shift);
            SimdMath<float>.Scale(part, scale);
            TensorPrimitives.ConvertToHalf(part, b.Slice(start, part.Length));
        }
    }

    public static float Dot(ReadOnlySpan<Half> x, ReadOnlySpan<Half> y)
    {
        Span<float> left = stackalloc float[Chunk];
        Span<float> right = stackalloc float[Chunk];
        float sum = 0;
        for (int start = 0; start < x.Length; start += Chunk)
        {
            sum += SimdMath<float>.Dot(Widen(x, start, left), Widen(y, start, right));
        }

        return sum;
    }

    public static void Backward(ReadOnlySpan<Half> b, ReadOnlySpan<Half> dB, Span<Half> dA, float dot)
    {
        Span<float> output = stackalloc float[Chunk];
        Span<float> cotangent = stackalloc float[Chunk];
        for (int start = 0; start < b.Length; start += Chunk)
        {
            var part = Widen(b, start, output);
            SimdMath<float>.Backward(part, Widen(dB, start, cotangent), part, dot);
            TensorPrimitives.ConvertToHalf(part, dA.Slice(start, part.Length));
        }
    }

    public static void MaxLanes(ReadOnlySpan<Half> a, Span<float> max)
    {
        Span<float> x = stackalloc float[Chunk];
        for (int start = 0; start < a.Length; start += Chunk)
        {
            var part = Widen(a, start, x);
            SimdMath<float>.MaxLanes(part, max.Slice(start, part.Length));
        }
    }

    public static void ExpSumLanes(ReadOnlySpan<Half> a, Span<Half> b, ReadOnlySpan<float> shift, Span<float> sum)
    {
        Span<float> x = stackalloc float[Chunk];
        for (int start = 0; start < a.Length; start += Chunk)
        {
            var part = Widen(a, start, x);
            SimdMath<float>.ExpSumLanes(part, part, shift.Slice(start, part.Length), sum.Slice(start, part.Length));
        }
    }

    public static void NormalizeLanes(ReadOnlySpan<Half> a, Span<Half> b, ReadOnlySpan<float> shift, ReadOnlySpan<float> scale)
    {
        Span<float> x = stackalloc float[Chunk];
        Span<float> unused = stackalloc float[Chunk];
        for (int start = 0; start < a.Length; start += Chunk)
        {
            var part = Widen(a, start, x);
            unused.Slice(0, part.Length).Clear();
            SimdMath<float>.ExpSumLanes(part, part, shift.Slice(start, part.Length), unused.Slice(0, part.Length));
            SimdMath<float>.ScaleLanes(part, scale.Slice(start, part.Length));
            TensorPrimitives.ConvertToHalf(part, b.Slice(start, part.Length));
        }
    }

    public static void DotLanes(ReadOnlySpan<Half> x, ReadOnlySpan<Half> y, Span<float> dot)
    {
        Span<float> left = stackalloc float[Chunk];
        Span<float> right = stackalloc float[Chunk];
        for (int start = 0; start < x.Length; start += Chunk)
        {
            var part = Widen(x, start, left);
            SimdMath<float>.DotLanes(part, Widen(y, start, right), dot.Slice(start, part.Length));
        }
    }

    public static void BackwardLanes(ReadOnlySpan<Half> b, ReadOnlySpan<Half> dB, Span<Half> dA, ReadOnlySpan<float> dot)
    {
        Span<float> output = stackalloc float[Chunk];
        Span<float> cotangent = stackalloc float[Chunk];
        for (int start = 0; start < b.Length; start += Chunk)
        {
            var part = Widen(b, start, output);
            SimdMath<float>.BackwardLanes(part, Widen(dB, start, cotangent), part, dot.Slice(start, part.Length));
            TensorPrimitives.ConvertToHalf(part, dA.Slice(start, part.Length));
        }
    }

    /// <summary>Widens up to <see cref="Chunk"/> elements of <paramref name="source"/> from <paramref name="start"/> into <paramref name="buffer"/>.</summary>
    private static Span<float> Widen(ReadOnlySpan<Half> source, int start, Span<float> buffer)
    {
        var part = source.Slice(start, Math.Min(Chunk, source.Length - start));
        var widened = buffer.Slice(0, part.Length);
        TensorPrimitives.ConvertToSingle(part, widened);
        return widened;
    }
}
