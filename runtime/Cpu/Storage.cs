using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

/// <summary>
/// How the CPU engine moves elements of type <typeparamref name="TStorage"/> in and out of vectors of its compute type
/// <typeparamref name="T"/>: the identity for float and double, a conversion for <see cref="Half"/> (computed in float).
/// Every kernel loads and stores through it, so one kernel serves every element type.
/// </summary>
internal unsafe interface IStorage<TStorage, T, TV>
    where TStorage : unmanaged
    where T : unmanaged
    where TV : unmanaged
{
    /// <summary>Whether <see cref="StoreNonTemporal"/> bypasses the caches (otherwise it is a plain store).</summary>
    static abstract bool CanStream { get; }

    static abstract TV Load(TStorage* source);

    /// <summary>One element as the compute type.</summary>
    static abstract T ToCompute(TStorage value);

    /// <summary>The first <paramref name="count"/> elements (fewer than a vector), the other lanes 0; nothing past them is read.</summary>
    static abstract TV LoadPartial(TStorage* source, nuint count, T* pad);

    static abstract void Store(TV value, TStorage* destination);

    /// <summary>Stores the first <paramref name="count"/> lanes; nothing past them is written.</summary>
    static abstract void StorePartial(TV value, TStorage* destination, nuint count, T* pad);

    /// <summary>Stores past the caches where <see cref="CanStream"/>, to a destination aligned to a vector's bytes.</summary>
    static abstract void StoreNonTemporal(TV value, TStorage* destination);
}

