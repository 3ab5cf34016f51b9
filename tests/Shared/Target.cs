using System;
using System.Linq;
using System.Numerics;

namespace SoftmaxGen.Tests;

public delegate void ForwardMethod<T>(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<int> shape, float scale = 1f);

public delegate void BackwardMethod<T>(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<int> shape, float scale = 1f);

public delegate void JacobianMethod<T>(ReadOnlySpan<T> b, Span<T> jacobian, ReadOnlySpan<int> shape, float scale = 1f);

public delegate void LogSumExpMethod<T>(ReadOnlySpan<T> a, Span<T> lse, ReadOnlySpan<int> shape, float scale = 1f);

/// <summary>A forward with every option's parameter; a class's own forward is adapted to it (the options it lacks ignored).</summary>
public delegate void FamilyForward<T>(ReadOnlySpan<T> a, ReadOnlySpan<bool> mask, ReadOnlySpan<T> bias, Span<T> b, ReadOnlySpan<int> shape, float scale);

/// <summary>A log-sum-exp with every option's parameter, as <see cref="FamilyForward{T}"/>.</summary>
public delegate void FamilyLogSumExp<T>(ReadOnlySpan<T> a, ReadOnlySpan<bool> mask, ReadOnlySpan<T> bias, Span<T> lse, ReadOnlySpan<int> shape, float scale);

/// <summary>The generated members of one class, bound to an element type: the methods every target calls.</summary>
public sealed record Members<T>(FamilyForward<T> Forward, BackwardMethod<T> Backward, JacobianMethod<T> Jacobian, FamilyLogSumExp<T> LogSumExp)
{
    /// <summary>The members of a class without options.</summary>
    public static Members<T> Plain(ForwardMethod<T> forward, BackwardMethod<T> backward, JacobianMethod<T> jacobian, LogSumExpMethod<T> logSumExp)
        => new((a, _, _, b, shape, scale) => forward(a, b, shape, scale), backward, jacobian, (a, _, _, lse, shape, scale) => logSumExp(a, lse, shape, scale));
}

/// <summary>What a call produced: the output as float64 (NaN where it was left unwritten), or the exception it threw.</summary>
public sealed record Outcome(double[] Output, Exception? Error)
{
    /// <summary>Runs <paramref name="call"/>, catching what it throws, and only then reads the output it left.</summary>
    public static Outcome After(Action call, Func<double[]> read)
    {
        Exception? error = null;
        try
        {
            call();
        }
        catch (Exception exception)
        {
            error = exception;
        }

        return new Outcome(read(), error);
    }

    public double[] Value => Error is null ? Output : throw new InvalidOperationException("The call threw.", Error);
}

/// <summary>
/// One generated class of the family, seen through float64 arrays so that one suite of checks serves every element
/// type, operation and option. Outputs are poisoned with NaN before each call, so that an element the call forgot
/// stays NaN. Every call passes the target's <see cref="Scale"/>.
/// </summary>
public interface ITarget
{
    string Name { get; }

    /// <summary>The generated class's name (the target's name without its scale).</summary>
    string BaseName { get; }

    int Rank { get; }

    int[] Axes { get; }

    SoftmaxGen.Runtime.SoftmaxOperation Operation { get; }

    /// <summary>The scale every call passes (the logits are z = scale · A).</summary>
    double Scale { get; }

    /// <summary>The class's options; each call passes the mask and bias <see cref="TargetOptions.Data"/> draws for its shape.</summary>
    TargetOptions Options { get; }

    /// <summary>The same class, called with another scale.</summary>
    ITarget WithScale(double scale);

    /// <summary>
    /// The logits z the generated code sees for A, in float64: scale · A (+ bias), rounded as the element type computes
    /// it (in float for float and Half), −∞ where an option excludes the element.
    /// </summary>
    double[] Logits(double[] a, int[] shape);

    string ElementName { get; }

    /// <summary>The unit roundoff of the element type.</summary>
    double Epsilon { get; }

