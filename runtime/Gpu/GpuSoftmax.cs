using System;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The ILGPU launchers that generated code calls, one entry per element type. Each call enqueues one kernel on the
/// stream (the Jacobian: a clearing of the matrix, then one kernel) and returns without synchronising. Arguments are validated by the generated method
/// (<see cref="SoftmaxArguments"/>) before these are called.
/// </summary>
/// <remarks>
/// The kernels need no ILGPU.Algorithms: any context works, e.g. <c>Context.CreateDefault()</c>. Kernels are compiled
/// on first use per accelerator and layout, and cached until the accelerator is disposed.
/// </remarks>
public static class GpuSoftmax
{
    /// <summary>Enqueues B = softmax of A over the layout's reduced axes.</summary>
    public static void Forward<TLayout>(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<float, float, GpuSingle, GpuFloatMath, TLayout, Softmax>.Forward(stream, a, b, layout);

    /// <inheritdoc cref="Forward{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, TLayout)"/>
    public static void Forward<TLayout>(AcceleratorStream stream, ArrayView<double> a, ArrayView<double> b, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, Softmax>.Forward(stream, a, b, layout);

    /// <inheritdoc cref="Forward{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, TLayout)"/>
    public static void Forward<TLayout>(AcceleratorStream stream, ArrayView<System.Half> a, ArrayView<System.Half> b, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<ILGPU.Half, float, GpuHalf, GpuFloatMath, TLayout, Softmax>.Forward(stream, a.Cast<ILGPU.Half>(), b.Cast<ILGPU.Half>(), layout);

    /// <summary>Enqueues the dense Jacobian at B: N × N entries, [p · N + q] = B_p (δ_pq - B_q) within a slice, 0 across slices.</summary>
    public static void Jacobian<TLayout>(AcceleratorStream stream, ArrayView<float> b, ArrayView<float> jacobian, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<float, float, GpuSingle, GpuFloatMath, TLayout, Softmax>.Jacobian(stream, b, jacobian, layout);

    /// <inheritdoc cref="Jacobian{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, TLayout)"/>
    public static void Jacobian<TLayout>(AcceleratorStream stream, ArrayView<double> b, ArrayView<double> jacobian, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, Softmax>.Jacobian(stream, b, jacobian, layout);

    /// <inheritdoc cref="Jacobian{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, TLayout)"/>
    public static void Jacobian<TLayout>(AcceleratorStream stream, ArrayView<System.Half> b, ArrayView<System.Half> jacobian, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<ILGPU.Half, float, GpuHalf, GpuFloatMath, TLayout, Softmax>.Jacobian(stream, b.Cast<ILGPU.Half>(), jacobian.Cast<ILGPU.Half>(), layout);

    /// <summary>Enqueues dA = B ∘ (dB - Σ_{s1} dB ∘ B) for each of the <paramref name="cotangents"/> tensors held back to back in dB.</summary>
    public static void Backward<TLayout>(AcceleratorStream stream, ArrayView<float> b, ArrayView<float> dB, ArrayView<float> dA, int cotangents, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<float, float, GpuSingle, GpuFloatMath, TLayout, Softmax>.Backward(stream, b, dB, dA, cotangents, layout);

    /// <inheritdoc cref="Backward{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, int, TLayout)"/>
    public static void Backward<TLayout>(AcceleratorStream stream, ArrayView<double> b, ArrayView<double> dB, ArrayView<double> dA, int cotangents, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<double, double, GpuDouble, GpuDoubleMath, TLayout, Softmax>.Backward(stream, b, dB, dA, cotangents, layout);

    /// <inheritdoc cref="Backward{TLayout}(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, int, TLayout)"/>
    public static void Backward<TLayout>(AcceleratorStream stream, ArrayView<System.Half> b, ArrayView<System.Half> dB, ArrayView<System.Half> dA, int cotangents, TLayout layout)
        where TLayout : struct, IGpuSoftmaxLayout
        => GpuLauncher<ILGPU.Half, float, GpuHalf, GpuFloatMath, TLayout, Softmax>.Backward(stream, b.Cast<ILGPU.Half>(), dB.Cast<ILGPU.Half>(), dA.Cast<ILGPU.Half>(), cotangents, layout);
}

/// <summary>Loads (through <see cref="KernelCache"/>) and launches the kernel that <see cref="GpuLaunch"/> picks.</summary>
internal static class GpuLauncher<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>
    where TStorage : unmanaged
    where TAccumulator : unmanaged
    where TElement : struct, IGpuElement<TStorage, TAccumulator>
    where TMath : struct, IGpuMath<TAccumulator>
    where TLayout : struct, IGpuSoftmaxLayout
    where TOp : struct, IGpuOperation
{
    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, TLayout> ForwardLanes =
        GpuKernels.ForwardLanes<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout> ForwardLanesCached =
        GpuKernels.ForwardLanesCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout> ForwardWarp =
        GpuKernels.ForwardSlicesWarp<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout> ForwardCached =
        GpuKernels.ForwardSlicesCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, TLayout> ForwardStreamed =
        GpuKernels.ForwardSlicesOnline<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int> BackwardLanes =
        GpuKernels.BackwardLanes<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int> BackwardLanesCached =
        GpuKernels.BackwardLanesCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int> BackwardWarp =
        GpuKernels.BackwardSlicesWarp<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int, int> BackwardCached =
        GpuKernels.BackwardSlicesCached<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<ArrayView<TStorage>, ArrayView<TStorage>, ArrayView<TStorage>, TLayout, int> BackwardStreamed =
        GpuKernels.BackwardSlicesGlobal<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    private static readonly Action<Index1D, ArrayView<TStorage>, ArrayView<TStorage>, TLayout> JacobianEntries =
        GpuKernels.Jacobian<TStorage, TAccumulator, TElement, TMath, TLayout, TOp>;

    public static void Jacobian(AcceleratorStream stream, ArrayView<TStorage> b, ArrayView<TStorage> jacobian, TLayout layout)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        if (layout.SliceCount > 1)
        {
            jacobian.MemSetToZero(stream); // the entries across slices; the kernel writes those within them
        }

        var kernel = KernelCache.Get(accelerator, JacobianEntries, static owner => owner.LoadAutoGroupedKernel(JacobianEntries));
        kernel(stream, layout.SliceCount * layout.SliceLength * layout.SliceLength, b, jacobian, layout);
    }

    public static void Forward(AcceleratorStream stream, ArrayView<TStorage> a, ArrayView<TStorage> b, TLayout layout)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        RequireSliceLength(layout);
        var launch = GpuLaunch.Choose(accelerator, layout, Unsafe.SizeOf<TAccumulator>(), backward: false);
        EngineDiagnostics.CountLaunch(launch.Strategy);
        if (launch.Strategy == GpuStrategy.Lanes)
        {
            var lanes = KernelCache.Get(accelerator, ForwardLanes, static owner => owner.LoadAutoGroupedKernel(ForwardLanes));
            lanes(stream, layout.SliceCount, a, b, layout);
            return;
        }

        var kernel = launch.Strategy switch
        {
            GpuStrategy.LanesCached => ForwardLanesCached,
            GpuStrategy.Warp => ForwardWarp,
            GpuStrategy.Cached => ForwardCached,
            _ => ForwardStreamed,
        };
        var launcher = KernelCache.Get(accelerator, kernel, owner => owner.LoadKernel(kernel));
        launcher(stream, Config<TAccumulator>(launch), a, b, layout);
    }

    public static void Backward(AcceleratorStream stream, ArrayView<TStorage> b, ArrayView<TStorage> dB, ArrayView<TStorage> dA, int cotangents, TLayout layout)
    {
        var accelerator = stream.Accelerator;
        RequireContextFor(accelerator);
        RequireSliceLength(layout);
        var launch = GpuLaunch.Choose(accelerator, layout, Unsafe.SizeOf<TAccumulator>(), backward: true);
        EngineDiagnostics.CountLaunch(launch.Strategy);
        if (launch.Strategy == GpuStrategy.Lanes)
        {
            var lanes = KernelCache.Get(accelerator, BackwardLanes, static owner => owner.LoadAutoGroupedKernel(BackwardLanes));
            lanes(stream, layout.SliceCount, b, dB, dA, layout, cotangents);
            return;
        }

        if (launch.Strategy == GpuStrategy.Cached)
        {
            var cached = KernelCache.Get(accelerator, BackwardCached, static owner => owner.LoadKernel(BackwardCached));
            cached(stream, Config<TAccumulator>(launch), b, dB, dA, layout, cotangents, launch.CotangentCached ? 1 : 0);
            return;
        }

        var kernel = launch.Strategy switch
        {
            GpuStrategy.LanesCached => BackwardLanesCached,
            GpuStrategy.Warp => BackwardWarp,
            _ => BackwardStreamed,
        };
        var launcher = KernelCache.Get(accelerator, kernel, owner => owner.LoadKernel(kernel));
        launcher(stream, Config<TAccumulator>(launch), b, dB, dA, layout, cotangents);
    }

    /// <summary>
    /// A context built with <see cref="MathMode.Fast32BitOnly"/> turns double arithmetic into float inside kernels: a double
    /// softmax would silently lose its precision. Refuse it, before anything is enqueued.
    /// </summary>
    private static void RequireContextFor(Accelerator accelerator)
    {
        if (typeof(TAccumulator) == typeof(double) && accelerator.Context.Properties.MathMode == MathMode.Fast32BitOnly)
        {
            throw new InvalidOperationException(
                "A double softmax needs 64-bit arithmetic on the device, but this accelerator's context was built with " +
                "Math(MathMode.Fast32BitOnly), which computes doubles as floats. Build the context without it, e.g. " +
                "Context.Create(builder => builder.Default()), or use float data.");
        }
    }

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