/// <summary>float or double held as themselves.</summary>
internal readonly unsafe struct Native<T, TV, TS> : IStorage<T, T, TV>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TV : unmanaged
    where TS : struct, ISimd<TV, T>
{
    public static bool CanStream => TS.CanStream;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T ToCompute(T value) => value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Load(T* source) => TS.Load(source);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV LoadPartial(T* source, nuint count, T* pad) => TS.LoadPartial(source, count, T.Zero, pad);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(TV value, T* destination) => TS.Store(value, destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(TV value, T* destination, nuint count, T* pad) => TS.StorePartial(value, destination, count, pad);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(TV value, T* destination) => TS.StoreAlignedNonTemporal(value, destination);
}

/// <summary><see cref="Half"/> elements computed in 512-bit vectors of float: sixteen moved at a time as 32 bytes.</summary>
internal readonly unsafe struct Half512 : IStorage<Half, float, Vector512<float>>
{
    public static bool CanStream => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToCompute(Half value) => (float)value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Load(Half* source) => HalfBits.ToSingle(Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)source)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadPartial(Half* source, nuint count, float* pad)
    {
        var bits = (ushort*)pad;
        Vector256<ushort>.Zero.Store(bits);
        Buffer.MemoryCopy(source, bits, 32, (long)count * sizeof(ushort));
        return Load((Half*)bits);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<float> value, Half* destination) => Narrow(value).Store((ushort*)destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(Vector512<float> value, Half* destination, nuint count, float* pad)
    {
        Narrow(value).Store((ushort*)pad);
        Buffer.MemoryCopy(pad, destination, (long)count * sizeof(ushort), (long)count * sizeof(ushort));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector512<float> value, Half* destination) => Narrow(value).StoreAlignedNonTemporal((ushort*)destination);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ushort> Narrow(Vector512<float> value) => Avx512F.ConvertToVector256UInt16(HalfBits.FromSingle(value));
}

/// <summary><see cref="Half"/> elements computed in <see cref="Vector{T}"/> of float (machines without AVX-512).</summary>
internal readonly unsafe struct HalfVector : IStorage<Half, float, Vector<float>>
{
    public static bool CanStream => Vector<byte>.Count == 32 && Sse2.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToCompute(Half value) => (float)value;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> Load(Half* source)
    {
        var bits = (ushort*)source;
        if (Vector<byte>.Count == 32)
        {
            var eight = Vector128.Load(bits);
            return HalfBits.ToSingle(Vector256.Create(Vector128.WidenLower(eight), Vector128.WidenUpper(eight)).AsVector());
        }

        if (Vector<byte>.Count == 16)
        {
            return HalfBits.ToSingle(Vector128.WidenLower(Vector64.Load(bits).ToVector128Unsafe()).AsVector());
        }

        Span<uint> wide = stackalloc uint[Vector<uint>.Count];
        for (int lane = 0; lane < wide.Length; lane++)
        {
            wide[lane] = bits[lane];
        }

        return HalfBits.ToSingle(new Vector<uint>(wide));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> LoadPartial(Half* source, nuint count, float* pad)
    {
        var bits = (ushort*)pad;
        new Span<ushort>(bits, Vector<float>.Count).Clear();
        Buffer.MemoryCopy(source, bits, Vector<float>.Count * sizeof(ushort), (long)count * sizeof(ushort));
        return Load((Half*)bits);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector<float> value, Half* destination)
    {
        var bits = HalfBits.FromSingle(value);
        var target = (ushort*)destination;
        if (Vector<byte>.Count == 32)
        {
            Vector128.Narrow(bits.AsVector256().GetLower(), bits.AsVector256().GetUpper()).Store(target);
            return;
        }

        for (int lane = 0; lane < Vector<uint>.Count; lane++)
        {
            target[lane] = (ushort)bits[lane];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StorePartial(Vector<float> value, Half* destination, nuint count, float* pad)
    {
        Store(value, (Half*)pad);
        Buffer.MemoryCopy(pad, destination, (long)count * sizeof(ushort), (long)count * sizeof(ushort));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreNonTemporal(Vector<float> value, Half* destination)
    {
        if (Vector<byte>.Count == 32 && Sse2.IsSupported)
        {
            var bits = HalfBits.FromSingle(value);
            Vector128.Narrow(bits.AsVector256().GetLower(), bits.AsVector256().GetUpper()).StoreAlignedNonTemporal((ushort*)destination);
            return;
        }

        Store(value, destination);
    }
}

/// <summary>
/// Conversions between the bits of IEEE half-precision numbers and float, lane by lane with no branches: exact from half,
/// rounded to nearest even into half (overflow to ±∞, NaN kept NaN), as <see cref="Half"/>'s own conversions. No step
/// takes or makes a subnormal float, which would cost a microcode assist per instruction (half subnormals are common:
/// most softmax outputs of a long row are below 2^-14).
/// </summary>
internal static class HalfBits
{
    private const uint SignBit = 0x8000_0000;

    /// <summary>Moves a half's exponent, placed in a float's field, from the half bias (15) to the float's (127).</summary>
    private const uint NormalBias = 112u << 23;

    /// <summary>Moves the half exponent field of ∞ and NaN (31) to the float's (255), keeping a NaN's payload.</summary>
    private const uint SpecialBias = 224u << 23;

    /// <summary>The half bits from which the exponent field is all ones (∞ or NaN).</summary>
    private const uint HalfSpecial = 0x7C00;

    /// <summary>The half bits below which a half is subnormal (or zero).</summary>
    private const uint HalfSubnormal = 0x0400;

    /// <summary>0.5f: a half subnormal's mantissa m ORed into its low bits gives 0.5 + m · 2^-24.</summary>
    private const uint OneHalf = 0x3F00_0000;

    /// <summary>|x| from this on (65 536) overflows half (values from 65 520 round up to it, through the normal path).</summary>
    private const uint Overflow = 143u << 23;

    /// <summary>|x| below this (2^-14) is subnormal in half.</summary>
    private const uint Subnormal = 113u << 23;

    /// <summary>0.5f: adding it leaves a half-subnormal's mantissa, rounded to nearest even, in the low bits.</summary>
    private const uint SubnormalMagic = 126u << 23;

    /// <summary>Moves a float's exponent to the half bias, with the rounding increment of the 13 bits that go.</summary>
    private const uint NormalRebias = unchecked((uint)((15 - 127) << 23) + 0xFFF);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToSingle(Vector512<uint> half)
    {
        var sign = Vector512.ShiftLeft(half & Vector512.Create(0x8000u), 16);
        var magnitude = half & Vector512.Create(0x7FFFu);
        var placed = Vector512.ShiftLeft(magnitude, 13);
        var subnormal = ((magnitude | Vector512.Create(OneHalf)).AsSingle() - Vector512.Create(0.5f)).AsUInt32();
        var value = Vector512.ConditionalSelect(Vector512.LessThan(magnitude, Vector512.Create(HalfSubnormal)), subnormal, placed + Vector512.Create(NormalBias));
        value = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(HalfSpecial)), placed + Vector512.Create(SpecialBias), value);
        return (value | sign).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<uint> FromSingle(Vector512<float> x)
    {
        var bits = x.AsUInt32();
        var sign = bits & Vector512.Create(SignBit);
        var magnitude = bits ^ sign;
        var special = Vector512.ConditionalSelect(
            Vector512.GreaterThan(magnitude, Vector512.Create(0x7F80_0000u)), Vector512.Create(0x7E00u), Vector512.Create(0x7C00u));
        var subnormal = (magnitude.AsSingle() + Vector512.Create(SubnormalMagic).AsSingle()).AsUInt32() - Vector512.Create(SubnormalMagic);
        var odd = Vector512.ShiftRightLogical(magnitude, 13) & Vector512<uint>.One;
        var normal = Vector512.ShiftRightLogical(magnitude + Vector512.Create(NormalRebias) + odd, 13);
        var half = Vector512.ConditionalSelect(Vector512.LessThan(magnitude, Vector512.Create(Subnormal)), subnormal, normal);
        half = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(magnitude, Vector512.Create(Overflow)), special, half);
        return half | Vector512.ShiftRightLogical(sign, 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<float> ToSingle(Vector<uint> half)
    {
        var sign = Vector.ShiftLeft(half & Vector.Create(0x8000u), 16);
        var magnitude = half & Vector.Create(0x7FFFu);
        var placed = Vector.ShiftLeft(magnitude, 13);
        var subnormal = ((magnitude | Vector.Create(OneHalf)).As<uint, float>() - Vector.Create(0.5f)).As<float, uint>();
        var value = Vector.ConditionalSelect(Vector.LessThan(magnitude, Vector.Create(HalfSubnormal)), subnormal, placed + Vector.Create(NormalBias));
        value = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(magnitude, Vector.Create(HalfSpecial)), placed + Vector.Create(SpecialBias), value);
        return (value | sign).As<uint, float>();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<uint> FromSingle(Vector<float> x)
    {
        var bits = x.As<float, uint>();
        var sign = bits & Vector.Create(SignBit);
        var magnitude = bits ^ sign;
        var special = Vector.ConditionalSelect(
            Vector.GreaterThan(magnitude, Vector.Create(0x7F80_0000u)), Vector.Create(0x7E00u), Vector.Create(0x7C00u));
        var subnormal = (magnitude.As<uint, float>() + Vector.Create(SubnormalMagic).As<uint, float>()).As<float, uint>() - Vector.Create(SubnormalMagic);
        var odd = Vector.ShiftRightLogical(magnitude, 13) & Vector<uint>.One;
        var normal = Vector.ShiftRightLogical(magnitude + Vector.Create(NormalRebias) + odd, 13);
        var half = Vector.ConditionalSelect(Vector.LessThan(magnitude, Vector.Create(Subnormal)), subnormal, normal);
        half = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(magnitude, Vector.Create(Overflow)), special, half);
        return half | Vector.ShiftRightLogical(sign, 16);
    }
}
