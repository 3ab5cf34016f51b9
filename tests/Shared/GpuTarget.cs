using System;
using System.Linq;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Tests;

public delegate void GpuForwardMethod<T>(Accelerator accelerator, ArrayView<T> a, ArrayView<T> b, ReadOnlySpan<int> shape, float scale = 1f)
    where T : unmanaged;

public delegate void GpuBackwardMethod<T>(Accelerator accelerator, ArrayView<T> b, ArrayView<T> dB, ArrayView<T> dA, ReadOnlySpan<int> shape, float scale = 1f)
    where T : unmanaged;

public delegate void GpuJacobianMethod<T>(Accelerator accelerator, ArrayView<T> b, ArrayView<T> jacobian, ReadOnlySpan<int> shape, float scale = 1f)
    where T : unmanaged;

public delegate void GpuLogSumExpMethod<T>(Accelerator accelerator, ArrayView<T> a, ArrayView<T> lse, ReadOnlySpan<int> shape, float scale = 1f)
    where T : unmanaged;

/// <summary>The ILGPU launchers of one generated class.</summary>
public sealed record GpuMembers<T>(GpuForwardMethod<T> Forward, GpuBackwardMethod<T> Backward, GpuJacobianMethod<T> Jacobian, GpuLogSumExpMethod<T> LogSumExp)
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
    private readonly GpuMembers<T> _members;
    private readonly float _scale;

    public GpuTarget(Accelerator accelerator, Target<T> cpu, GpuMembers<T> members)
    {
        _accelerator = accelerator;
        _cpu = cpu;
        _members = members;
        _scale = (float)cpu.Scale;
    }

    public string Name => $"{_cpu.Name} on {_accelerator.AcceleratorType}";

    public string BaseName => _cpu.BaseName;

    public int Rank => _cpu.Rank;

    public int[] Axes => _cpu.Axes;

    public SoftmaxGen.Runtime.SoftmaxOperation Operation => _cpu.Operation;

    public double Scale => _cpu.Scale;

    public ITarget WithScale(double scale) => new GpuTarget<T>(_accelerator, (Target<T>)_cpu.WithScale(scale), _members);

    public double[] Logits(double[] a, int[] shape) => _cpu.Logits(a, shape);

    public string ElementName => _cpu.ElementName;

    public double Epsilon => _cpu.Epsilon;

    public double Tiny => _cpu.Tiny;

    public double[] Round(double[] values) => _cpu.Round(values);

    public Outcome Forward(double[] a, int[] shape, int? outputLength = null)
    {
        using var input = Upload(Elements<T>.From(a));
        using var output = Upload(Elements<T>.Poisoned(outputLength ?? a.Length));
        return Outcome.After(() => _members.Forward(_accelerator, View(input), View(output), shape, _scale), () => Download(output));
    }

    public Outcome Backward(double[] b, double[] dB, int[] shape, int? outputLength = null)
    {
        using var forward = Upload(Elements<T>.From(b));
        using var cotangents = Upload(Elements<T>.From(dB));
        using var output = Upload(Elements<T>.Poisoned(outputLength ?? dB.Length));
        return Outcome.After(() => _members.Backward(_accelerator, View(forward), View(cotangents), View(output), shape, _scale), () => Download(output));
    }

    public Outcome Jacobian(double[] b, int[] shape, int? outputLength = null)
    {
        using var input = Upload(Elements<T>.From(b));
        using var output = Upload(Elements<T>.Poisoned(outputLength ?? b.Length * b.Length));
        return Outcome.After(() => _members.Jacobian(_accelerator, View(input), View(output), shape, _scale), () => Download(output));
    }

    public Outcome LogSumExp(double[] a, int[] shape, int? outputLength = null)
    {
        using var input = Upload(Elements<T>.From(a));
        using var output = Upload(Elements<T>.Poisoned(outputLength ?? (shape.Length == Rank ? Reference.SliceCount(shape, Axes) : 1)));
        return Outcome.After(() => _members.LogSumExp(_accelerator, View(input), View(output), shape, _scale), () => Download(output));
    }

    public double[] ForwardInPlace(double[] a, int[] shape)
    {
        using var buffer = Upload(Elements<T>.From(a));
        _members.Forward(_accelerator, View(buffer), View(buffer), shape, _scale);
        return Download(buffer);
    }

    public double[] BackwardInPlace(double[] b, double[] dB, int[] shape)
    {
        using var forward = Upload(Elements<T>.From(b));
        using var buffer = Upload(Elements<T>.From(dB));
        _members.Backward(_accelerator, View(forward), View(buffer), View(buffer), shape, _scale);
        return Download(buffer);
    }

    public (Exception? Error, bool Changed) ForwardPartlyOverlapping(double[] a, int[] shape)
    {
        var initial = Elements<T>.From(a.Append(double.NaN).ToArray());
        using var buffer = Upload(initial);
        var view = View(buffer);
        var error = Elements<T>.Catch(() => _members.Forward(_accelerator, view.SubView(0, a.Length), view.SubView(1, a.Length), shape, _scale));
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
            var error = Elements<T>.Catch(() => _members.Backward(_accelerator, view.SubView(0, b.Length), View(cotangents), view.SubView(0, dB.Length), shape, _scale));
            return (error, !Elements<T>.Same(initial, DownloadRaw(buffer)));
        }
        else
        {
            var initial = Elements<T>.From(dB.Append(double.NaN).ToArray());
            using var buffer = Upload(initial);
            using var forward = Upload(Elements<T>.From(b));
            var view = View(buffer);
            var error = Elements<T>.Catch(() => _members.Backward(_accelerator, View(forward), view.SubView(0, dB.Length), view.SubView(1, dB.Length), shape, _scale));
            return (error, !Elements<T>.Same(initial, DownloadRaw(buffer)));
        }
    }

    public (Exception? Error, bool Changed) JacobianOverlapping(double[] b, int[] shape)
    {
        // B and the Jacobian in one buffer, the Jacobian starting at B's last element.
        var initial = Elements<T>.From(b.Concat(Enumerable.Repeat(double.NaN, b.Length * b.Length - 1)).ToArray());
        using var buffer = Upload(initial);
        var view = View(buffer);
        var error = Elements<T>.Catch(() => _members.Jacobian(_accelerator, view.SubView(0, b.Length), view.SubView(b.Length - 1, b.Length * b.Length), shape, _scale));
        return (error, !Elements<T>.Same(initial, DownloadRaw(buffer)));
    }

    public (Exception? Error, bool Changed) LogSumExpOverlapping(double[] a, int[] shape)
    {
        var initial = Elements<T>.From(a);
        using var buffer = Upload(initial);
        var view = View(buffer);
        var error = Elements<T>.Catch(() => _members.LogSumExp(_accelerator, view, view.SubView(0, Reference.SliceCount(shape, Axes)), shape, _scale));
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
