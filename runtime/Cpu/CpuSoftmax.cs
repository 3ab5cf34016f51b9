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

    /// <summary>
    /// B = the operation over the layout's reduced axes of z = scale · A (+ bias), −∞ where the mask or the causal mask
    /// excludes an element. <paramref name="mask"/> and <paramref name="bias"/> are read only where the layout has them
    /// (empty spans otherwise), with the lengths the generated method checked.
    /// </summary>
    public static void Forward<TLayout>(ReadOnlySpan<float> a, ReadOnlySpan<bool> mask, ReadOnlySpan<float> bias, Span<float> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
        => Run<float, Single, TLayout>(a, mask, bias, b, layout, scale, operation, logSumExp: false);

    /// <inheritdoc cref="Forward{TLayout}(ReadOnlySpan{float}, ReadOnlySpan{bool}, ReadOnlySpan{float}, Span{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Forward<TLayout>(ReadOnlySpan<double> a, ReadOnlySpan<bool> mask, ReadOnlySpan<double> bias, Span<double> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
        => Run<double, Double, TLayout>(a, mask, bias, b, layout, scale, operation, logSumExp: false);

    /// <inheritdoc cref="Forward{TLayout}(ReadOnlySpan{float}, ReadOnlySpan{bool}, ReadOnlySpan{float}, Span{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Forward<TLayout>(ReadOnlySpan<Half> a, ReadOnlySpan<bool> mask, ReadOnlySpan<Half> bias, Span<Half> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, ISoftmaxLayout
        => Run<Half, HalfElements, TLayout>(a, mask, bias, b, layout, scale, operation, logSumExp: false);

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

    /// <summary>
    /// One value per slice, max + log Σ exp(z − max) of z = scale · A (+ bias, −∞ where excluded), in the slices'
    /// row-major order.
    /// </summary>
    public static void LogSumExp<TLayout>(ReadOnlySpan<float> a, ReadOnlySpan<bool> mask, ReadOnlySpan<float> bias, Span<float> lse, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
        => Run<float, Single, TLayout>(a, mask, bias, lse, layout, scale, SoftmaxOperation.Softmax, logSumExp: true);

    /// <inheritdoc cref="LogSumExp{TLayout}(ReadOnlySpan{float}, ReadOnlySpan{bool}, ReadOnlySpan{float}, Span{float}, TLayout, float)"/>
    public static void LogSumExp<TLayout>(ReadOnlySpan<double> a, ReadOnlySpan<bool> mask, ReadOnlySpan<double> bias, Span<double> lse, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
        => Run<double, Double, TLayout>(a, mask, bias, lse, layout, scale, SoftmaxOperation.Softmax, logSumExp: true);

    /// <inheritdoc cref="LogSumExp{TLayout}(ReadOnlySpan{float}, ReadOnlySpan{bool}, ReadOnlySpan{float}, Span{float}, TLayout, float)"/>
    public static void LogSumExp<TLayout>(ReadOnlySpan<Half> a, ReadOnlySpan<bool> mask, ReadOnlySpan<Half> bias, Span<Half> lse, TLayout layout, float scale)
        where TLayout : struct, ISoftmaxLayout
        => Run<Half, HalfElements, TLayout>(a, mask, bias, lse, layout, scale, SoftmaxOperation.Softmax, logSumExp: true);

    /// <summary>Picks the operation and the input (plain, scaled, or placed for a layout with options), then runs the engine.</summary>
    private static unsafe void Run<TStorage, TElements, TLayout>(
        ReadOnlySpan<TStorage> a, ReadOnlySpan<bool> mask, ReadOnlySpan<TStorage> bias, Span<TStorage> output, TLayout layout, float scale, SoftmaxOperation operation, bool logSumExp)
        where TStorage : unmanaged
        where TElements : struct, IElements<TStorage>
        where TLayout : struct, ISoftmaxLayout
    {
        if (layout.HasMask || layout.HasBias || layout.HasCausal)
        {
            fixed (bool* entries = mask)
            fixed (TStorage* added = bias)
            {
                var input = new Placed<TLayout>(scale, (byte*)entries, added, layout);
                Run<TStorage, TElements, TLayout, Placed<TLayout>>(a, output, layout, input, operation, logSumExp);
            }
        }
        else if (scale == 1f)
        {
            Run<TStorage, TElements, TLayout, Logits>(a, output, layout, default, operation, logSumExp);
        }
        else
        {
            Run<TStorage, TElements, TLayout, Scaled>(a, output, layout, new Scaled(scale), operation, logSumExp);
        }
    }

    private static void Run<TStorage, TElements, TLayout, TInput>(
        ReadOnlySpan<TStorage> a, Span<TStorage> output, TLayout layout, TInput input, SoftmaxOperation operation, bool logSumExp)
        where TStorage : unmanaged
        where TElements : struct, IElements<TStorage>
        where TLayout : struct, ISoftmaxLayout
        where TInput : struct, IInput
    {
        if (logSumExp)
        {
            TElements.LogSumExp(a, output, layout, input);
        }
        else if (operation == SoftmaxOperation.LogSoftmax)
        {
            TElements.Forward<LogSoftmax, TLayout, TInput>(a, output, layout, input);
        }
        else
        {
            TElements.Forward<Softmax, TLayout, TInput>(a, output, layout, input);
        }
    }

    /// <summary>The engine's entries for one element type, so that the dispatch above is written once.</summary>
    private interface IElements<TStorage>
        where TStorage : unmanaged
    {
        static abstract void Forward<TOp, TLayout, TInput>(ReadOnlySpan<TStorage> a, Span<TStorage> b, TLayout layout, TInput input)
            where TOp : struct, IOperation
            where TLayout : struct, ISoftmaxLayout
            where TInput : struct, IInput;

        static abstract void LogSumExp<TLayout, TInput>(ReadOnlySpan<TStorage> a, Span<TStorage> lse, TLayout layout, TInput input)
            where TLayout : struct, ISoftmaxLayout
            where TInput : struct, IInput;
    }

    private readonly struct Single : IElements<float>
    {
        public static void Forward<TOp, TLayout, TInput>(ReadOnlySpan<float> a, Span<float> b, TLayout layout, TInput input)
            where TOp : struct, IOperation
            where TLayout : struct, ISoftmaxLayout
            where TInput : struct, IInput
            => CpuEngine<TOp>.Forward(a, b, layout, input);

        public static void LogSumExp<TLayout, TInput>(ReadOnlySpan<float> a, Span<float> lse, TLayout layout, TInput input)
            where TLayout : struct, ISoftmaxLayout
            where TInput : struct, IInput
            => CpuEngine<Softmax>.LogSumExp(a, lse, layout, input);
    }

    private readonly struct Double : IElements<double>
    {
        public static void Forward<TOp, TLayout, TInput>(ReadOnlySpan<double> a, Span<double> b, TLayout layout, TInput input)
            where TOp : struct, IOperation
            where TLayout : struct, ISoftmaxLayout
            where TInput : struct, IInput
            => CpuEngine<TOp>.Forward(a, b, layout, input);

        public static void LogSumExp<TLayout, TInput>(ReadOnlySpan<double> a, Span<double> lse, TLayout layout, TInput input)
            where TLayout : struct, ISoftmaxLayout
            where TInput : struct, IInput
            => CpuEngine<Softmax>.LogSumExp(a, lse, layout, input);
    }

    private readonly struct HalfElements : IElements<Half>
    {
        public static void Forward<TOp, TLayout, TInput>(ReadOnlySpan<Half> a, Span<Half> b, TLayout layout, TInput input)
            where TOp : struct, IOperation
            where TLayout : struct, ISoftmaxLayout
            where TInput : struct, IInput
            => CpuEngine<TOp>.Forward(a, b, layout, input);

        public static void LogSumExp<TLayout, TInput>(ReadOnlySpan<Half> a, Span<Half> lse, TLayout layout, TInput input)
            where TLayout : struct, ISoftmaxLayout
            where TInput : struct, IInput
            => CpuEngine<Softmax>.LogSumExp(a, lse, layout, input);
    }
}
