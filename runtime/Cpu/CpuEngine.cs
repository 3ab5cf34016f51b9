using System;
using System.Numerics;
using System.Runtime.Intrinsics;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Entry of the CPU engine for one operation: pins the spans and picks the kernels' element and vector types — the
/// widest accelerated vectors (<see cref="Vector512{T}"/>, else <see cref="Vector{T}"/>), float for <see cref="Half"/>.
/// </summary>
internal static unsafe class CpuEngine<TOp>
    where TOp : struct, IOperation
{
    public static void Forward<TLayout, TInput>(ReadOnlySpan<float> a, Span<float> b, TLayout layout, TInput input)
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
        => Forward<float, float, Native<float, Vector512<float>, Simd512<float>>, Native<float, Vector<float>, SimdVector<float>>, TLayout, TInput>(a, b, layout, input);

    public static void Forward<TLayout, TInput>(ReadOnlySpan<double> a, Span<double> b, TLayout layout, TInput input)
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
        => Forward<double, double, Native<double, Vector512<double>, Simd512<double>>, Native<double, Vector<double>, SimdVector<double>>, TLayout, TInput>(a, b, layout, input);

    public static void Forward<TLayout, TInput>(ReadOnlySpan<Half> a, Span<Half> b, TLayout layout, TInput input)
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
        => Forward<Half, float, Half512, HalfVector, TLayout, TInput>(a, b, layout, input);

    public static void Backward<TLayout>(ReadOnlySpan<float> b, ReadOnlySpan<float> dB, Span<float> dA, int cotangents, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
        => Backward<float, float, Native<float, Vector512<float>, Simd512<float>>, Native<float, Vector<float>, SimdVector<float>>, TLayout>(b, dB, dA, cotangents, layout, scale);

    public static void Backward<TLayout>(ReadOnlySpan<double> b, ReadOnlySpan<double> dB, Span<double> dA, int cotangents, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
        => Backward<double, double, Native<double, Vector512<double>, Simd512<double>>, Native<double, Vector<double>, SimdVector<double>>, TLayout>(b, dB, dA, cotangents, layout, scale);

    public static void Backward<TLayout>(ReadOnlySpan<Half> b, ReadOnlySpan<Half> dB, Span<Half> dA, int cotangents, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
        => Backward<Half, float, Half512, HalfVector, TLayout>(b, dB, dA, cotangents, layout, scale);

    public static void LogSumExp<TLayout, TInput>(ReadOnlySpan<float> a, Span<float> lse, TLayout layout, TInput input)
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
        => LogSumExp<float, float, Native<float, Vector512<float>, Simd512<float>>, Native<float, Vector<float>, SimdVector<float>>, TLayout, TInput>(a, lse, layout, input);

    public static void LogSumExp<TLayout, TInput>(ReadOnlySpan<double> a, Span<double> lse, TLayout layout, TInput input)
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
        => LogSumExp<double, double, Native<double, Vector512<double>, Simd512<double>>, Native<double, Vector<double>, SimdVector<double>>, TLayout, TInput>(a, lse, layout, input);

    public static void LogSumExp<TLayout, TInput>(ReadOnlySpan<Half> a, Span<Half> lse, TLayout layout, TInput input)
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
        => LogSumExp<Half, float, Half512, HalfVector, TLayout, TInput>(a, lse, layout, input);

    /// <summary>The forward for elements stored as <typeparamref name="TStorage"/>, computed as <typeparamref name="T"/>.</summary>
    private static void Forward<TStorage, T, TIO512, TIOVector, TLayout, TInput>(ReadOnlySpan<TStorage> a, Span<TStorage> b, TLayout layout, TInput input)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TIO512 : struct, IStorage<TStorage, T, Vector512<T>>
        where TIOVector : struct, IStorage<TStorage, T, Vector<T>>
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
    {
        if (a.IsEmpty)
        {
            return;
        }

        fixed (TStorage* source = a)
        fixed (TStorage* destination = b)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<TStorage, T, Vector512<T>, Simd512<T>, TIO512, TLayout, TOp, TInput>.Forward(source, destination, a.Length, layout, input);
            }
            else
            {
                CpuKernels<TStorage, T, Vector<T>, SimdVector<T>, TIOVector, TLayout, TOp, TInput>.Forward(source, destination, a.Length, layout, input);
            }
        }
    }

    /// <summary>The backward for elements stored as <typeparamref name="TStorage"/>, computed as <typeparamref name="T"/>.</summary>
    private static void Backward<TStorage, T, TIO512, TIOVector, TLayout>(ReadOnlySpan<TStorage> b, ReadOnlySpan<TStorage> dB, Span<TStorage> dA, int cotangents, TLayout layout, float scale)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TIO512 : struct, IStorage<TStorage, T, Vector512<T>>
        where TIOVector : struct, IStorage<TStorage, T, Vector<T>>
        where TLayout : struct, ISoftmaxLayout
    {
        if (b.IsEmpty)
        {
            return;
        }

        fixed (TStorage* output = b)
        fixed (TStorage* cotangent = dB)
        fixed (TStorage* destination = dA)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<TStorage, T, Vector512<T>, Simd512<T>, TIO512, TLayout, TOp, Logits>.Backward(output, cotangent, destination, b.Length, cotangents, layout, T.CreateTruncating(scale));
            }
            else
            {
                CpuKernels<TStorage, T, Vector<T>, SimdVector<T>, TIOVector, TLayout, TOp, Logits>.Backward(output, cotangent, destination, b.Length, cotangents, layout, T.CreateTruncating(scale));
            }
        }
    }

    /// <summary>The log-sum-exp for elements stored as <typeparamref name="TStorage"/>, computed as <typeparamref name="T"/>.</summary>
    private static void LogSumExp<TStorage, T, TIO512, TIOVector, TLayout, TInput>(ReadOnlySpan<TStorage> a, Span<TStorage> lse, TLayout layout, TInput input)
        where TStorage : unmanaged
        where T : unmanaged, IFloatingPointIeee754<T>
        where TIO512 : struct, IStorage<TStorage, T, Vector512<T>>
        where TIOVector : struct, IStorage<TStorage, T, Vector<T>>
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
    {
        if (lse.IsEmpty)
        {
            return;
        }

        if (a.IsEmpty)
        {
            // Slices with no elements: nothing is included in any of them.
            var empty = T.NegativeInfinity;
            lse.Fill(typeof(TStorage) == typeof(T) ? System.Runtime.CompilerServices.Unsafe.As<T, TStorage>(ref empty) : (TStorage)(object)Half.NegativeInfinity);
            return;
        }

        fixed (TStorage* source = a)
        fixed (TStorage* destination = lse)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<TStorage, T, Vector512<T>, Simd512<T>, TIO512, TLayout, TOp, TInput>.LogSumExp(source, destination, layout, input);
            }
            else
            {
                CpuKernels<TStorage, T, Vector<T>, SimdVector<T>, TIOVector, TLayout, TOp, TInput>.LogSumExp(source, destination, layout, input);
            }
        }
    }
}
