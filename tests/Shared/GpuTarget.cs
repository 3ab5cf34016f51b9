using System;
using System.Linq;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Tests;

public delegate void GpuForwardMethod<T>(Accelerator accelerator, ArrayView<T> a, ArrayView<T> b, ReadOnlySpan<int> shape)
    where T : unmanaged;

public delegate void GpuBackwardMethod<T>(Accelerator accelerator, ArrayView<T> b, ArrayView<T> dB, ArrayView<T> dA, ReadOnlySpan<int> shape)
    where T : unmanaged;

public delegate void GpuJacobianMethod<T>(Accelerator accelerator, ArrayView<T> b, ArrayView<T> jacobian, ReadOnlySpan<int> shape)
    where T : unmanaged;

/// <summary>
/// A generated class's ILGPU launchers on one accelerator, seen as an <see cref="ITarget"/> so that the numerical suite
/// runs through them unchanged. Data goes to the device, outputs are poisoned with NaN on the device, and results come
/// back after a synchronisation.
/// </summary>
public sealed class GpuTarget<T> : ITarget
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Accelerator _accelerator;
    private readonly Target<T> _cpu;
    private readonly GpuForwardMethod<T> _forward;
    private readonly GpuBackwardMethod<T> _backward;
    private readonly GpuJacobianMethod<T> _jacobian;

    public GpuTarget(Accelerator accelerator, Target<T> cpu, GpuForwardMethod<T> forward, GpuBackwardMethod<T> backward, GpuJacobianMethod<T> jacobian)
    {
        _accelerator = accelerator;
        _cpu = cpu;
        _forward = forward;
        _backward = backward;
        _jacobian = jacobian;
    }

    public string Name => $"{_cpu.Name} on {_accelerator.AcceleratorType}";

    public int Rank => _cpu.Rank;

    public int[] Axes => _cpu.Axes;

    public string ElementName => _cpu.ElementName;

    public double Epsilon => _cpu.Epsilon;

    public double Tiny => _cpu.Tiny;

    public double[] Round(double[] values) => _cpu.Round(values);

    public Outcome Forward(double[] a, int[] shape, int? outputLength = null)
    {
        using var input = Upload(Elements<T>.From(a));
        using var output = Upload(Elements<T>.Poisoned(outputLength ?? a.Length));
        return Outcome.After(() => _forward(_accelerator, View(input), View(output), shape), () => Download(output));
    }

    public Outcome Backward(double[] b, double[] dB, int[] shape, int? outputLength = null)
    {
        using var forward = Upload(Elements<T>.From(b));
        using var cotangents = Upload(Elements<T>.From(dB));
        using var output = Upload(Elements<T>.Poisoned(outputLength ?? dB.Length));
        return Outcome.After(() => _backward(_accelerator, View(forward), View(cotangents), View(output), shape), () => Download(output));
    }

    public Outcome Jacobian(double[] b, int[] shape, int? outputLength = null)
    {
        using var input = Upload(Elements<T>.From(b));
        using var output = Upload(Elements<T>.Poisoned(outputLength ?? b.Length * b.Length));
        return Outcome.After(() => _jacobian(_accelerator, View(input), View(output), shape), () => Download(output));
    }

    public double[] ForwardInPlace(double[] a, int[] shape)
    {
        using var buffer = Upload(Elements<T>.From(a));
        _forward(_accelerator, View(buffer), View(buffer), shape);
        return Download(buffer);
    }

    public double[] BackwardInPlace(double[] b, double[] dB, int[] shape)
    {
        using var forward = Upload(Elements<T>.From(b));
        using var buffer = Upload(Elements<T>.From(dB));
        _backward(_accelerator, View(forward), View(buffer), View(buffer), shape);
        return Download(buffer);
    }

    public (Exception? Error, bool Changed) ForwardPartlyOverlapping(double[] a, int[] shape)
    {
        var initial = Elements<T>.From(a.Append(double.NaN).ToArray());
        using var buffer = Upload(initial);
        var view = View(buffer);
        var error = Elements<T>.Catch(() => _forward(_accelerator, view.SubView(0, a.Length), view.SubView(1, a.Length), shape));
        return (error, !Elements<T>.Same(initial, DownloadRaw(buffer)));
    }

    public (Exception? Error, bool Changed) BackwardOverlapping(double[] b, double[] dB, int[] shape, bool overB)
    {
        if (overB)
        {
            var initial = Elements<T>.From(b.Concat(dB).ToArray());
            using var buffer = Upload(initial);
            using var cotangents = Upload(Elements<T>.From(dB));
            var view = View(buffer);
            var error = Elements<T>.Catch(() => _backward(_accelerator, view.SubView(0, b.Length), View(cotangents), view.SubView(0, dB.Length), shape));
            return (error, !Elements<T>.Same(initial, DownloadRaw(buffer)));
        }
        else
        {
            var initial = Elements<T>.From(dB.Append(double.NaN).ToArray());
            using var buffer = Upload(initial);
            using var forward = Upload(Elements<T>.From(b));
            var view = View(buffer);
            var error = Elements<T>.Catch(() => _backward(_accelerator, View(forward), view.SubView(0, dB.Length), view.SubView(1, dB.Length), shape));
            return (error, !Elements<T>.Same(initial, DownloadRaw(buffer)));
        }
    }

    public (Exception? Error, bool Changed) JacobianOverlapping(double[] b, int[] shape)
    {
        // B and the Jacobian in one buffer, the Jacobian starting at B's last element.
        var initial = Elements<T>.From(b.Concat(Enumerable.Repeat(double.NaN, b.Length * b.Length - 1)).ToArray());
        using var buffer = Upload(initial);
        var view = View(buffer);
        var error = Elements<T>.Catch(() => _jacobian(_accelerator, view.SubView(0, b.Length), view.SubView(b.Length - 1, b.Length * b.Length), shape));
        return (error, !Elements<T>.Same(initial, DownloadRaw(buffer)));
    }

    public override string ToString() => Name;

    private MemoryBuffer1D<T, Stride1D.Dense>? Upload(T[] values) => values.Length == 0 ? null : _accelerator.Allocate1D(values);

    private static ArrayView<T> View(MemoryBuffer1D<T, Stride1D.Dense>? buffer) => buffer is null ? default : buffer.View;

    private double[] Download(MemoryBuffer1D<T, Stride1D.Dense>? buffer) => Elements<T>.ToDouble(DownloadRaw(buffer));

    private T[] DownloadRaw(MemoryBuffer1D<T, Stride1D.Dense>? buffer)
    {
        _accelerator.Synchronize();
        return buffer is null ? Array.Empty<T>() : buffer.GetAsArray1D();
    }
}
