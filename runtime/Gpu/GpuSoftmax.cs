using System;
using System.Collections.Generic;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The ILGPU launchers that generated code calls, one entry per element type. Each call enqueues its kernel on the
/// stream (the Jacobian: a clearing of the matrix, then one kernel) and returns without synchronising. Arguments are
/// validated by the generated method (<see cref="SoftmaxArguments"/>) before these are called; <c>scale</c> multiplies
/// the logits (z = scale · A) and the backward's and Jacobian's results.
/// </summary>
/// <remarks>
/// The kernels need no ILGPU.Algorithms: any context works, e.g. <c>Context.CreateDefault()</c>. Kernels are compiled
/// on first use per accelerator, layout and operation, and cached until the accelerator is disposed.
/// </remarks>
public static class GpuSoftmax
{
    /// <summary>
    /// Enqueues B = the operation over the layout's reduced axes of z = scale · A (+ bias), −∞ where the mask (one byte
    /// per entry, 0 excluding) or the causal mask excludes an element. <paramref name="mask"/> and <paramref name="bias"/>
    /// are read only where the layout has them (empty views otherwise).
    /// </summary>
    public static void Forward<TLayout>(AcceleratorStream stream, ArrayView<float> a, ArrayView<byte> mask, ArrayView<float> bias, ArrayView<float> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (!layout.ApproximateGpuExp)
        {
            ForwardSingle<TLayout, GpuFloatMath<GpuExp>>(stream, a, mask, bias, b, layout, scale, operation);
        }
        else if (stream.Accelerator.AcceleratorType == AcceleratorType.Cuda)
        {
            ForwardSingle<TLayout, GpuFloatMath<GpuApproximateExp<CudaExp2>>>(stream, a, mask, bias, b, layout, scale, operation);
        }
        else
        {
            ForwardSingle<TLayout, GpuFloatMath<GpuApproximateExp<PortableExp2>>>(stream, a, mask, bias, b, layout, scale, operation);
        }
    }

