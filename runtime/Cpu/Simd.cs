using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The vector operations the CPU engine (<see cref="CpuKernels{TStorage, T, TV, TS, TIO, TLayout, TOp, TInput}"/>) is written with,
/// over one vector type <typeparamref name="TV"/> of <typeparamref name="T"/>: <see cref="Vector512{T}"/> where the
/// hardware accelerates it, else <see cref="Vector{T}"/>. Every implementation is a struct, so the JIT compiles the
/// kernels once per vector type with every call inlined.
/// </summary>
internal unsafe interface ISimd<TV, T>
    where TV : unmanaged
    where T : unmanaged
{
    /// <summary>Elements per vector.</summary>
    static abstract int Count { get; }

    /// <summary>Whether <see cref="StoreAlignedNonTemporal"/> bypasses the caches (otherwise it is a plain store).</summary>
    static abstract bool CanStream { get; }

    static abstract TV Load(T* source);

    static abstract void Store(TV value, T* destination);

    /// <summary>Stores to a destination aligned to the vector's size, past the caches where <see cref="CanStream"/>.</summary>
    static abstract void StoreAlignedNonTemporal(TV value, T* destination);

    static abstract TV Create(T value);

    static abstract TV Add(TV x, TV y);

    static abstract TV Subtract(TV x, TV y);

    static abstract TV Multiply(TV x, TV y);

    static abstract TV Divide(TV x, TV y);

    /// <summary>All bits set in the lanes where x equals y, clear elsewhere (a mask for <see cref="Select"/>).</summary>
    static abstract TV Equal(TV x, TV y);

    /// <summary>Per lane: <paramref name="whereTrue"/> where <paramref name="mask"/> is set, else <paramref name="whereFalse"/>.</summary>
    static abstract TV Select(TV mask, TV whereTrue, TV whereFalse);

    /// <summary>x · y + z, rounded once where the hardware fuses them (always with AVX-512; <see cref="Vector{T}"/> on x86 without FMA rounds twice).</summary>
    static abstract TV MultiplyAdd(TV x, TV y, TV z);

    /// <summary>The native maximum: may return either operand when one is NaN.</summary>
    static abstract TV Max(TV x, TV y);

    /// <summary>
    /// exp per lane of shifted logits z − shift (<see cref="VectorExp"/>): x ≤ 0, −∞ or NaN in every lane whose result
    /// is kept, except in slices that hold a NaN: the native max may drop the NaN and the true maximum with it, but the
    /// NaN reaches the slice's sum, so every output there is NaN whatever exp returned.
    /// </summary>
    static abstract TV Exp(TV x);

    /// <summary>
    /// The natural logarithm per lane, for x ≥ 1 in every lane (the sum of a slice's exp; callers replace the lanes that
    /// hold anything else before and after), so that no lane takes a special path that could touch its neighbours.
    /// </summary>
    static abstract TV Log(TV x);

    /// <summary>Per lane: 0 where <paramref name="max"/> is -∞ (a fully masked slice), else max.</summary>
    static abstract TV Shift(TV max);

    /// <summary>The first lane.</summary>
    static abstract T First(TV x);

    /// <summary>The sum of the lanes, in a fixed order, in every lane (one value, ready to use as a vector).</summary>
    static abstract TV SumAll(TV x);

    /// <summary>The native maximum of the lanes, in every lane.</summary>
    static abstract TV MaxAll(TV x);

    /// <summary>
    /// The first <paramref name="count"/> (fewer than <see cref="Count"/>) elements at <paramref name="source"/>, the other
    /// lanes <paramref name="padding"/>; nothing past them is read. <paramref name="pad"/> is room for one vector.
    /// </summary>
    static abstract TV LoadPartial(T* source, nuint count, T padding, T* pad);

    /// <summary>Stores the first <paramref name="count"/> lanes of <paramref name="value"/>; nothing past them is written.</summary>
    static abstract void StorePartial(TV value, T* destination, nuint count, T* pad);

    /// <summary>
    /// <paramref name="x"/> in its first <paramref name="count"/> lanes, <paramref name="other"/> in the rest (the lanes
    /// of a partial vector that lie past the end of a run).
    /// </summary>
    static abstract TV FirstOr(TV x, nuint count, T other);

    /// <summary>
    /// A mask of the lanes whose byte at <paramref name="source"/> (one per lane, the first <paramref name="count"/>
    /// read; nothing past them) is not 0. <paramref name="pad"/> is room for one vector.
    /// </summary>
    static abstract TV NonZero(byte* source, nuint count, T* pad);

    /// <summary>A mask of the lanes whose index <paramref name="first"/> + lane lies in [from, to).</summary>
    static abstract TV Within(nuint first, int from, int to);
}

