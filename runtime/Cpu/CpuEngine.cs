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
    {
        if (a.IsEmpty)
        {
            return;
        }

        fixed (float* source = a)
        fixed (float* destination = b)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<float, float, Vector512<float>, Simd512<float>, Native<float, Vector512<float>, Simd512<float>>, TLayout, TOp, TInput>
                    .Forward(source, destination, a.Length, layout, input);
            }
            else
            {
                CpuKernels<float, float, Vector<float>, SimdVector<float>, Native<float, Vector<float>, SimdVector<float>>, TLayout, TOp, TInput>
                    .Forward(source, destination, a.Length, layout, input);
            }
        }
    }

    public static void Forward<TLayout, TInput>(ReadOnlySpan<double> a, Span<double> b, TLayout layout, TInput input)
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
    {
        if (a.IsEmpty)
        {
            return;
        }

        fixed (double* source = a)
        fixed (double* destination = b)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<double, double, Vector512<double>, Simd512<double>, Native<double, Vector512<double>, Simd512<double>>, TLayout, TOp, TInput>
                    .Forward(source, destination, a.Length, layout, input);
            }
            else
            {
                CpuKernels<double, double, Vector<double>, SimdVector<double>, Native<double, Vector<double>, SimdVector<double>>, TLayout, TOp, TInput>
                    .Forward(source, destination, a.Length, layout, input);
            }
        }
    }

    public static void Forward<TLayout, TInput>(ReadOnlySpan<Half> a, Span<Half> b, TLayout layout, TInput input)
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
    {
        if (a.IsEmpty)
        {
            return;
        }

        fixed (Half* source = a)
        fixed (Half* destination = b)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<Half, float, Vector512<float>, Simd512<float>, Half512, TLayout, TOp, TInput>.Forward(source, destination, a.Length, layout, input);
            }
            else
            {
                CpuKernels<Half, float, Vector<float>, SimdVector<float>, HalfVector, TLayout, TOp, TInput>.Forward(source, destination, a.Length, layout, input);
            }
        }
    }

    public static void Backward<TLayout>(ReadOnlySpan<float> b, ReadOnlySpan<float> dB, Span<float> dA, int cotangents, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
    {
        if (b.IsEmpty)
        {
            return;
        }

        fixed (float* output = b)
        fixed (float* cotangent = dB)
        fixed (float* destination = dA)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<float, float, Vector512<float>, Simd512<float>, Native<float, Vector512<float>, Simd512<float>>, TLayout, TOp, Logits>
                    .Backward(output, cotangent, destination, b.Length, cotangents, layout);
            }
            else
            {
                CpuKernels<float, float, Vector<float>, SimdVector<float>, Native<float, Vector<float>, SimdVector<float>>, TLayout, TOp, Logits>
                    .Backward(output, cotangent, destination, b.Length, cotangents, layout);
            }
        }
    }

    public static void Backward<TLayout>(ReadOnlySpan<double> b, ReadOnlySpan<double> dB, Span<double> dA, int cotangents, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
    {
        if (b.IsEmpty)
        {
            return;
        }

        fixed (double* output = b)
        fixed (double* cotangent = dB)
        fixed (double* destination = dA)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<double, double, Vector512<double>, Simd512<double>, Native<double, Vector512<double>, Simd512<double>>, TLayout, TOp, Logits>
                    .Backward(output, cotangent, destination, b.Length, cotangents, layout);
            }
            else
            {
                CpuKernels<double, double, Vector<double>, SimdVector<double>, Native<double, Vector<double>, SimdVector<double>>, TLayout, TOp, Logits>
                    .Backward(output, cotangent, destination, b.Length, cotangents, layout);
            }
        }
    }

    public static void Backward<TLayout>(ReadOnlySpan<Half> b, ReadOnlySpan<Half> dB, Span<Half> dA, int cotangents, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
    {
        if (b.IsEmpty)
        {
            return;
        }

        fixed (Half* output = b)
        fixed (Half* cotangent = dB)
        fixed (Half* destination = dA)
        {
            if (EngineDiagnostics.Vector512)
            {
                CpuKernels<Half, float, Vector512<float>, Simd512<float>, Half512, TLayout, TOp, Logits>
                    .Backward(output, cotangent, destination, b.Length, cotangents, layout);
            }
            else
            {
                CpuKernels<Half, float, Vector<float>, SimdVector<float>, HalfVector, TLayout, TOp, Logits>
                    .Backward(output, cotangent, destination, b.Length, cotangents, layout);
            }
        }
    }
}