    /// <summary>The smallest positive normal number of the element type.</summary>
    double Tiny { get; }

    /// <summary>The values as the element type holds them.</summary>
    double[] Round(double[] values);

    Outcome Forward(double[] a, int[] shape, int? outputLength = null);

    Outcome Backward(double[] b, double[] dB, int[] shape, int? outputLength = null);

    Outcome Jacobian(double[] b, int[] shape, int? outputLength = null);

    Outcome LogSumExp(double[] a, int[] shape, int? outputLength = null);

    double[] ForwardInPlace(double[] a, int[] shape);

    double[] BackwardInPlace(double[] b, double[] dB, int[] shape);

    /// <summary>Calls Forward with b one element past a in the same buffer; returns the exception and whether the buffer changed.</summary>
    (Exception? Error, bool Changed) ForwardPartlyOverlapping(double[] a, int[] shape);

    /// <summary>Calls Backward with dA laid over b (<paramref name="overB"/>) or one element past dB; returns the exception and whether anything changed.</summary>
    (Exception? Error, bool Changed) BackwardOverlapping(double[] b, double[] dB, int[] shape, bool overB);

    /// <summary>Calls Jacobian with the Jacobian laid over b; returns the exception and whether anything changed.</summary>
    (Exception? Error, bool Changed) JacobianOverlapping(double[] b, int[] shape);

    /// <summary>Calls LogSumExp with lse laid over the start of a; returns the exception and whether anything changed.</summary>
    (Exception? Error, bool Changed) LogSumExpOverlapping(double[] a, int[] shape);

    /// <summary>Calls Forward with a mask and a bias of the given lengths (the right ones where null); for a class that takes them.</summary>
    Outcome ForwardWithOptions(double[] a, int[] shape, int? maskLength, int? biasLength);

    /// <summary>Calls Forward with the bias laid over b; returns the exception and whether anything changed. For a class with a bias.</summary>
    (Exception? Error, bool Changed) ForwardBiasOverlapping(double[] a, int[] shape);
}

