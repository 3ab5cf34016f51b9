using System;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>What the launchers require of an accelerator's context.</summary>
internal static class GpuContext
{
    /// <summary>
    /// A context built with <see cref="MathMode.Fast32BitOnly"/> turns double arithmetic into float inside kernels: a
    /// double computation (<typeparamref name="TAccumulator"/> double) would silently lose its precision. Refused, before
    /// anything is enqueued; <paramref name="what"/> starts the message ("A double softmax", "Double attention").
    /// </summary>
    public static void RequireDoubleArithmetic<TAccumulator>(Accelerator accelerator, string what)
        where TAccumulator : unmanaged
    {
        if (typeof(TAccumulator) == typeof(double) && accelerator.Context.Properties.MathMode == MathMode.Fast32BitOnly)
        {
            throw new InvalidOperationException(
                $"{what} needs 64-bit arithmetic on the device, but this accelerator's context was built with " +
                "Math(MathMode.Fast32BitOnly), which computes doubles as floats. Build the context without it, e.g. " +
                "Context.Create(builder => builder.Default()), or use float data.");
        }
    }
}
