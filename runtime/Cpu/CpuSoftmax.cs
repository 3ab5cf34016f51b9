using System;
using System.Threading;

namespace SoftmaxGen.Runtime;

/// <summary>Which operation of the softmax family a generated class computes.</summary>
public enum SoftmaxOperation
{
    /// <summary>B = exp(z − max) / Σ exp(z − max).</summary>
    Softmax,

    /// <summary>B = z − max − log Σ exp(z − max).</summary>
    LogSoftmax,
}

/// <summary>
/// The CPU kernels that generated code calls, one entry per element type. The layout argument is the generated
/// <see cref="ISoftmaxLayout"/> of the annotated class; arguments are validated by the generated method
/// (<see cref="SoftmaxArguments"/>) before these are called. <c>scale</c> multiplies the logits: z = scale · A.
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

    /// <summary>B = the operation over the layout's reduced axes of z = scale · A.</summary>
    public static void Forward<TLayout>(ReadOnlySpan<float> a, Span<float> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            if (scale == 1f)
            {
                CpuEngine<LogSoftmax>.Forward(a, b, layout, default(Logits));
            }
            else
            {
                CpuEngine<LogSoftmax>.Forward(a, b, layout, new Scaled(scale));
            }
        }
        else if (scale == 1f)
        {
            CpuEngine<Softmax>.Forward(a, b, layout, default(Logits));
        }
        else
        {
            CpuEngine<Softmax>.Forward(a, b, layout, new Scaled(scale));
        }
    }

    /// <inheritdoc cref="Forward{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Forward<TLayout>(ReadOnlySpan<double> a, Span<double> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            if (scale == 1f)
            {
                CpuEngine<LogSoftmax>.Forward(a, b, layout, default(Logits));
            }
            else
            {
                CpuEngine<LogSoftmax>.Forward(a, b, layout, new Scaled(scale));
            }
        }
        else if (scale == 1f)
        {
            CpuEngine<Softmax>.Forward(a, b, layout, default(Logits));
        }
        else
        {
            CpuEngine<Softmax>.Forward(a, b, layout, new Scaled(scale));
        }
    }

    /// <inheritdoc cref="Forward{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Forward<TLayout>(ReadOnlySpan<Half> a, Span<Half> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            if (scale == 1f)
            {
                CpuEngine<LogSoftmax>.Forward(a, b, layout, default(Logits));
            }
            else
            {
                CpuEngine<LogSoftmax>.Forward(a, b, layout, new Scaled(scale));
            }
        }
        else if (scale == 1f)
        {
            CpuEngine<Softmax>.Forward(a, b, layout, default(Logits));
        }
        else
        {
            CpuEngine<Softmax>.Forward(a, b, layout, new Scaled(scale));
        }
    }

    /// <summary>dA = scale · the operation's pullback of each of the <paramref name="cotangents"/> tensors held back to back in dB.</summary>
    public static void Backward<TLayout>(ReadOnlySpan<float> b, ReadOnlySpan<float> dB, Span<float> dA, int cotangents, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            CpuEngine<LogSoftmax>.Backward(b, dB, dA, cotangents, layout, scale);
        }
        else
        {
            CpuEngine<Softmax>.Backward(b, dB, dA, cotangents, layout, scale);
        }
    }

    /// <inheritdoc cref="Backward{TLayout}(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, TLayout, float, SoftmaxOperation)"/>
    public static void Backward<TLayout>(ReadOnlySpan<double> b, ReadOnlySpan<double> dB, Span<double> dA, int cotangents, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            CpuEngine<LogSoftmax>.Backward(b, dB, dA, cotangents, layout, scale);
        }
        else
        {
            CpuEngine<Softmax>.Backward(b, dB, dA, cotangents, layout, scale);
        }
    }

    /// <inheritdoc cref="Backward{TLayout}(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, TLayout, float, SoftmaxOperation)"/>
    public static void Backward<TLayout>(ReadOnlySpan<Half> b, ReadOnlySpan<Half> dB, Span<Half> dA, int cotangents, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            CpuEngine<LogSoftmax>.Backward(b, dB, dA, cotangents, layout, scale);
        }
        else
        {
            CpuEngine<Softmax>.Backward(b, dB, dA, cotangents, layout, scale);
        }
    }

    /// <summary>The dense Jacobian ∂B/∂A, N × N row-major, from B (scale · the operation's Jacobian in z).</summary>
    public static void Jacobian<TLayout>(ReadOnlySpan<float> b, Span<float> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
        => CpuJacobian<float, TLayout>.Write(b, jacobian, layout, scale, operation);

    /// <inheritdoc cref="Jacobian{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Jacobian<TLayout>(ReadOnlySpan<double> b, Span<double> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
        => CpuJacobian<double, TLayout>.Write(b, jacobian, layout, scale, operation);

    /// <inheritdoc cref="Jacobian{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Jacobian<TLayout>(ReadOnlySpan<Half> b, Span<Half> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
        => CpuJacobian<Half, TLayout>.Write(b, jacobian, layout, scale, operation);

    /// <summary>One value per slice, max + log Σ exp(z − max) of z = scale · A, in the slices' row-major order.</summary>
    public static void LogSumExp<TLayout>(ReadOnlySpan<float> a, Span<float> lse, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
    {
        if (scale == 1f)
        {
            CpuEngine<Softmax>.LogSumExp(a, lse, layout, default(Logits));
        }
        else
        {
            CpuEngine<Softmax>.LogSumExp(a, lse, layout, new Scaled(scale));
        }
    }

    /// <inheritdoc cref="LogSumExp{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout, float)"/>
    public static void LogSumExp<TLayout>(ReadOnlySpan<double> a, Span<double> lse, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
    {
        if (scale == 1f)
        {
            CpuEngine<Softmax>.LogSumExp(a, lse, layout, default(Logits));
        }
        else
        {
            CpuEngine<Softmax>.LogSumExp(a, lse, layout, new Scaled(scale));
        }
    }

    /// <inheritdoc cref="LogSumExp{TLayout}(ReadOnlySpan{float}, Span{float}, TLayout, float)"/>
    public static void LogSumExp<TLayout>(ReadOnlySpan<Half> a, Span<Half> lse, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
    {
        if (scale == 1f)
        {
            CpuEngine<Softmax>.LogSumExp(a, lse, layout, default(Logits));
        }
        else
        {
            CpuEngine<Softmax>.LogSumExp(a, lse, layout, new Scaled(scale));
        }
    }
}
