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

/// <summary>A GPU forward with every option's parameter (the mask one byte per entry), as <see cref="FamilyForward{T}"/>.</summary>
public delegate void GpuFamilyForward<T>(Accelerator accelerator, ArrayView<T> a, ArrayView<byte> mask, ArrayView<T> bias, ArrayView<T> b, ReadOnlySpan<int> shape, float scale)
    where T : unmanaged;

/// <summary>A GPU log-sum-exp with every option's parameter.</summary>
public delegate void GpuFamilyLogSumExp<T>(Accelerator accelerator, ArrayView<T> a, ArrayView<byte> mask, ArrayView<T> bias, ArrayView<T> lse, ReadOnlySpan<int> shape, float scale)
    where T : unmanaged;

/// <summary>The ILGPU launchers of one generated class.</summary>
public sealed record GpuMembers<T>(GpuFamilyForward<T> Forward, GpuBackwardMethod<T> Backward, GpuJacobianMethod<T> Jacobian, GpuFamilyLogSumExp<T> LogSumExp)
    where T : unmanaged
{
    /// <summary>The launchers of a class without options.</summary>
    public static GpuMembers<T> Plain(GpuForwardMethod<T> forward, GpuBackwardMethod<T> backward, GpuJacobianMethod<T> jacobian, GpuLogSumExpMethod<T> logSumExp)
        => new(
            (accelerator, a, _, _, b, shape, scale) => forward(accelerator, a, b, shape, scale),
            backward,
            jacobian,
            (accelerator, a, _, _, lse, shape, scale) => logSumExp(accelerator, a, lse, shape, scale));
}

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
    private readonly double _epsilonFactor;

    /// <param name="epsilonFactor">
    /// How much coarser than the element type's unit roundoff the tolerances take it: 1, or 1.5 for a class declared with
    /// ApproximateGpuExp, whose exp on CUDA (ex2.approx) is about 2 ulp rather than 1; the relative tolerance
    /// u (8 + 4 log2(n + 1)) then becomes u (12 + 6 log2(n + 1)), at least 2 ulp looser.
    /// </param>
    public GpuTarget(Accelerator accelerator, Target<T> cpu, GpuMembers<T> members, double epsilonFactor = 1)
    {
        _accelerator = accelerator;
        _cpu = cpu;
        _members = members;
        _scale = (float)cpu.Scale;
        _epsilonFactor = epsilonFactor;
    }

    public string Name => $"{_cpu.Name} on {_accelerator.AcceleratorType}";

    public string BaseName => _cpu.BaseName;

    public int Rank => _cpu.Rank;

    public int[] Axes => _cpu.Axes;

    public SoftmaxGen.Runtime.SoftmaxOperation Operation => _cpu.Operation;

    public double Scale => _cpu.Scale;

    public TargetOptions Options => _cpu.Options;

    public ITarget WithScale(double scale) => new GpuTarget<T>(_accelerator, (Target<T>)_cpu.WithScale(scale), _members, _epsilonFactor);

    public double[] Logits(double[] a, int[] shape) => _cpu.Logits(a, shape);

    public string ElementName => _cpu.ElementName;

    public double Epsilon => _cpu.Epsilon * _epsilonFactor;

    public double Tiny => _cpu.Tiny;

    public double[] Round(double[] values) => _cpu.Round(values);

    public Outcome Forward(double[] a, int[] shape, int? outputLength = null)
    {
        using var input = Upload(Elements<T>.From(a));
        using var output = Upload(Elements<T>.Poisoned(outputLength ?? a.Length));
        using var options = UploadOptions(shape);
        return Outcome.After(() => _members.Forward(_accelerator, View(input), options.Mask, options.Bias, View(output), shape, _scale), () => Download(output));
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
        using var options = UploadOptions(shape);
        return Outcome.After(() => _members.LogSumExp(_accelerator, View(input), options.Mask, options.Bias, View(output), shape, _scale), () => Download(output));
    }

    public double[] ForwardInPlace(double[] a, int[] shape)
    {
        using var buffer = Upload(Elements<T>.From(a));
        using var options = UploadOptions(shape);
        _members.Forward(_accelerator, View(buffer), options.Mask, options.Bias, View(buffer), shape, _scale);
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
        using var options = UploadOptions(shape);
        var error = Elements<T>.Catch(() => _members.Forward(_accelerator, view.SubView(0, a.Length), options.Mask, options.Bias, view.SubView(1, a.Length), shape, _scale));
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
        using var options = UploadOptions(shape);
        var error = Elements<T>.Catch(() => _members.LogSumExp(_accelerator, view, options.Mask, options.Bias, view.SubView(0, Reference.SliceCount(shape, Axes)), shape, _scale));
        return (error, !Elements<T>.Same(initial, DownloadRaw(buffer)));
    }

    public Outcome ForwardWithOptions(double[] a, int[] shape, int? maskLength, int? biasLength)
    {
        var (mask, bias) = _cpu.OptionData(shape);
        var wrongMask = new byte[maskLength ?? mask.Length];
        for (int i = 0; i < Math.Min(mask.Length, wrongMask.Length); i++)
        {
            wrongMask[i] = mask[i] ? (byte)1 : (byte)0;
        }

        var wrongBias = new T[biasLength ?? bias.Length];
        bias.AsSpan(0, Math.Min(bias.Length, wrongBias.Length)).CopyTo(wrongBias);
        using var input = Upload(Elements<T>.From(a));
        using var output = Upload(Elements<T>.Poisoned(a.Length));
        using var maskBuffer = wrongMask.Length == 0 ? null : _accelerator.Allocate1D(wrongMask);
        using var biasBuffer = Upload(wrongBias);
        return Outcome.After(
            () => _members.Forward(_accelerator, View(input), maskBuffer is null ? default : maskBuffer.View, View(biasBuffer), View(output), shape, _scale),
            () => Download(output));
    }

    public (Exception? Error, bool Changed) ForwardBiasOverlapping(double[] a, int[] shape)
    {
        var (mask, bias) = _cpu.OptionData(shape);
        var values = Elements<T>.From(a.Concat(Enumerable.Repeat(double.NaN, Math.Max(0, bias.Length - a.Length))).ToArray());
        bias.CopyTo(values, 0);
        using var input = Upload(Elements<T>.From(a));
        using var buffer = Upload(values);
        using var maskBuffer = mask.Length == 0 ? null : _accelerator.Allocate1D(mask.Select(entry => entry ? (byte)1 : (byte)0).ToArray());
        var view = View(buffer);
        var error = Elements<T>.Catch(() => _members.Forward(
            _accelerator, View(input), maskBuffer is null ? default : maskBuffer.View, view.SubView(0, bias.Length), view.SubView(0, a.Length), shape, _scale));
        return (error, !Elements<T>.Same(values, DownloadRaw(buffer)));
    }

    /// <summary>The mask (as bytes) and the bias for a shape, on the device; empty views for what the class lacks.</summary>
    private OptionViews UploadOptions(int[] shape)
    {
        var (mask, bias) = _cpu.OptionData(shape);
        var maskBuffer = mask.Length == 0 ? null : _accelerator.Allocate1D(mask.Select(entry => entry ? (byte)1 : (byte)0).ToArray());
        var biasBuffer = Upload(bias);
        return new OptionViews(maskBuffer, biasBuffer);
    }

    private sealed class OptionViews(MemoryBuffer1D<byte, Stride1D.Dense>? mask, MemoryBuffer1D<T, Stride1D.Dense>? bias) : IDisposable
    {
        public ArrayView<byte> Mask => mask is null ? default : mask.View;

        public ArrayView<T> Bias => bias is null ? default : bias.View;

        public void Dispose()
        {
            mask?.Dispose();
            bias?.Dispose();
        }
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