public sealed class Target<T> : ITarget
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Members<T> _members;
    private readonly float _scale;

    public Target(string name, int rank, int[] axes, SoftmaxGen.Runtime.SoftmaxOperation operation, Members<T> members, double scale = 1, TargetOptions? options = null)
    {
        Name = scale == 1 ? name : $"{name} scale {scale}";
        BaseName = name;
        Rank = rank;
        Axes = axes;
        Operation = operation;
        Options = options ?? TargetOptions.None;
        _members = members;
        _scale = (float)scale;
    }

    public string Name { get; }

    public string BaseName { get; }

    public int Rank { get; }

    public int[] Axes { get; }

    public SoftmaxGen.Runtime.SoftmaxOperation Operation { get; }

    public double Scale => _scale;

    public Members<T> Members => _members;

    public TargetOptions Options { get; }

    public ITarget WithScale(double scale) => new Target<T>(BaseName, Rank, Axes, Operation, _members, scale, Options);

    public double[] Logits(double[] a, int[] shape)
    {
        var (mask, bias) = Options.Data(shape, Rank);
        return Options.Apply(Elements<T>.Logits(a, Scale), shape, mask, bias, Elements<T>.RoundCompute);
    }

    /// <summary>The option data for a shape, as the element type holds it.</summary>
    public (bool[] Mask, T[] Bias) OptionData(int[] shape)
    {
        var (mask, bias) = Options.Data(shape, Rank);
        return (mask, Elements<T>.From(bias));
    }

    public string ElementName => typeof(T).Name;

    public double Epsilon => Elements<T>.Epsilon;

    public double Tiny => Elements<T>.Tiny;

    public double[] Round(double[] values) => Elements<T>.ToDouble(Elements<T>.From(values));

    public Outcome Forward(double[] a, int[] shape, int? outputLength = null)
    {
        var input = Elements<T>.From(a);
        var output = Elements<T>.Poisoned(outputLength ?? a.Length);
        var (mask, bias) = OptionData(shape);
        return Outcome.After(() => _members.Forward(input, mask, bias, output, shape, _scale), () => Elements<T>.ToDouble(output));
    }

    public Outcome Backward(double[] b, double[] dB, int[] shape, int? outputLength = null)
    {
        var output = Elements<T>.Poisoned(outputLength ?? dB.Length);
        var forward = Elements<T>.From(b);
        var cotangents = Elements<T>.From(dB);
        return Outcome.After(() => _members.Backward(forward, cotangents, output, shape, _scale), () => Elements<T>.ToDouble(output));
    }

    public Outcome Jacobian(double[] b, int[] shape, int? outputLength = null)
    {
        var output = Elements<T>.Poisoned(outputLength ?? b.Length * b.Length);
        var forward = Elements<T>.From(b);
        return Outcome.After(() => _members.Jacobian(forward, output, shape, _scale), () => Elements<T>.ToDouble(output));
    }

    public Outcome LogSumExp(double[] a, int[] shape, int? outputLength = null)
    {
        var input = Elements<T>.From(a);
        var output = Elements<T>.Poisoned(outputLength ?? SliceCount(shape));
        var (mask, bias) = OptionData(shape);
        return Outcome.After(() => _members.LogSumExp(input, mask, bias, output, shape, _scale), () => Elements<T>.ToDouble(output));
    }

    public double[] ForwardInPlace(double[] a, int[] shape)
    {
        var buffer = Elements<T>.From(a);
        var (mask, bias) = OptionData(shape);
        _members.Forward(buffer, mask, bias, buffer, shape, _scale);
        return Elements<T>.ToDouble(buffer);
    }

    public double[] BackwardInPlace(double[] b, double[] dB, int[] shape)
    {
        var buffer = Elements<T>.From(dB);
        _members.Backward(Elements<T>.From(b), buffer, buffer, shape, _scale);
        return Elements<T>.ToDouble(buffer);
    }

    public (Exception? Error, bool Changed) ForwardPartlyOverlapping(double[] a, int[] shape)
    {
        var buffer = Elements<T>.From(a.Append(double.NaN).ToArray());
        var before = (T[])buffer.Clone();
        var (mask, bias) = OptionData(shape);
        var error = Elements<T>.Catch(() => _members.Forward(buffer.AsSpan(0, a.Length), mask, bias, buffer.AsSpan(1, a.Length), shape, _scale));
        return (error, !Elements<T>.Same(before, buffer));
    }

    public (Exception? Error, bool Changed) BackwardOverlapping(double[] b, double[] dB, int[] shape, bool overB)
    {
        if (overB)
        {
            var buffer = Elements<T>.From(b.Concat(dB).ToArray());
            var cotangents = Elements<T>.From(dB);
            var before = (T[])buffer.Clone();
            var error = Elements<T>.Catch(() => _members.Backward(buffer.AsSpan(0, b.Length), cotangents, buffer.AsSpan(0, dB.Length), shape, _scale));
            return (error, !Elements<T>.Same(before, buffer));
        }
        else
        {
            var buffer = Elements<T>.From(dB.Append(double.NaN).ToArray());
            var forward = Elements<T>.From(b);
            var before = (T[])buffer.Clone();
            var error = Elements<T>.Catch(() => _members.Backward(forward, buffer.AsSpan(0, dB.Length), buffer.AsSpan(1, dB.Length), shape, _scale));
            return (error, !Elements<T>.Same(before, buffer));
        }
    }

    public (Exception? Error, bool Changed) JacobianOverlapping(double[] b, int[] shape)
    {
        var buffer = Elements<T>.From(b.Concat(new double[b.Length * b.Length]).ToArray());
        var before = (T[])buffer.Clone();
        var error = Elements<T>.Catch(() => _members.Jacobian(buffer.AsSpan(0, b.Length), buffer.AsSpan(0, b.Length * b.Length), shape, _scale));
        return (error, !Elements<T>.Same(before, buffer));
    }

    public (Exception? Error, bool Changed) LogSumExpOverlapping(double[] a, int[] shape)
    {
        var buffer = Elements<T>.From(a);
        var before = (T[])buffer.Clone();
        var (mask, bias) = OptionData(shape);
        var error = Elements<T>.Catch(() => _members.LogSumExp(buffer, mask, bias, buffer.AsSpan(0, SliceCount(shape)), shape, _scale));
        return (error, !Elements<T>.Same(before, buffer));
    }

    public Outcome ForwardWithOptions(double[] a, int[] shape, int? maskLength, int? biasLength)
    {
        var input = Elements<T>.From(a);
        var output = Elements<T>.Poisoned(a.Length);
        var (mask, bias) = OptionData(shape);
        var wrongMask = new bool[maskLength ?? mask.Length];
        mask.AsSpan(0, Math.Min(mask.Length, wrongMask.Length)).CopyTo(wrongMask);
        var wrongBias = new T[biasLength ?? bias.Length];
        bias.AsSpan(0, Math.Min(bias.Length, wrongBias.Length)).CopyTo(wrongBias);
        return Outcome.After(() => _members.Forward(input, wrongMask, wrongBias, output, shape, _scale), () => Elements<T>.ToDouble(output));
    }

    public (Exception? Error, bool Changed) ForwardBiasOverlapping(double[] a, int[] shape)
    {
        var input = Elements<T>.From(a);
        var (mask, bias) = OptionData(shape);
        var buffer = Elements<T>.From(a.Concat(Enumerable.Repeat(double.NaN, Math.Max(0, bias.Length - a.Length))).ToArray());
        bias.CopyTo(buffer, 0);
        var before = (T[])buffer.Clone();
        var error = Elements<T>.Catch(() => _members.Forward(input, mask, buffer.AsSpan(0, bias.Length), buffer.AsSpan(0, a.Length), shape, _scale));
        return (error, !Elements<T>.Same(before, buffer));
    }

    public override string ToString() => Name;

    private int SliceCount(int[] shape) => shape.Length == Rank ? Reference.SliceCount(shape, Axes) : 1;
}