/// <summary><see cref="ISimd{TV, T}"/> over <see cref="Vector512{T}"/>, for <see cref="float"/> and <see cref="double"/>.</summary>
internal readonly unsafe struct Simd512<T> : ISimd<Vector512<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;

    public static bool CanStream => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(T* source) => Vector512.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> value, T* destination) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreAlignedNonTemporal(Vector512<T> value, T* destination) => value.StoreAlignedNonTemporal(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Create(T value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> LoadPartial(T* source, nuint count, T padding, T* pad)
    {
        // A masked load: one instruction, and masked-off lanes never touch memory.
        var mask = Mask(count);
        return typeof(T) == typeof(float)
            ? Avx512F.MaskLoad((float*)source, mask.As<T, float>(), Vector512.Create(float.CreateTruncating(padding))).As<float, T>()
            : Avx512F.MaskLoad((double*)source, mask.As<T, double>(), Vector512.Create(double.CreateTruncating(padding))).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(Vector512<T> value, T* destination, nuint count, T* pad)
    {
        var mask = Mask(count);
        if (typeof(T) == typeof(float))
        {
            Avx512F.MaskStore((float*)destination, mask.As<T, float>(), value.As<T, float>());
            return;
        }

        Avx512F.MaskStore((double*)destination, mask.As<T, double>(), value.As<T, double>());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> FirstOr(Vector512<T> x, nuint count, T other) => Vector512.ConditionalSelect(Mask(count), x, Vector512.Create(other));

    /// <summary>All bits set in the first <paramref name="count"/> lanes, clear in the others.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Mask(nuint count)
        => typeof(T) == typeof(float)
            ? Vector512.LessThan(Vector512<int>.Indices, Vector512.Create((int)count)).As<int, T>()
            : Vector512.LessThan(Vector512<long>.Indices, Vector512.Create((long)count)).As<long, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> NonZero(byte* source, nuint count, T* pad)
    {
        Vector128<byte> bytes;
        if (count >= (nuint)Count)
        {
            bytes = typeof(T) == typeof(float) ? Vector128.Load(source) : Vector128.CreateScalar(*(ulong*)source).AsByte();
        }
        else
        {
            Vector128<byte>.Zero.Store((byte*)pad);
            Buffer.MemoryCopy(source, pad, 16, (long)count);
            bytes = Vector128.Load((byte*)pad);
        }

        // vpmovzxbd / vpmovzxbq: one byte per 32- or 64-bit lane.
        return typeof(T) == typeof(float)
            ? (~Vector512.Equals(Avx512F.ConvertToVector512Int32(bytes), Vector512<int>.Zero)).As<int, T>()
            : (~Vector512.Equals(Avx512F.ConvertToVector512Int64(bytes), Vector512<long>.Zero)).As<long, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Within(nuint first, int from, int to)
    {
        if (typeof(T) == typeof(float))
        {
            var index = Vector512<int>.Indices + Vector512.Create((int)first);
            return (Vector512.GreaterThanOrEqual(index, Vector512.Create(from)) & Vector512.LessThan(index, Vector512.Create(to))).As<int, T>();
        }

        var wide = Vector512<long>.Indices + Vector512.Create((long)first);
        return (Vector512.GreaterThanOrEqual(wide, Vector512.Create((long)from)) & Vector512.LessThan(wide, Vector512.Create((long)to))).As<long, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> x, Vector512<T> y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Subtract(Vector512<T> x, Vector512<T> y) => x - y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Multiply(Vector512<T> x, Vector512<T> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Divide(Vector512<T> x, Vector512<T> y) => x / y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Equal(Vector512<T> x, Vector512<T> y) => Vector512.Equals(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Select(Vector512<T> mask, Vector512<T> whereTrue, Vector512<T> whereFalse) => Vector512.ConditionalSelect(mask, whereTrue, whereFalse);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MultiplyAdd(Vector512<T> x, Vector512<T> y, Vector512<T> z)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector512.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), z.As<T, float>()).As<float, T>();
        }

        return Vector512.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), z.As<T, double>()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> x, Vector512<T> y) => Vector512.MaxNative(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp(Vector512<T> x)
    {
        if (typeof(T) == typeof(float))
        {
            return VectorExp.Exp(x.As<T, float>()).As<float, T>();
        }

        return VectorExp.Exp(x.As<T, double>()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T First(Vector512<T> x) => x.ToScalar();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Log(Vector512<T> x)
        => typeof(T) == typeof(float) ? Vector512.Log(x.As<T, float>()).As<float, T>() : Vector512.Log(x.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Shift(Vector512<T> max)
        => Vector512.ConditionalSelect(Vector512.Equals(max, Vector512.Create(T.NegativeInfinity)), Vector512<T>.Zero, max);

    // Both across-lane folds are butterflies: each step combines every lane with its partner half a span away, so that
    // every lane ends with the whole result (all lanes the same value: each pair is combined in both orders, and + and
    // max are commutative), in four dependent steps with no trip through a scalar.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> SumAll(Vector512<T> x)
    {
        if (typeof(T) == typeof(float))
        {
            var v = x.As<T, float>();
            v += Vector512.Shuffle(v, Vector512.Create(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7));
            v += Vector512.Shuffle(v, Vector512.Create(4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11));
            v += Vector512.Shuffle(v, Vector512.Create(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13));
            v += Vector512.Shuffle(v, Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14));
            return v.As<float, T>();
        }

        var d = x.As<T, double>();
        d += Vector512.Shuffle(d, Vector512.Create(4L, 5, 6, 7, 0, 1, 2, 3));
        d += Vector512.Shuffle(d, Vector512.Create(2L, 3, 0, 1, 6, 7, 4, 5));
        d += Vector512.Shuffle(d, Vector512.Create(1L, 0, 3, 2, 5, 4, 7, 6));
        return d.As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> MaxAll(Vector512<T> x)
    {
        if (typeof(T) == typeof(float))
        {
            var v = x.As<T, float>();
            v = Vector512.MaxNative(v, Vector512.Shuffle(v, Vector512.Create(8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)));
            v = Vector512.MaxNative(v, Vector512.Shuffle(v, Vector512.Create(4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11)));
            v = Vector512.MaxNative(v, Vector512.Shuffle(v, Vector512.Create(2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)));
            v = Vector512.MaxNative(v, Vector512.Shuffle(v, Vector512.Create(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14)));
            return v.As<float, T>();
        }

        var d = x.As<T, double>();
        d = Vector512.MaxNative(d, Vector512.Shuffle(d, Vector512.Create(4L, 5, 6, 7, 0, 1, 2, 3)));
        d = Vector512.MaxNative(d, Vector512.Shuffle(d, Vector512.Create(2L, 3, 0, 1, 6, 7, 4, 5)));
        d = Vector512.MaxNative(d, Vector512.Shuffle(d, Vector512.Create(1L, 0, 3, 2, 5, 4, 7, 6)));
        return d.As<double, T>();
    }
}

/// <summary><see cref="ISimd{TV, T}"/> over <see cref="Vector{T}"/> (any width the platform gives), for <see cref="float"/> and <see cref="double"/>.</summary>
internal readonly unsafe struct SimdVector<T> : ISimd<Vector<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector<T>.Count;

    public static bool CanStream => Vector<byte>.Count == 32 ? Avx.IsSupported : Vector<byte>.Count == 16 && Sse2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Load(T* source) => Vector.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector<T> value, T* destination) => value.Store(destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreAlignedNonTemporal(Vector<T> value, T* destination)
    {
        if (Vector<byte>.Count == 32)
        {
            value.AsVector256().StoreAlignedNonTemporal(destination);
        }
        else if (Vector<byte>.Count == 16)
        {
            value.AsVector128().StoreAlignedNonTemporal(destination);
        }
        else
        {
            value.Store(destination);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Create(T value) => Vector.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> LoadPartial(T* source, nuint count, T padding, T* pad)
    {
        if (Vector<byte>.Count == 32 && Avx.IsSupported)
        {
            // AVX's masked load (masked-off lanes never touch memory, and read as 0), then the padding blended in.
            var mask = Mask(count);
            var loaded = typeof(T) == typeof(float)
                ? Avx.MaskLoad((float*)source, mask.As<T, float>().AsVector256()).AsVector().As<float, T>()
                : Avx.MaskLoad((double*)source, mask.As<T, double>().AsVector256()).AsVector().As<double, T>();
            return Vector.ConditionalSelect(mask, loaded, Vector.Create(padding));
        }

        for (nuint lane = 0; lane < (nuint)Vector<T>.Count; lane++)
        {
            pad[lane] = lane < count ? source[lane] : padding;
        }

        return Vector.Load(pad);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(Vector<T> value, T* destination, nuint count, T* pad)
    {
        if (Vector<byte>.Count == 32 && Avx.IsSupported)
        {
            var mask = Mask(count);
            if (typeof(T) == typeof(float))
            {
                Avx.MaskStore((float*)destination, mask.As<T, float>().AsVector256(), value.As<T, float>().AsVector256());
            }
            else
            {
                Avx.MaskStore((double*)destination, mask.As<T, double>().AsVector256(), value.As<T, double>().AsVector256());
            }

            return;
        }

        value.Store(pad);
        for (nuint lane = 0; lane < count; lane++)
        {
            destination[lane] = pad[lane];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> FirstOr(Vector<T> x, nuint count, T other) => Vector.ConditionalSelect(Mask(count), x, Vector.Create(other));

    /// <summary>All bits set in the first <paramref name="count"/> lanes, clear in the others.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Mask(nuint count)
        => typeof(T) == typeof(float)
            ? Vector.LessThan(Vector<int>.Indices, Vector.Create((int)count)).As<int, T>()
            : Vector.LessThan(Vector<long>.Indices, Vector.Create((long)count)).As<long, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> NonZero(byte* source, nuint count, T* pad)
    {
        nuint lanes = Math.Min(count, (nuint)Count);
        if (typeof(T) == typeof(float) && Vector<float>.Count == 8 && Avx2.IsSupported && lanes == 8)
        {
            return (~Vector.Equals(Avx2.ConvertToVector256Int32(Vector128.CreateScalar(*(ulong*)source).AsByte()).AsVector(), Vector<int>.Zero)).As<int, T>();
        }

        // One lane at a time elsewhere: all bits set (-1) where the byte is not 0, in an integer of the lane's width.
        if (typeof(T) == typeof(float))
        {
            var bits = (int*)pad;
            for (int lane = 0; lane < Count; lane++)
            {
                bits[lane] = (nuint)lane < lanes && source[lane] != 0 ? -1 : 0;
            }
        }
        else
        {
            var bits = (long*)pad;
            for (int lane = 0; lane < Count; lane++)
            {
                bits[lane] = (nuint)lane < lanes && source[lane] != 0 ? -1L : 0L;
            }
        }

        return Vector.Load(pad);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Within(nuint first, int from, int to)
    {
        if (typeof(T) == typeof(float))
        {
            var index = Vector<int>.Indices + Vector.Create((int)first);
            return (Vector.GreaterThanOrEqual(index, Vector.Create(from)) & Vector.LessThan(index, Vector.Create(to))).As<int, T>();
        }

        var wide = Vector<long>.Indices + Vector.Create((long)first);
        return (Vector.GreaterThanOrEqual(wide, Vector.Create((long)from)) & Vector.LessThan(wide, Vector.Create((long)to))).As<long, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Add(Vector<T> x, Vector<T> y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Subtract(Vector<T> x, Vector<T> y) => x - y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Multiply(Vector<T> x, Vector<T> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Divide(Vector<T> x, Vector<T> y) => x / y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Equal(Vector<T> x, Vector<T> y) => Vector.Equals(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Select(Vector<T> mask, Vector<T> whereTrue, Vector<T> whereFalse) => Vector.ConditionalSelect(mask, whereTrue, whereFalse);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> MultiplyAdd(Vector<T> x, Vector<T> y, Vector<T> z)
    {
        if (typeof(T) == typeof(float))
        {
            return Vector.MultiplyAddEstimate(x.As<T, float>(), y.As<T, float>(), z.As<T, float>()).As<float, T>();
        }

        return Vector.MultiplyAddEstimate(x.As<T, double>(), y.As<T, double>(), z.As<T, double>()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Max(Vector<T> x, Vector<T> y) => Vector.MaxNative(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Exp(Vector<T> x)
    {
        if (typeof(T) == typeof(float))
        {
            return VectorExp.Exp(x.As<T, float>()).As<float, T>();
        }

        return VectorExp.Exp(x.As<T, double>()).As<double, T>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T First(Vector<T> x) => x.ToScalar();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Log(Vector<T> x)
        => typeof(T) == typeof(float) ? Vector.Log(x.As<T, float>()).As<float, T>() : Vector.Log(x.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Shift(Vector<T> max)
        => Vector.ConditionalSelect(Vector.Equals(max, Vector.Create(T.NegativeInfinity)), Vector<T>.Zero, max);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> SumAll(Vector<T> x) => Vector.Create(Vector.Sum(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> MaxAll(Vector<T> x) => Vector.Create(MaxAcross(x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T MaxAcross(Vector<T> x)
    {
        if (Vector<byte>.Count == 32)
        {
            return Lanes128<T>.Max(Vector128.MaxNative(x.AsVector256().GetLower(), x.AsVector256().GetUpper()));
        }

        if (Vector<byte>.Count == 16)
        {
            return Lanes128<T>.Max(x.AsVector128());
        }

        T max = x.GetElement(0);
        for (int lane = 1; lane < Vector<T>.Count; lane++)
        {
            T value = x.GetElement(lane);
            max = value > max ? value : max;
        }

        return max;
    }
}

/// <summary>Reductions over the lanes of a 128-bit vector, where both vector types' reductions end.</summary>
internal static class Lanes128<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// The native maximum of the lanes, halves folded onto each other: a loop over the lanes would spill the vector
    /// and branch on every lane's value.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Max(Vector128<T> x)
    {
        if (typeof(T) == typeof(float))
        {
            var q = x.As<T, float>();
            q = Vector128.MaxNative(q, Vector128.Shuffle(q, Vector128.Create(2, 3, 0, 1)));
            q = Vector128.MaxNative(q, Vector128.Shuffle(q, Vector128.Create(1, 0, 3, 2)));
            return T.CreateTruncating(q.ToScalar());
        }

        var d = x.As<T, double>();
        d = Vector128.MaxNative(d, Vector128.Shuffle(d, Vector128.Create(1L, 0L)));
        return T.CreateTruncating(d.ToScalar());
    }
}
