using System;
using System.Linq;
using System.Numerics;

namespace SoftmaxGen.Tests;

public delegate void ForwardMethod<T>(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<int> shape);

public delegate void BackwardMethod<T>(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<int> shape);

public delegate void JacobianMethod<T>(ReadOnlySpan<T> b, Span<T> jacobian, ReadOnlySpan<int> shape);

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
/// One generated softmax class, seen through float64 arrays so that one suite of checks serves every element type.
/// Outputs are poisoned with NaN before each call, so that an element the call forgot stays NaN.
/// </summary>
public interface ITarget
{
    string Name { get; }

    int Rank { get; }

    int[] Axes { get; }

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

    double[] ForwardInPlace(double[] a, int[] shape);

    double[] BackwardInPlace(double[] b, double[] dB, int[] shape);

    /// <summary>Calls Forward with b one element past a in the same buffer; returns the exception and whether the buffer changed.</summary>
    (Exception? Error, bool Changed) ForwardPartlyOverlapping(double[] a, int[] shape);

    /// <summary>Calls Backward with dA laid over b (<paramref name="overB"/>) or one element past dB; returns the exception and whether anything changed.</summary>
    (Exception? Error, bool Changed) BackwardOverlapping(double[] b, double[] dB, int[] shape, bool overB);

    /// <summary>Calls Jacobian with the Jacobian laid over b; returns the exception and whether anything changed.</summary>
    (Exception? Error, bool Changed) JacobianOverlapping(double[] b, int[] shape);
}

public sealed class Target<T> : ITarget
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ForwardMethod<T> _forward;
    private readonly BackwardMethod<T> _backward;
    private readonly JacobianMethod<T> _jacobian;

    public Target(string name, int rank, int[] axes, ForwardMethod<T> forward, BackwardMethod<T> backward, JacobianMethod<T> jacobian)
    {
        Name = name;
        Rank = rank;
        Axes = axes;
        _forward = forward;
        _backward = backward;
        _jacobian = jacobian;
    }

    public string Name { get; }

    public int Rank { get; }

    public int[] Axes { get; }

    public string ElementName => typeof(T).Name;

    public double Epsilon => Elements<T>.Epsilon;

    public double Tiny => Elements<T>.Tiny;

    public double[] Round(double[] values) => Elements<T>.ToDouble(Elements<T>.From(values));

    public Outcome Forward(double[] a, int[] shape, int? outputLength = null)
    {
        var input = Elements<T>.From(a);
        var output = Elements<T>.Poisoned(outputLength ?? a.Length);
        return Outcome.After(() => _forward(input, output, shape), () => Elements<T>.ToDouble(output));
    }

    public Outcome Backward(double[] b, double[] dB, int[] shape, int? outputLength = null)
    {
        var output = Elements<T>.Poisoned(outputLength ?? dB.Length);
        var forward = Elements<T>.From(b);
        var cotangents = Elements<T>.From(dB);
        return Outcome.After(() => _backward(forward, cotangents, output, shape), () => Elements<T>.ToDouble(output));
    }

    public Outcome Jacobian(double[] b, int[] shape, int? outputLength = null)
    {
        var output = Elements<T>.Poisoned(outputLength ?? b.Length * b.Length);
        var forward = Elements<T>.From(b);
        return Outcome.After(() => _jacobian(forward, output, shape), () => Elements<T>.ToDouble(output));
    }

    public double[] ForwardInPlace(double[] a, int[] shape)
    {
        var buffer = Elements<T>.From(a);
        _forward(buffer, buffer, shape);
        return Elements<T>.ToDouble(buffer);
    }

    public double[] BackwardInPlace(double[] b, double[] dB, int[] shape)
    {
        var buffer = Elements<T>.From(dB);
        _backward(Elements<T>.From(b), buffer, buffer, shape);
        return Elements<T>.ToDouble(buffer);
    }

    public (Exception? Error, bool Changed) ForwardPartlyOverlapping(double[] a, int[] shape)
    {
        var buffer = Elements<T>.From(a.Append(double.NaN).ToArray());
        var before = (T[])buffer.Clone();
        var error = Elements<T>.Catch(() => _forward(buffer.AsSpan(0, a.Length), buffer.AsSpan(1, a.Length), shape));
        return (error, !Elements<T>.Same(before, buffer));
    }

    public (Exception? Error, bool Changed) BackwardOverlapping(double[] b, double[] dB, int[] shape, bool overB)
    {
        if (overB)
        {
            var buffer = Elements<T>.From(b.Concat(dB).ToArray());
            var cotangents = Elements<T>.From(dB);
            var before = (T[])buffer.Clone();
            var error = Elements<T>.Catch(() => _backward(buffer.AsSpan(0, b.Length), cotangents, buffer.AsSpan(0, dB.Length), shape));
            return (error, !Elements<T>.Same(before, buffer));
        }
        else
        {
            var buffer = Elements<T>.From(dB.Append(double.NaN).ToArray());
            var forward = Elements<T>.From(b);
            var before = (T[])buffer.Clone();
            var error = Elements<T>.Catch(() => _backward(forward, buffer.AsSpan(0, dB.Length), buffer.AsSpan(1, dB.Length), shape));
            return (error, !Elements<T>.Same(before, buffer));
        }
    }

    public (Exception? Error, bool Changed) JacobianOverlapping(double[] b, int[] shape)
    {
        var buffer = Elements<T>.From(b.Concat(new double[b.Length * b.Length]).ToArray());
        var before = (T[])buffer.Clone();
        var error = Elements<T>.Catch(() => _jacobian(buffer.AsSpan(0, b.Length), buffer.AsSpan(0, b.Length * b.Length), shape));
        return (error, !Elements<T>.Same(before, buffer));
    }

    public override string ToString() => Name;
}

/// <summary>Conversions and helpers shared by the targets of one element type.</summary>
public static class Elements<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static double Epsilon => typeof(T) == typeof(float) ? Math.Pow(2, -24) : typeof(T) == typeof(double) ? Math.Pow(2, -53) : Math.Pow(2, -11);

    public static double Tiny => typeof(T) == typeof(float) ? 1.1754943508222875e-38 : typeof(T) == typeof(double) ? 2.2250738585072014e-308 : 6.103515625e-05;

    public static T[] From(double[] values) => values.Select(T.CreateTruncating).ToArray();

    public static double[] ToDouble(T[] values) => values.Select(double.CreateTruncating).ToArray();

    public static T[] Poisoned(int length) => Enumerable.Repeat(T.NaN, length).ToArray();

    public static Exception? Catch(Action call) => Outcome.After(call, Array.Empty<double>).Error;

    /// <summary>Bitwise equality, so that NaN equals NaN.</summary>
    public static bool Same(T[] left, T[] right) =>
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(left.AsSpan()).SequenceEqual(System.Runtime.InteropServices.MemoryMarshal.AsBytes(right.AsSpan()));
}