/// <summary>Conversions and helpers shared by the targets of one element type.</summary>
public static class Elements<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static double Epsilon => typeof(T) == typeof(float) ? Math.Pow(2, -24) : typeof(T) == typeof(double) ? Math.Pow(2, -53) : Math.Pow(2, -11);

    public static double Tiny => typeof(T) == typeof(float) ? 1.1754943508222875e-38 : typeof(T) == typeof(double) ? 2.2250738585072014e-308 : 6.103515625e-05;

    public static T[] From(double[] values) => values.Select(T.CreateTruncating).ToArray();

    public static double[] ToDouble(T[] values) => values.Select(double.CreateTruncating).ToArray();

    /// <summary>z = scale · A as the kernels compute it: the product rounded to the compute type (float for float and Half).</summary>
    public static double[] Logits(double[] a, double scale)
    {
        if (scale == 1)
        {
            return (double[])a.Clone();
        }

        var values = From(a).Select(double.CreateTruncating);
        return typeof(T) == typeof(double)
            ? values.Select(value => value * scale).ToArray()
            : values.Select(value => (double)(float)(value * scale)).ToArray();
    }

    /// <summary>A float64 value rounded as the kernels compute: to float for float and Half, unchanged for double.</summary>
    public static double RoundCompute(double value) => typeof(T) == typeof(double) ? value : (float)value;

    public static T[] Poisoned(int length) => Enumerable.Repeat(T.NaN, length).ToArray();

    public static Exception? Catch(Action call) => Outcome.After(call, Array.Empty<double>).Error;

    /// <summary>Bitwise equality, so that NaN equals NaN.</summary>
    public static bool Same(T[] left, T[] right) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(left.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(right.AsSpan()));
}
