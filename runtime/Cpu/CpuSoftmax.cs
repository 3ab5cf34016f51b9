using System;
using System.Threading;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The CPU softmax kernels that generated code calls, one entry per element type. The layout argument is the
/// generated <see cref="ISoftmaxLayout"/> of the annotated class; arguments are validated by the generated
/// method (<see cref="SoftmaxArguments"/>) before these are called.
/// </summary>
public static class CpuSoftmax
{
    private static int maxDegreeOfParallelism = Environment.ProcessorCount;

    /// <summary>
    /// The most threads one call may use; by default the number of processors. Results are bitwise identical for
    /// any value: a slice is always computed whole, by the same code, on one thread.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is less than 1.</exception>
    public static int MaxDegreeOfParallelism
    {
        get => Volatile.Read(ref maxDegreeOfParallelism);
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            Volatile.Write(ref maxDegreeOfParallelism, value);
        }
    }

    /// <summary>B = softmax of A over the layout's reduced axes.</summary>
    public static void Forward<TLayout>(ReadOnlySpan<float> a, Span<float> b, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuEngine<Softmax>.Forward(a, b, layout, default(Logits));

    /// <inheritdoc cref="Forward{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout)"/>
    public static void Forward<TLayout>(ReadOnlySpan<double> a, Span<double> b, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuEngine<Softmax>.Forward(a, b, layout, default(Logits));

    /// <inheritdoc cref="Forward{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout)"/>
    public static void Forward<TLayout>(ReadOnlySpan<Half> a, Span<Half> b, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuEngine<Softmax>.Forward(a, b, layout, default(Logits));

    /// <summary>dA = B ∘ (dB - Σ_{s1} dB ∘ B) for each of the <paramref name="cotangents"/> tensors held back to back in dB.</summary>
    public static void Backward<TLayout>(ReadOnlySpan<float> b, ReadOnlySpan<float> dB, Span<float> dA, int cotangents, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuEngine<Softmax>.Backward(b, dB, dA, cotangents, layout);

    /// <inheritdoc cref="Backward{TLayout}(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, TLayout)"/>
    public static void Backward<TLayout>(ReadOnlySpan<double> b, ReadOnlySpan<double> dB, Span<double> dA, int cotangents, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuEngine<Softmax>.Backward(b, dB, dA, cotangents, layout);

    /// <inheritdoc cref="Backward{TLayout}(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, TLayout)"/>
    public static void Backward<TLayout>(ReadOnlySpan<Half> b, ReadOnlySpan<Half> dB, Span<Half> dA, int cotangents, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuEngine<Softmax>.Backward(b, dB, dA, cotangents, layout);

    /// <summary>The dense Jacobian ∂B/∂A, N × N row-major, from B.</summary>
    public static void Jacobian<TLayout>(ReadOnlySpan<float> b, Span<float> jacobian, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuJacobian<float, TLayout>.Write(b, jacobian, layout);

    /// <inheritdoc cref="Jacobian{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout)"/>
    public static void Jacobian<TLayout>(ReadOnlySpan<double> b, Span<double> jacobian, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuJacobian<double, TLayout>.Write(b, jacobian, layout);

    /// <inheritdoc cref="Jacobian{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout)"/>
    public static void Jacobian<TLayout>(ReadOnlySpan<Half> b, Span<Half> jacobian, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
        => CpuJacobian<Half, TLayout>.Write(b, jacobian, layout);
}