    /// <inheritdoc cref="Forward{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{byte}, ArrayView{float}, ArrayView{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Forward<TLayout>(AcceleratorStream stream, ArrayView<double> a, ArrayView<byte> mask, ArrayView<double> bias, ArrayView<double> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, LogSoftmax>.Forward(stream, a, mask, bias, b, layout, scale);
        }
        else
        {
            GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, Softmax>.Forward(stream, a, mask, bias, b, layout, scale);
        }
    }

    /// <inheritdoc cref="Forward{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{byte}, ArrayView{float}, ArrayView{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Forward<TLayout>(AcceleratorStream stream, ArrayView<System.Half> a, ArrayView<byte> mask, ArrayView<System.Half> bias, ArrayView<System.Half> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (!layout.ApproximateGpuExp)
        {
            ForwardHalf<TLayout, GpuFloatMath<GpuExp>>(stream, a, mask, bias, b, layout, scale, operation);
        }
        else if (stream.Accelerator.AcceleratorType == AcceleratorType.Cuda)
        {
            ForwardHalf<TLayout, GpuFloatMath<GpuApproximateExp<CudaExp2>>>(stream, a, mask, bias, b, layout, scale, operation);
        }
        else
        {
            ForwardHalf<TLayout, GpuFloatMath<GpuApproximateExp<PortableExp2>>>(stream, a, mask, bias, b, layout, scale, operation);
        }
    }

    /// <summary>Enqueues the dense Jacobian at B: N × N entries, scale · ∂B_p/∂A_q within a slice, 0 across slices.</summary>
    public static void Jacobian<TLayout>(AcceleratorStream stream, ArrayView<float> b, ArrayView<float> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (!layout.ApproximateGpuExp)
        {
            JacobianSingle<TLayout, GpuFloatMath<GpuExp>>(stream, b, jacobian, layout, scale, operation);
        }
        else if (stream.Accelerator.AcceleratorType == AcceleratorType.Cuda)
        {
            JacobianSingle<TLayout, GpuFloatMath<GpuApproximateExp<CudaExp2>>>(stream, b, jacobian, layout, scale, operation);
        }
        else
        {
            JacobianSingle<TLayout, GpuFloatMath<GpuApproximateExp<PortableExp2>>>(stream, b, jacobian, layout, scale, operation);
        }
    }

    /// <inheritdoc cref="Jacobian{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Jacobian<TLayout>(AcceleratorStream stream, ArrayView<double> b, ArrayView<double> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, LogSoftmax>.Jacobian(stream, b, jacobian, layout, scale);
        }
        else
        {
            GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, Softmax>.Jacobian(stream, b, jacobian, layout, scale);
        }
    }

    /// <inheritdoc cref="Jacobian{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, TLayout, float, SoftmaxOperation)"/>
    public static void Jacobian<TLayout>(AcceleratorStream stream, ArrayView<System.Half> b, ArrayView<System.Half> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (!layout.ApproximateGpuExp)
        {
            JacobianHalf<TLayout, GpuFloatMath<GpuExp>>(stream, b, jacobian, layout, scale, operation);
        }
        else if (stream.Accelerator.AcceleratorType == AcceleratorType.Cuda)
        {
            JacobianHalf<TLayout, GpuFloatMath<GpuApproximateExp<CudaExp2>>>(stream, b, jacobian, layout, scale, operation);
        }
        else
        {
            JacobianHalf<TLayout, GpuFloatMath<GpuApproximateExp<PortableExp2>>>(stream, b, jacobian, layout, scale, operation);
        }
    }

    /// <summary>Enqueues dA = scale · the operation's pullback of each of the <paramref name="cotangents"/> tensors held back to back in dB.</summary>
    public static void Backward<TLayout>(AcceleratorStream stream, ArrayView<float> b, ArrayView<float> dB, ArrayView<float> dA, int cotangents, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (!layout.ApproximateGpuExp)
        {
            BackwardSingle<TLayout, GpuFloatMath<GpuExp>>(stream, b, dB, dA, cotangents, layout, scale, operation);
        }
        else if (stream.Accelerator.AcceleratorType == AcceleratorType.Cuda)
        {
            BackwardSingle<TLayout, GpuFloatMath<GpuApproximateExp<CudaExp2>>>(stream, b, dB, dA, cotangents, layout, scale, operation);
        }
        else
        {
            BackwardSingle<TLayout, GpuFloatMath<GpuApproximateExp<PortableExp2>>>(stream, b, dB, dA, cotangents, layout, scale, operation);
        }
    }

    /// <inheritdoc cref="Backward{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, int, TLayout, float, SoftmaxOperation)"/>
    public static void Backward<TLayout>(AcceleratorStream stream, ArrayView<double> b, ArrayView<double> dB, ArrayView<double> dA, int cotangents, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, LogSoftmax>.Backward(stream, b, dB, dA, cotangents, layout, scale);
        }
        else
        {
            GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, Softmax>.Backward(stream, b, dB, dA, cotangents, layout, scale);
        }
    }

    /// <inheritdoc cref="Backward{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, int, TLayout, float, SoftmaxOperation)"/>
    public static void Backward<TLayout>(AcceleratorStream stream, ArrayView<System.Half> b, ArrayView<System.Half> dB, ArrayView<System.Half> dA, int cotangents, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (!layout.ApproximateGpuExp)
        {
            BackwardHalf<TLayout, GpuFloatMath<GpuExp>>(stream, b, dB, dA, cotangents, layout, scale, operation);
        }
        else if (stream.Accelerator.AcceleratorType == AcceleratorType.Cuda)
        {
            BackwardHalf<TLayout, GpuFloatMath<GpuApproximateExp<CudaExp2>>>(stream, b, dB, dA, cotangents, layout, scale, operation);
        }
        else
        {
            BackwardHalf<TLayout, GpuFloatMath<GpuApproximateExp<PortableExp2>>>(stream, b, dB, dA, cotangents, layout, scale, operation);
        }
    }

    /// <summary>Enqueues one value per slice, max + log Σ exp(z − max) of z = scale · A, in the slices' row-major order.</summary>
    public static void LogSumExp<TLayout>(AcceleratorStream stream, ArrayView<float> a, ArrayView<byte> mask, ArrayView<float> bias, ArrayView<float> lse, TLayout layout, float scale)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (!layout.ApproximateGpuExp)
        {
            LogSumExpSingle<TLayout, GpuFloatMath<GpuExp>>(stream, a, mask, bias, lse, layout, scale);
        }
        else if (stream.Accelerator.AcceleratorType == AcceleratorType.Cuda)
        {
            LogSumExpSingle<TLayout, GpuFloatMath<GpuApproximateExp<CudaExp2>>>(stream, a, mask, bias, lse, layout, scale);
        }
        else
        {
            LogSumExpSingle<TLayout, GpuFloatMath<GpuApproximateExp<PortableExp2>>>(stream, a, mask, bias, lse, layout, scale);
        }
    }

    /// <inheritdoc cref="LogSumExp{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{byte}, ArrayView{float}, ArrayView{float}, TLayout, float)"/>
    public static void LogSumExp<TLayout>(AcceleratorStream stream, ArrayView<double> a, ArrayView<byte> mask, ArrayView<double> bias, ArrayView<double> lse, TLayout layout, float scale)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, Softmax>.LogSumExp(stream, a, mask, bias, lse, layout, scale);

    /// <inheritdoc cref="LogSumExp{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{byte}, ArrayView{float}, ArrayView{float}, TLayout, float)"/>
    public static void LogSumExp<TLayout>(AcceleratorStream stream, ArrayView<System.Half> a, ArrayView<byte> mask, ArrayView<System.Half> bias, ArrayView<System.Half> lse, TLayout layout, float scale)
        where TLayout : struct, IGpuSoftmaxLayout
    {
        if (!layout.ApproximateGpuExp)
        {
            LogSumExpHalf<TLayout, GpuFloatMath<GpuExp>>(stream, a, mask, bias, lse, layout, scale);
        }
        else if (stream.Accelerator.AcceleratorType == AcceleratorType.Cuda)
        {
            LogSumExpHalf<TLayout, GpuFloatMath<GpuApproximateExp<CudaExp2>>>(stream, a, mask, bias, lse, layout, scale);
        }
        else
        {
            LogSumExpHalf<TLayout, GpuFloatMath<GpuApproximateExp<PortableExp2>>>(stream, a, mask, bias, lse, layout, scale);
        }
    }

    // The float and Half entries above pick the accumulator arithmetic's exp from the layout and the accelerator:
    // GpuExp, or where the layout was declared with ApproximateGpuExp, GpuApproximateExp with ex2.approx on CUDA and
    // with its portable 2^u on other accelerators (CudaAsm.Emit exists only in PTX). These then pick the operation. Double has
    // one exp.
    private static void ForwardSingle<TLayout, TMath>(AcceleratorStream stream, ArrayView<float> a, ArrayView<byte> mask, ArrayView<float> bias, ArrayView<float> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
        where TMath : struct, IGpuMath<float>
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<float, float, GpuSingle, TMath, TLayout, LogSoftmax>.Forward(stream, a, mask, bias, b, layout, scale);
        }
        else
        {
            GpuLauncher<float, float, GpuSingle, TMath, TLayout, Softmax>.Forward(stream, a, mask, bias, b, layout, scale);
        }
    }

    private static void ForwardHalf<TLayout, TMath>(AcceleratorStream stream, ArrayView<System.Half> a, ArrayView<byte> mask, ArrayView<System.Half> bias, ArrayView<System.Half> b, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
        where TMath : struct, IGpuMath<float>
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<ILGPU.Half, float, GpuHalf, TMath, TLayout, LogSoftmax>.Forward(stream, a.Cast<ILGPU.Half>(), mask, bias.Cast<ILGPU.Half>(), b.Cast<ILGPU.Half>(), layout, scale);
        }
        else
        {
            GpuLauncher<ILGPU.Half, float, GpuHalf, TMath, TLayout, Softmax>.Forward(stream, a.Cast<ILGPU.Half>(), mask, bias.Cast<ILGPU.Half>(), b.Cast<ILGPU.Half>(), layout, scale);
        }
    }

    private static void JacobianSingle<TLayout, TMath>(AcceleratorStream stream, ArrayView<float> b, ArrayView<float> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
        where TMath : struct, IGpuMath<float>
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<float, float, GpuSingle, TMath, TLayout, LogSoftmax>.Jacobian(stream, b, jacobian, layout, scale);
        }
        else
        {
            GpuLauncher<float, float, GpuSingle, TMath, TLayout, Softmax>.Jacobian(stream, b, jacobian, layout, scale);
        }
    }

    private static void JacobianHalf<TLayout, TMath>(AcceleratorStream stream, ArrayView<System.Half> b, ArrayView<System.Half> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
        where TMath : struct, IGpuMath<float>
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<ILGPU.Half, float, GpuHalf, TMath, TLayout, LogSoftmax>.Jacobian(stream, b.Cast<ILGPU.Half>(), jacobian.Cast<ILGPU.Half>(), layout, scale);
        }
        else
        {
            GpuLauncher<ILGPU.Half, float, GpuHalf, TMath, TLayout, Softmax>.Jacobian(stream, b.Cast<ILGPU.Half>(), jacobian.Cast<ILGPU.Half>(), layout, scale);
        }
    }

    private static void BackwardSingle<TLayout, TMath>(AcceleratorStream stream, ArrayView<float> b, ArrayView<float> dB, ArrayView<float> dA, int cotangents, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
        where TMath : struct, IGpuMath<float>
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<float, float, GpuSingle, TMath, TLayout, LogSoftmax>.Backward(stream, b, dB, dA, cotangents, layout, scale);
        }
        else
        {
            GpuLauncher<float, float, GpuSingle, TMath, TLayout, Softmax>.Backward(stream, b, dB, dA, cotangents, layout, scale);
        }
    }

    private static void BackwardHalf<TLayout, TMath>(AcceleratorStream stream, ArrayView<System.Half> b, ArrayView<System.Half> dB, ArrayView<System.Half> dA, int cotangents, TLayout layout, float scale, SoftmaxOperation operation)
        where TLayout : struct, IGpuSoftmaxLayout
        where TMath : struct, IGpuMath<float>
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            GpuLauncher<ILGPU.Half, float, GpuHalf, TMath, TLayout, LogSoftmax>.Backward(stream, b.Cast<ILGPU.Half>(), dB.Cast<ILGPU.Half>(), dA.Cast<ILGPU.Half>(), cotangents, layout, scale);
        }
        else
        {
            GpuLauncher<ILGPU.Half, float, GpuHalf, TMath, TLayout, Softmax>.Backward(stream, b.Cast<ILGPU.Half>(), dB.Cast<ILGPU.Half>(), dA.Cast<ILGPU.Half>(), cotangents, layout, scale);
        }
    }

    private static void LogSumExpSingle<TLayout, TMath>(AcceleratorStream stream, ArrayView<float> a, ArrayView<byte> mask, ArrayView<float> bias, ArrayView<float> lse, TLayout layout, float scale)
        where TLayout : struct, IGpuSoftmaxLayout
        where TMath : struct, IGpuMath<float>
        => GpuLauncher<float, float, GpuSingle, TMath, TLayout, Softmax>.LogSumExp(stream, a, mask, bias, lse, layout, scale);

    private static void LogSumExpHalf<TLayout, TMath>(AcceleratorStream stream, ArrayView<System.Half> a, ArrayView<byte> mask, ArrayView<System.Half> bias, ArrayView<System.Half> lse, TLayout layout, float scale)
        where TLayout : struct, IGpuSoftmaxLayout
        where TMath : struct, IGpuMath<float>
        => GpuLauncher<ILGPU.Half, float, GpuHalf, TMath, TLayout, Softmax>.LogSumExp(stream, a.Cast<ILGPU.Half>(), mask, bias.Cast<ILGPU.Half>(), lse.Cast<ILGPU.Half>(), layout, scale);
}

