using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Vectorised loops over contiguous runs for <see cref="float"/> and <see cref="double"/>: the arithmetic of
/// every CPU softmax. "Run" methods reduce one run into a scalar; "Lanes" methods treat each position of the
/// run as its own slice and reduce into a span of per-lane accumulators.
/// </summary>
/// <remarks>
/// Every element goes through the same vector code, the remainder too (padded into one vector), so an element's
/// result does not depend on where its run starts or on how work is split between threads. The maximum uses the
/// native instruction, which may drop a NaN; that is harmless because a NaN also reaches the sum of
/// exponentials and from there every output of its slice.
/// </remarks>
internal static class SimdMath<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private static nuint Width => (nuint)Vector<T>.Count;

    /// <summary>max(start, max of x).</summary>
    public static T Max(ReadOnlySpan<T> x, T start)
    {
        ref T source = ref MemoryMarshal.GetReference(x);
        nuint length = (nuint)x.Length;
        nuint i = 0;
        var max0 = new Vector<T>(start);
        var max1 = max0;
        for (; i + 2 * Width <= length; i += 2 * Width)
        {
            max0 = Vector.MaxNative(max0, Vector.LoadUnsafe(ref source, i));
            max1 = Vector.MaxNative(max1, Vector.LoadUnsafe(ref source, i + Width));
        }

        if (i + Width <= length)
        {
            max0 = Vector.MaxNative(max0, Vector.LoadUnsafe(ref source, i));
            i += Width;
        }

        if (i < length)
        {
            max1 = Vector.MaxNative(max1, LoadPartial(x, (int)i, start));
        }

        return HorizontalMax(Vector.MaxNative(max0, max1));
    }

    /// <summary>Writes exp(a - shift) to b and returns its sum.</summary>
    public static T ExpSum(ReadOnlySpan<T> a, Span<T> b, T shift)
    {
        ref T source = ref MemoryMarshal.GetReference(a);
        ref T destination = ref MemoryMarshal.GetReference(b);
        nuint length = (nuint)a.Length;
        nuint i = 0;
        var shiftVector = new Vector<T>(shift);
        var sum0 = Vector<T>.Zero;
        var sum1 = Vector<T>.Zero;
        for (; i + 2 * Width <= length; i += 2 * Width)
        {
            var e0 = Exp(Vector.LoadUnsafe(ref source, i) - shiftVector);
            var e1 = Exp(Vector.LoadUnsafe(ref source, i + Width) - shiftVector);
            e0.StoreUnsafe(ref destination, i);
            e1.StoreUnsafe(ref destination, i + Width);
            sum0 += e0;
            sum1 += e1;
        }

        if (i + Width <= length)
        {
            var e = Exp(Vector.LoadUnsafe(ref source, i) - shiftVector);
            e.StoreUnsafe(ref destination, i);
            sum0 += e;
            i += Width;
        }

        if (i < length)
        {
            // Padding with -inf makes the padded lanes exp(-inf) = 0.
            var e = Exp(LoadPartial(a, (int)i, T.NegativeInfinity) - shiftVector);
            StorePartial(e, b.Slice((int)i));
            sum1 += e;
        }

        return Vector.Sum(sum0 + sum1);
    }

    /// <summary>b *= scale.</summary>
    public static void Scale(Span<T> b, T scale)
    {
        ref T destination = ref MemoryMarshal.GetReference(b);
        nuint length = (nuint)b.Length;
        nuint i = 0;
        var scaleVector = new Vector<T>(scale);
        for (; i + Width <= length; i += Width)
        {
            (Vector.LoadUnsafe(ref destination, i) * scaleVector).StoreUnsafe(ref destination, i);
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref destination, i) *= scale;
        }
    }

    /// <summary>Σ x ∘ y.</summary>
    public static T Dot(ReadOnlySpan<T> x, ReadOnlySpan<T> y)
    {
        ref T left = ref MemoryMarshal.GetReference(x);
        ref T right = ref MemoryMarshal.GetReference(y);
        nuint length = (nuint)x.Length;
        nuint i = 0;
        var sum0 = Vector<T>.Zero;
        var sum1 = Vector<T>.Zero;
        for (; i + 2 * Width <= length; i += 2 * Width)
        {
            sum0 = MultiplyAdd(Vector.LoadUnsafe(ref left, i), Vector.LoadUnsafe(ref right, i), sum0);
            sum1 = MultiplyAdd(Vector.LoadUnsafe(ref left, i + Width), Vector.LoadUnsafe(ref right, i + Width), sum1);
        }

        if (i + Width <= length)
        {
            sum0 = MultiplyAdd(Vector.LoadUnsafe(ref left, i), Vector.LoadUnsafe(ref right, i), sum0);
            i += Width;
        }

        T sum = Vector.Sum(sum0 + sum1);
        for (; i < length; i++)
        {
            sum = T.MultiplyAddEstimate(Unsafe.Add(ref left, i), Unsafe.Add(ref right, i), sum);
        }

        return sum;
    }

    /// <summary>dA = b ∘ (dB - dot).</summary>
    public static void Backward(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, T dot)
    {
        ref T output = ref MemoryMarshal.GetReference(b);
        ref T cotangent = ref MemoryMarshal.GetReference(dB);
        ref T destination = ref MemoryMarshal.GetReference(dA);
        nuint length = (nuint)b.Length;
        nuint i = 0;
        var dotVector = new Vector<T>(dot);
        for (; i + Width <= length; i += Width)
        {
            var result = Vector.LoadUnsafe(ref output, i) * (Vector.LoadUnsafe(ref cotangent, i) - dotVector);
            result.StoreUnsafe(ref destination, i);
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref destination, i) = Unsafe.Add(ref output, i) * (Unsafe.Add(ref cotangent, i) - dot);
        }
    }

    /// <summary>max[k] = max(max[k], x[k]).</summary>
    public static void MaxLanes(ReadOnlySpan<T> x, Span<T> max)
    {
        ref T source = ref MemoryMarshal.GetReference(x);
        ref T accumulator = ref MemoryMarshal.GetReference(max);
        nuint length = (nuint)x.Length;
        nuint i = 0;
        for (; i + Width <= length; i += Width)
        {
            Vector.MaxNative(Vector.LoadUnsafe(ref accumulator, i), Vector.LoadUnsafe(ref source, i)).StoreUnsafe(ref accumulator, i);
        }

        for (; i < length; i++)
        {
            T value = Unsafe.Add(ref source, i);
            ref T current = ref Unsafe.Add(ref accumulator, i);
            current = value > current ? value : current;
        }
    }

    /// <summary>b[k] = exp(a[k] - shift[k]); sum[k] += b[k].</summary>
    public static void ExpSumLanes(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<T> shift, Span<T> sum)
    {
        ref T source = ref MemoryMarshal.GetReference(a);
        ref T destination = ref MemoryMarshal.GetReference(b);
        ref T shifts = ref MemoryMarshal.GetReference(shift);
        ref T sums = ref MemoryMarshal.GetReference(sum);
        nuint length = (nuint)a.Length;
        nuint i = 0;
        for (; i + Width <= length; i += Width)
        {
            var e = Exp(Vector.LoadUnsafe(ref source, i) - Vector.LoadUnsafe(ref shifts, i));
            e.StoreUnsafe(ref destination, i);
            (Vector.LoadUnsafe(ref sums, i) + e).StoreUnsafe(ref sums, i);
        }

        if (i < length)
        {
            int start = (int)i;
            var e = Exp(LoadPartial(a, start, T.NegativeInfinity) - LoadPartial(shift, start, T.Zero));
            StorePartial(e, b.Slice(start));
            StorePartial(LoadPartial(sum, start, T.Zero) + e, sum.Slice(start));
        }
    }

    /// <summary>b[k] *= scale[k].</summary>
    public static void ScaleLanes(Span<T> b, ReadOnlySpan<T> scale)
    {
        ref T destination = ref MemoryMarshal.GetReference(b);
        ref T scales = ref MemoryMarshal.GetReference(scale);
        nuint length = (nuint)b.Length;
        nuint i = 0;
        for (; i + Width <= length; i += Width)
        {
            (Vector.LoadUnsafe(ref destination, i) * Vector.LoadUnsafe(ref scales, i)).StoreUnsafe(ref destination, i);
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref destination, i) *= Unsafe.Add(ref scales, i);
        }
    }

    /// <summary>dot[k] += x[k] · y[k].</summary>
    public static void DotLanes(ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<T> dot)
    {
        ref T left = ref MemoryMarshal.GetReference(x);
        ref T right = ref MemoryMarshal.GetReference(y);
        ref T sums = ref MemoryMarshal.GetReference(dot);
        nuint length = (nuint)x.Length;
        nuint i = 0;
        for (; i + Width <= length; i += Width)
        {
            MultiplyAdd(Vector.LoadUnsafe(ref left, i), Vector.LoadUnsafe(ref right, i), Vector.LoadUnsafe(ref sums, i))
                .StoreUnsafe(ref sums, i);
        }

        for (; i < length; i++)
        {
            ref T sum = ref Unsafe.Add(ref sums, i);
            sum = T.MultiplyAddEstimate(Unsafe.Add(ref left, i), Unsafe.Add(ref right, i), sum);
        }
    }

    /// <summary>dA[k] = b[k] · (dB[k] - dot[k]).</summary>
    public static void BackwardLanes(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<T> dot)
    {
        ref T output = ref MemoryMarshal.GetReference(b);
        ref T cotangent = ref MemoryMarshal.GetReference(dB);
        ref T destination = ref MemoryMarshal.GetReference(dA);
        ref T dots = ref MemoryMarshal.GetReference(dot);
        nuint length = (nuint)b.Length;
        nuint i = 0;
        for (; i + Width <= length; i += Width)
        {
            var result = Vector.LoadUnsafe(ref output, i) * (Vector.LoadUnsafe(ref cotangent, i) - Vector.LoadUnsafe(ref dots, i));
            result.StoreUnsafe(ref destination, i);
        }

        for (; i < length; i++)
        {
            Unsafe.Add(ref destination, i) = Unsafe.Add(ref output, i) * (Unsafe.Add(ref cotangent, i) - Unsafe.Add(ref dots, i));
        }
    }

    /// <summary>exp for the two element types this class serves; the type test folds away when the JIT specialises T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Exp(Vector<T> x)
    {
        if (typeof(T) == typeof(float))
        {
            return VectorExp.Exp(x.As<T, float>()).As<float, T>();
        }

        if (typeof(T) == typeof(double))
        {
            return VectorExp.Exp(x.As<T, double>()).As<double, T>();
        }

        throw new NotSupportedException($"SimdMath serves float and double, not {typeof(T)}.");
    }

    /// <summary>
    /// x · y + z for float and double: one instruction and one rounding where the hardware fuses them (FMA, NEON);
    /// elsewhere a multiply and an add, since an emulated fused one costs a hundred times more.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> MultiplyAdd(Vector<T> x, Vector<T> y, Vector<T> z)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector.MultiplyAddEstimate(x.As<T, float>(), y.As<T, float>(), z.As<T, float>()).As<float, T>();
        }

        if (typeof(T) == typeof(double))
        {
            return Vector.MultiplyAddEstimate(x.As<T, double>(), y.As<T, double>(), z.As<T, double>()).As<double, T>();
        }

        throw new NotSupportedException($"SimdMath serves float and double, not {typeof(T)}.");
    }

    private static T HorizontalMax(Vector<T> vector)
    {
        T max = vector[0];
        for (int lane = 1; lane < Vector<T>.Count; lane++)
        {
            max = vector[lane] > max ? vector[lane] : max;
        }

        return max;
    }

    /// <summary>A vector of x[start..] padded with <paramref name="padding"/>.</summary>
    private static Vector<T> LoadPartial(ReadOnlySpan<T> x, int start, T padding)
    {
        Span<T> buffer = stackalloc T[Vector<T>.Count];
        buffer.Fill(padding);
        x.Slice(start).CopyTo(buffer);
        return new Vector<T>(buffer);
    }

    /// <summary>Stores the first destination.Length lanes of <paramref name="vector"/>.</summary>
    private static void StorePartial(Vector<T> vector, Span<T> destination)
    {
        Span<T> buffer = stackalloc T[Vector<T>.Count];
        vector.CopyTo(buffer);
        buffer.Slice(0, destination.Length).CopyTo(destination);
    }
}