/// <summary>Loads (through <see cref="KernelCache"/>) and launches the kernel that <see cref="GpuLaunch"/> picks.</summary>
internal static class GpuLauncher<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
    where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
    where TMath : struct, IGpuMath<TAccumulator>
    where TLayout : struct, IGpuSoftmaxLayout
    where TOp : struct, IGpuOperation
{
    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardLanes =
        GpuKernels.ForwardLanes<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardLanesCached =
        GpuKernels.ForwardLanesCached<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardWarp =
        GpuKernels.ForwardSlicesWarp<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardCached =
        GpuKernels.ForwardSlicesCached<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardWarpCached =
        GpuKernels.ForwardSlicesWarpCached<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardStreamed =
        GpuKernels.ForwardSlicesOnline<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>> BackwardLanes =
        GpuKernels.BackwardLanes<TStorage, TAccumulator, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>> BackwardLanesCached =
        GpuKernels.BackwardLanesCached<TStorage, TAccumulator, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>> BackwardWarp =
        GpuKernels.BackwardSlicesWarp<TStorage, TAccumulator, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, int, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>> BackwardCached =
        GpuKernels.BackwardSlicesCached<TStorage, TAccumulator, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, int, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>> BackwardWarpCached =
        GpuKernels.BackwardSlicesWarpCached<TStorage, TAccumulator, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>> BackwardStreamed =
        GpuKernels.BackwardSlicesGlobal<TStorage, TAccumulator, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>, TMath, TLayout, TOp>;

    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>> JacobianEntries =
        GpuKernels.Jacobian<TStorage, TAccumulator, GpuScaledStores<TStorage, TAccumulator, TElement, TMath>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> LogSumExpGroups =
        GpuKernels.LogSumExpSlices<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout>;

    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> LogSumExpThreads =
        GpuKernels.LogSumExpLanes<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout>;

    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardLanesEight =
        GpuKernels.ForwardLanesEight<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardLanesSplit =
        GpuKernels.ForwardLanesSplit<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, TAccumulator> BackwardLanesEight =
        GpuKernels.BackwardLanesEight<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> LogSumExpLanesEight =
        GpuKernels.LogSumExpLanesEight<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardRowsCached =
        GpuKernels.ForwardRowsCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardRowsCachedAsStored =
        GpuKernels.ForwardRowsCachedAsStored<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardRowsOnline =
        GpuKernels.ForwardRowsOnline<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, int, TAccumulator> BackwardRows =
        GpuKernels.BackwardRows<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> ForwardRowsWarp =
        GpuKernels.ForwardRowsWarp<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> LogSumExpRowsWarp =
        GpuKernels.LogSumExpRowsWarp<TStorage, TAccumulator, TElement, TMath, TLayout>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>> LogSumExpRowsOnline =
        GpuKernels.LogSumExpRowsOnline<TStorage, TAccumulator, GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout>, TMath, TLayout>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, int, TAccumulator> BackwardRowsWarp =
        GpuKernels.BackwardRowsWarp<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    /// <summary>Every kernel this launcher may load, each as instantiated for it: what ahead-of-time compilation must cover.</summary>
    internal static IReadOnlyList<Delegate> Kernels =>
    [
        ForwardLanes, ForwardLanesCached, ForwardWarp, ForwardWarpCached, ForwardCached, ForwardStreamed,
        BackwardLanes, BackwardLanesCached, BackwardWarp, BackwardWarpCached, BackwardCached, BackwardStreamed,
        JacobianEntries, LogSumExpGroups, LogSumExpThreads,
        ForwardRowsCached, ForwardRowsCachedAsStored, ForwardRowsOnline, BackwardRows, ForwardRowsWarp, BackwardRowsWarp, ForwardLanesEight,
        ForwardLanesSplit, BackwardLanesEight, LogSumExpLanesEight,
        LogSumExpRowsWarp, LogSumExpRowsOnline,
    ];

    public static void Jacobian(AcceleratorStream stream, ArrayView<TStorage> b, ArrayView<TStorage> jacobian, TLayout layout, float scale)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        if (layout.SliceCount > 1)
        {
            jacobian.MemSetToZero(stream); // the entries across slices; the kernel writes those within them
        }

        var kernel = KernelCache.Get(accelerator, JacobianEntries, static owner => owner.LoadAutoGroupedKernel(JacobianEntries));
        kernel(stream, layout.SliceCount * layout.SliceLength * layout.SliceLength, b, jacobian, layout, ScaledStores(scale));
    }

    public static void Forward(AcceleratorStream stream, ArrayView<TStorage> a, ArrayView<byte> mask, ArrayView<TStorage> bias, ArrayView<TStorage> b, TLayout layout, float scale)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        RequireSliceLength(layout);
        var device = GpuDevice.Of(accelerator);
        var launch = GpuLaunch.Choose(device, layout.LanesInner, layout.SliceCount, layout.SliceLength, Unsafe.SizeOf<TAccumulator>(), Unsafe.SizeOf<TStorage>(), backward: false, runs: layout.RunCount);

        // Aligned rows move 16 bytes at a time, with or without options: the row kernels take A's logits eight at a
        // time through GpuInputLoads, which applies the scale, the bias and the exclusions to the eight in registers
        // (the bias eight at a time too where its view is aligned, the mask as one word where it can be).
        bool rows = GpuRows.Fit(layout, Unsafe.SizeOf<TStorage>()) && GpuRows.Aligned(a) && GpuRows.Aligned(b);
        if (rows && GpuLaunch.WarpRows(device, layout.SliceCount, layout.SliceLength) is { } warpRows)
        {
            EngineDiagnostics.CountLaunch(GpuStrategy.WarpRows);
            EngineDiagnostics.CountRowLaunch();
            var registers = KernelCache.Get(accelerator, ForwardRowsWarp, static owner => owner.LoadKernel(ForwardRowsWarp));
            registers(stream, Config<TAccumulator>(warpRows), a, b, layout, warpRows.Lanes, Loads(scale, mask, bias, layout));
            return;
        }

        // Only the row kernel keeps A as stored (GpuLaunch.CacheStored): other slices too long for accumulators stream.
        if (launch.CacheStored && !rows)
        {
            launch = launch.Streaming();
        }

        // Shared memory past 48 KB needs the cached kernel's limit raised; where the driver refuses, the call streams.
        if (launch.SharedOptIn)
        {
            var cachedKernel = !rows ? ForwardCached : launch.CacheStored ? ForwardRowsCachedAsStored : ForwardRowsCached;
            launch = launch.OptedIn(GpuSharedMemory.Raise(accelerator, KernelCache.Get(accelerator, cachedKernel, owner => owner.LoadKernel(cachedKernel)), Unsafe.SizeOf<TAccumulator>()));
        }

        // Aligned lanes in whole groups of eight, where the cached lanes kernel would give a group few lanes: the
        // group's warps split each block of lanes' runs (GpuLaunch.LanesSplit).
        if (GpuLanes.Fit(layout) && GpuRows.Aligned(a) && GpuRows.Aligned(b) && GpuLaunch.LanesSplit(device, launch, layout.SliceCount, layout.RunCount) is { } split)
        {
            EngineDiagnostics.CountLaunch(GpuStrategy.LanesSplit);
            EngineDiagnostics.CountLaneVectorLaunch();
            var splitKernel = KernelCache.Get(accelerator, ForwardLanesSplit, static owner => owner.LoadKernel(ForwardLanesSplit));
            splitKernel(stream, Config<TAccumulator>(split), a, b, layout, Loads(scale, mask, bias, layout));
            return;
        }

        EngineDiagnostics.CountLaunch(launch.Strategy);
        if (launch.Strategy == GpuStrategy.Lanes)
        {
            // Lanes in whole groups of eight, with A and B on 16-byte boundaries: eight adjacent slices a thread, moved
            // with 16-byte loads and stores, the options applied to each eight in registers, the same results
            // (GpuLanes).
            if (GpuLanes.Fit(layout) && GpuRows.Aligned(a) && GpuRows.Aligned(b))
            {
                EngineDiagnostics.CountLaneVectorLaunch();
                var eight = KernelCache.Get(accelerator, ForwardLanesEight, static owner => owner.LoadAutoGroupedKernel(ForwardLanesEight));
                eight(stream, layout.SliceCount / GpuKernels.LanesPerThread, a, b, layout, Loads(scale, mask, bias, layout));
                return;
            }

            var lanes = KernelCache.Get(accelerator, ForwardLanes, static owner => owner.LoadAutoGroupedKernel(ForwardLanes));
            lanes(stream, layout.SliceCount, a, b, layout, Loads(scale, mask, bias, layout));
            return;
        }

        if (rows && launch.Strategy is GpuStrategy.Cached or GpuStrategy.Streamed)
        {
            EngineDiagnostics.CountRowLaunch();
            var rowKernel = launch.Strategy != GpuStrategy.Cached ? ForwardRowsOnline : launch.CacheStored ? ForwardRowsCachedAsStored : ForwardRowsCached;
            var rowLauncher = KernelCache.Get(accelerator, rowKernel, owner => owner.LoadKernel(rowKernel));
            rowLauncher(stream, launch.CacheStored ? Config<TStorage>(launch) : Config<TAccumulator>(launch), a, b, layout, Loads(scale, mask, bias, layout));
            return;
        }

        var kernel = launch.Strategy switch
        {
            GpuStrategy.LanesCached => ForwardLanesCached,
            GpuStrategy.Warp => ForwardWarp,
            GpuStrategy.WarpCached => ForwardWarpCached,
            GpuStrategy.Cached => ForwardCached,
            _ => ForwardStreamed,
        };
        var launcher = KernelCache.Get(accelerator, kernel, owner => owner.LoadKernel(kernel));
        launcher(stream, Config<TAccumulator>(launch), a, b, layout, Loads(scale, mask, bias, layout));
    }

    public static void Backward(AcceleratorStream stream, ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, int cotangents, TLayout layout, float scale)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        RequireSliceLength(layout);
        var device = GpuDevice.Of(accelerator);
        var launch = GpuLaunch.Choose(device, layout.LanesInner, layout.SliceCount, layout.SliceLength, Unsafe.SizeOf<TAccumulator>(), Unsafe.SizeOf<TStorage>(), backward: true, runs: layout.RunCount);
        bool rows = GpuRows.Fit(layout, Unsafe.SizeOf<TStorage>()) && GpuRows.Aligned(b) && GpuRows.Aligned(dB) && GpuRows.Aligned(dA);
        if (rows && GpuLaunch.WarpRows(device, layout.SliceCount, layout.SliceLength) is { } warpRows)
        {
            EngineDiagnostics.CountLaunch(GpuStrategy.WarpRows);
            EngineDiagnostics.CountRowLaunch();
            var registers = KernelCache.Get(accelerator, BackwardRowsWarp, static owner => owner.LoadKernel(BackwardRowsWarp));
            registers(stream, Config<TAccumulator>(warpRows), b, dB, dA, layout, cotangents, warpRows.Lanes, default(TMath).FromSingle(scale));
            return;
        }

        // Shared memory past 48 KB needs the cached kernel's limit raised; where the driver refuses, the call streams.
        if (launch.SharedOptIn)
        {
            launch = launch.OptedIn(rows
                ? GpuSharedMemory.Raise(accelerator, KernelCache.Get(accelerator, BackwardRows, static owner => owner.LoadKernel(BackwardRows)), Unsafe.SizeOf<TAccumulator>())
                : GpuSharedMemory.Raise(accelerator, KernelCache.Get(accelerator, BackwardCached, static owner => owner.LoadKernel(BackwardCached)), Unsafe.SizeOf<TAccumulator>()));
        }

        EngineDiagnostics.CountLaunch(launch.Strategy);
        if (launch.Strategy == GpuStrategy.Lanes)
        {
            // As forward: lanes in whole groups of eight with B, dB and dA on 16-byte boundaries take eight adjacent
            // slices a thread (GpuLanes).
            if (GpuLanes.Fit(layout) && GpuRows.Aligned(b) && GpuRows.Aligned(dB) && GpuRows.Aligned(dA))
            {
                EngineDiagnostics.CountLaneVectorLaunch();
                var eight = KernelCache.Get(accelerator, BackwardLanesEight, static owner => owner.LoadAutoGroupedKernel(BackwardLanesEight));
                eight(stream, layout.SliceCount / GpuKernels.LanesPerThread, b, dB, dA, layout, cotangents, default(TMath).FromSingle(scale));
                return;
            }

            var lanes = KernelCache.Get(accelerator, BackwardLanes, static owner => owner.LoadAutoGroupedKernel(BackwardLanes));
            lanes(stream, layout.SliceCount, b, dB, dA, layout, cotangents, ScaledStores(scale));
            return;
        }

        // Aligned rows move 16 bytes at a time: B kept in shared memory as the element kernel keeps it, or, for rows
        // too long for it, read from device memory in both passes. The element kernel for those long rows reads B once
        // for four cotangents, so with more than one cotangent it stays the better choice there.
        if (rows && (launch.Strategy == GpuStrategy.Cached || (launch.Strategy == GpuStrategy.Streamed && cotangents == 1)))
        {
            EngineDiagnostics.CountRowLaunch();
            int cached = launch.Strategy != GpuStrategy.Cached ? 0 : launch.CotangentCached ? 2 : 1;
            var rowLauncher = KernelCache.Get(accelerator, BackwardRows, static owner => owner.LoadKernel(BackwardRows));
            rowLauncher(stream, Config<TStorage>(launch), b, dB, dA, layout, cotangents, cached, default(TMath).FromSingle(scale));
            return;
        }

        if (launch.Strategy == GpuStrategy.Cached)
        {
            var cached = KernelCache.Get(accelerator, BackwardCached, static owner => owner.LoadKernel(BackwardCached));
            cached(stream, Config<TStorage>(launch), b, dB, dA, layout, cotangents, launch.CotangentCached ? 1 : 0, ScaledStores(scale));
            return;
        }

        if (launch.Strategy == GpuStrategy.WarpCached)
        {
            var warpCached = KernelCache.Get(accelerator, BackwardWarpCached, static owner => owner.LoadKernel(BackwardWarpCached));
            warpCached(stream, Config<TStorage>(launch), b, dB, dA, layout, cotangents, launch.CotangentCached ? 1 : 0, ScaledStores(scale));
            return;
        }

        var kernel = launch.Strategy switch
        {
            GpuStrategy.LanesCached => BackwardLanesCached,
            GpuStrategy.Warp => BackwardWarp,
            _ => BackwardStreamed,
        };
        var launcher = KernelCache.Get(accelerator, kernel, owner => owner.LoadKernel(kernel));
        launcher(stream, Config<TAccumulator>(launch), b, dB, dA, layout, cotangents, ScaledStores(scale));
    }

    /// <summary>
    /// One value per slice: a group per slice where the last axis is reduced, a thread per slice (coalesced across the
    /// group) where it is a batch axis. Aligned rows (A's view on a 16-byte boundary; the values are stored one at a
    /// time) take the row kernels, options included: a run of lanes per row, the row in registers, for rows that fit
    /// (<see cref="GpuLaunch.WarpRows"/>), otherwise a group per row as for any slice.
    /// </summary>
    public static void LogSumExp(AcceleratorStream stream, ArrayView<TStorage> a, ArrayView<byte> mask, ArrayView<TStorage> bias, ArrayView<TStorage> lse, TLayout layout, float scale)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        RequireSliceLength(layout);
        if (layout.LanesInner)
        {
            // Lanes in whole groups of eight with A and the values on 16-byte boundaries: eight adjacent slices a
            // thread, as for the forward pass (GpuLanes).
            if (GpuLanes.Fit(layout) && GpuRows.Aligned(a) && GpuRows.Aligned(lse))
            {
                EngineDiagnostics.CountLaneVectorLaunch();
                var eight = KernelCache.Get(accelerator, LogSumExpLanesEight, static owner => owner.LoadAutoGroupedKernel(LogSumExpLanesEight));
                eight(stream, layout.SliceCount / GpuKernels.LanesPerThread, a, lse, layout, Loads(scale, mask, bias, layout));
                return;
            }

            var lanes = KernelCache.Get(accelerator, LogSumExpThreads, static owner => owner.LoadAutoGroupedKernel(LogSumExpThreads));
            lanes(stream, layout.SliceCount, a, lse, layout, Loads(scale, mask, bias, layout));
            return;
        }

        var device = GpuDevice.Of(accelerator);
        bool rows = GpuRows.Fit(layout, Unsafe.SizeOf<TStorage>()) && GpuRows.Aligned(a);
        if (rows && GpuLaunch.WarpRows(device, layout.SliceCount, layout.SliceLength) is { } warpRows)
        {
            EngineDiagnostics.CountLaunch(GpuStrategy.WarpRows);
            EngineDiagnostics.CountRowLaunch();
            var registers = KernelCache.Get(accelerator, LogSumExpRowsWarp, static owner => owner.LoadKernel(LogSumExpRowsWarp));
            registers(stream, Config<TAccumulator>(warpRows), a, lse, layout, warpRows.Lanes, Loads(scale, mask, bias, layout));
            return;
        }

        var launch = GpuLaunch.Choose(device, layout.LanesInner, layout.SliceCount, layout.SliceLength, Unsafe.SizeOf<TAccumulator>(), Unsafe.SizeOf<TStorage>(), backward: false, runs: 1);
        int warp = accelerator.WarpSize;
        int groupSize = Math.Max(2 * warp, Math.Min(launch.GroupSize, 8 * warp));
        var config = new KernelConfig(Math.Max(1, Math.Min(layout.SliceCount, accelerator.NumMultiprocessors * 8)), groupSize);
        if (rows)
        {
            EngineDiagnostics.CountRowLaunch();
        }

        var groups = rows ? LogSumExpRowsOnline : LogSumExpGroups;
        var kernel = KernelCache.Get(accelerator, groups, owner => owner.LoadKernel(groups));
        kernel(stream, config, a, lse, layout, Loads(scale, mask, bias, layout));
    }

    /// <summary>
    /// The forward loads of A with the options. For the eight-at-a-time loads of the row kernels (aligned rows) and the
    /// eight-wide lanes kernels (lanes in whole groups of eight): a bias contiguous along the last axis is loaded eight
    /// at a time where its view starts on a 16-byte boundary, a mask contiguous along it as one 8-byte word where the
    /// run length (a row's length, or the lane count) is a multiple of eight and its view starts on an 8-byte boundary.
    /// </summary>
    private static GpuInputLoads<TStorage, TAccumulator, TElement, TMath, TLayout> Loads(float scale, ArrayView<byte> mask, ArrayView<TStorage> bias, TLayout layout)
    {
        bool biasEight = layout.HasBias && layout.BiasRunStride == 1 && GpuRows.Aligned(bias);
        bool maskEight = layout.HasMask && layout.MaskRunStride == 1 && layout.InnerExtent % GpuKernels.RowUnit == 0 && GpuRows.AlignedTo(mask, 8);
        return new(default(TMath).FromSingle(scale), mask, bias, layout, biasEight ? 1 : 0, maskEight ? 1 : 0);
    }

    private static GpuScaledStores<TStorage, TAccumulator, TElement, TMath> ScaledStores(float scale) => new(default(TMath).FromSingle(scale));

    private static void RequireContextFor(Accelerator accelerator) => GpuContext.RequireDoubleArithmetic<TAccumulator>(accelerator, "A double softmax");

    /// <summary>
    /// The kernels step through a slice with int indices, up to eight group widths (8 · 1 024) at a time: a slice
    /// closer than that to int.MaxValue would wrap them. Refused before anything is enqueued.
    /// </summary>
    private static void RequireSliceLength(TLayout layout)
    {
        if (layout.SliceLength > GpuKernels.MaxSliceLength)
        {
            throw new ArgumentException(
                $"A slice of {layout.SliceLength} elements is too long for the GPU kernels, which take at most " +
                $"{GpuKernels.MaxSliceLength} (int.MaxValue less 8 192) per slice; use the CPU path for it.",
                "shape");
        }
    }

    private static KernelConfig Config<T>(GpuLaunch launch)
        where T : unmanaged
        => launch.SharedElements > 0
            ? new KernelConfig(launch.Groups, launch.GroupSize, SharedMemoryConfig.RequestDynamic<T>(launch.SharedElements))
            : new KernelConfig(launch.Groups, launch.GroupSize);
}
