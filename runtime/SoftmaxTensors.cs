using System;
using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The System.Numerics.Tensors side of the generated CPU members: shapes taken from the tensors' lengths, checked
/// against each other, and any strides read and written through dense row-major spans. A tensor whose strides are
/// the row-major ones is used in place; any other (a transposed or sliced view, a broadcast input with stride 0) is
/// copied to a pooled dense buffer, so that every stride gives exactly the results of the dense copy. Every check
/// runs before anything is written.
/// </summary>
public static class SoftmaxTensors
{
    /// <summary>The extents of <paramref name="tensor"/>, which must have <paramref name="rank"/> of them.</summary>
    /// <exception cref="ArgumentException">The rank differs, or an extent or the element count is past int.MaxValue.</exception>
    public static int[] Shape<T>(in ReadOnlyTensorSpan<T> tensor, int rank, string name)
    {
        var lengths = tensor.Lengths;
        if (lengths.Length != rank)
        {
            throw new ArgumentException($"{name} has rank {lengths.Length}, but this softmax is declared for tensors of rank {rank}.", name);
        }

        var shape = new int[rank];
        for (int axis = 0; axis < rank; axis++)
        {
            if (lengths[axis] > int.MaxValue)
            {
                throw new ArgumentException($"{name} has extent {lengths[axis]} on axis {axis}, past int.MaxValue.", name);
            }

            shape[axis] = (int)lengths[axis];
        }

        if (tensor.FlattenedLength > int.MaxValue)
        {
            throw new ArgumentException($"{name} holds {tensor.FlattenedLength} elements, past int.MaxValue.", name);
        }

        return shape;
    }

    /// <summary>Checks that a tensor's <paramref name="lengths"/> are exactly <paramref name="shape"/>.</summary>
    public static void SameShape(ReadOnlySpan<nint> lengths, ReadOnlySpan<int> shape, string name)
    {
        if (!Equal(lengths, shape))
        {
            throw new ArgumentException($"{name} has lengths {Format(lengths)}, but must have {SoftmaxArguments.Format(shape)}.", name);
        }
    }

    /// <summary>
    /// Checks an option tensor (a mask or a bias) spanning <paramref name="axes"/> (ascending) of <paramref name="shape"/>:
    /// its lengths are those axes' extents, or the full rank with 1 on every other axis (the form that broadcasts).
    /// </summary>
    public static void Option(ReadOnlySpan<nint> lengths, ReadOnlySpan<int> shape, ReadOnlySpan<int> axes, string name)
        => RequireListedOrKept(lengths, shape, axes, name, emptyAsOne: false);

    /// <summary>
    /// Checks the cotangents' lengths: the shape of B (one cotangent) or a leading axis s3 before it; and that the
    /// pullbacks have the same lengths.
    /// </summary>
    public static void Cotangents(ReadOnlySpan<nint> dB, ReadOnlySpan<nint> dA, ReadOnlySpan<int> shape)
    {
        if (!Equal(dB, shape) && !(dB.Length == shape.Length + 1 && Equal(dB[1..], shape)))
        {
            throw new ArgumentException(
                $"dB has lengths {Format(dB)}, but must have {SoftmaxArguments.Format(shape)} or a leading cotangent axis before them.",
                nameof(dB));
        }

        if (!dA.SequenceEqual(dB))
        {
            throw new ArgumentException($"dA has lengths {Format(dA)}, but must have dB's, {Format(dB)}.", nameof(dA));
        }
    }

    /// <summary>Checks the Jacobian's lengths: [N, N], or B's shape twice.</summary>
    public static void Jacobian(ReadOnlySpan<nint> lengths, ReadOnlySpan<int> shape)
    {
        long count = 1;
        foreach (int extent in shape)
        {
            count *= extent;
        }

        bool square = lengths.Length == 2 && lengths[0] == count && lengths[1] == count;
        bool twice = lengths.Length == 2 * shape.Length && Equal(lengths[..shape.Length], shape) && Equal(lengths[shape.Length..], shape);
        if (!square && !twice)
        {
            throw new ArgumentException($"jacobian has lengths {Format(lengths)}, but must have [{count}, {count}] or B's shape twice.", "jacobian");
        }
    }

    /// <summary>
    /// Checks the log-sum-exp's lengths: the batch extents (s2, ascending; [1] when every axis is reduced), or the full
    /// rank with 1 on each reduced axis.
    /// </summary>
    public static void LogSumExp(ReadOnlySpan<nint> lengths, ReadOnlySpan<int> shape, ReadOnlySpan<int> batchAxes)
        => RequireListedOrKept(lengths, shape, batchAxes, "lse", emptyAsOne: true);

    // The two forms a tensor over some of the axes may take: those axes' extents alone (or [1] for none, where
    // allowed), or the full rank with 1 on every other axis.
    private static void RequireListedOrKept(ReadOnlySpan<nint> lengths, ReadOnlySpan<int> shape, ReadOnlySpan<int> axes, string name, bool emptyAsOne)
    {
        Span<int> listed = stackalloc int[Math.Max(axes.Length, emptyAsOne ? 1 : 0)];
        listed.Fill(1);
        Span<int> kept = stackalloc int[shape.Length];
        kept.Fill(1);
        for (int i = 0; i < axes.Length; i++)
        {
            listed[i] = shape[axes[i]];
            kept[axes[i]] = shape[axes[i]];
        }

        if (!Equal(lengths, listed) && !Equal(lengths, kept))
        {
            throw new ArgumentException(
                $"{name} has lengths {Format(lengths)}, but must have {SoftmaxArguments.Format(listed)} (the extents of axes {SoftmaxArguments.Format(axes)}) or {SoftmaxArguments.Format(kept)}.",
                name);
        }
    }

    /// <summary>The elements of <paramref name="tensor"/> in row-major order of its lengths: in place where it is dense, else a pooled copy.</summary>
    public static TensorInput<T> Read<T>(in ReadOnlyTensorSpan<T> tensor, string name)
    {
        int count = Count(tensor.FlattenedLength, name);
        if (count == 0)
        {
            return default;
        }

        if (IsRowMajor(tensor.Lengths, tensor.Strides))
        {
            return new TensorInput<T>(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in tensor.GetPinnableReference()), count), null);
        }

        var rented = ArrayPool<T>.Shared.Rent(count);
        tensor.FlattenTo(rented.AsSpan(0, count));
        return new TensorInput<T>(rented.AsSpan(0, count), rented);
    }

    /// <summary>
    /// Where the results for <paramref name="tensor"/> go: its own memory where it is dense, else a pooled buffer that
    /// <see cref="TensorOutput{T}.CopyTo"/> scatters into it. An output with overlapping elements (a stride of 0 along
    /// an axis of two or more) is refused, since no single result could be read back from it.
    /// </summary>
    public static TensorOutput<T> Write<T>(in TensorSpan<T> tensor, string name)
    {
        int count = Count(tensor.FlattenedLength, name);
        if (count == 0)
        {
            return default;
        }

        var lengths = tensor.Lengths;
        var strides = tensor.Strides;
        if (IsRowMajor(lengths, strides))
        {
            return new TensorOutput<T>(MemoryMarshal.CreateSpan(ref tensor.GetPinnableReference(), count), null);
        }

        if (Overlaps(lengths, strides))
        {
            throw new ArgumentException($"{name} has strides {Format(strides)} for lengths {Format(lengths)}: some of its elements share memory.", name);
        }

        var rented = ArrayPool<T>.Shared.Rent(count);
        return new TensorOutput<T>(rented.AsSpan(0, count), rented);
    }

    private static int Count(nint count, string name) => count <= int.MaxValue
        ? (int)count
        : throw new ArgumentException($"{name} holds {count} elements, past int.MaxValue.", name);

    private static bool IsRowMajor(ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides)
    {
        nint expected = 1;
        for (int axis = lengths.Length - 1; axis >= 0; axis--)
        {
            if (lengths[axis] != 1 && strides[axis] != expected)
            {
                return false;
            }

            expected *= lengths[axis];
        }

        return true;
    }

    // Axes of extent two or more, by increasing stride: disjoint when each stride steps past everything the smaller
    // strides reach. That covers every permutation and slice of a dense tensor; an exotic layout that interleaves
    // without overlapping is refused too.
    private static bool Overlaps(ReadOnlySpan<nint> lengths, ReadOnlySpan<nint> strides)
    {
        Span<(nint Stride, nint Length)> axes = stackalloc (nint, nint)[lengths.Length];
        int used = 0;
        for (int axis = 0; axis < lengths.Length; axis++)
        {
            if (lengths[axis] > 1)
            {
                axes[used++] = (strides[axis], lengths[axis]);
            }
        }

        axes = axes[..used];
        axes.Sort((x, y) => x.Stride.CompareTo(y.Stride));
        nint reach = 1;
        foreach (var (stride, length) in axes)
        {
            if (stride < reach)
            {
                return true;
            }

            reach = stride * length;
        }

        return false;
    }

    private static bool Equal(ReadOnlySpan<nint> lengths, ReadOnlySpan<int> shape)
    {
        if (lengths.Length != shape.Length)
        {
            return false;
        }

        for (int i = 0; i < shape.Length; i++)
        {
            if (lengths[i] != shape[i])
            {
                return false;
            }
        }

        return true;
    }

    private static string Format(ReadOnlySpan<nint> values)
    {
        var extents = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            extents[i] = (int)Math.Min(values[i], int.MaxValue);
        }

        return SoftmaxArguments.Format(extents);
    }
}

/// <summary>A tensor's elements as a dense row-major span, and the pooled buffer holding them when it was copied.</summary>
public readonly ref struct TensorInput<T>
{
    private readonly T[]? _rented;

    internal TensorInput(ReadOnlySpan<T> span, T[]? rented)
    {
        Span = span;
        _rented = rented;
    }

    /// <summary>The elements, row-major.</summary>
    public ReadOnlySpan<T> Span { get; }

    /// <summary>Returns the pooled buffer, if any.</summary>
    public void Dispose()
    {
        if (_rented is not null)
        {
            ArrayPool<T>.Shared.Return(_rented);
        }
    }
}

/// <summary>Where a tensor's results are written: its own memory, or a pooled buffer copied into it afterwards.</summary>
public readonly ref struct TensorOutput<T>
{
    private readonly T[]? _rented;

    internal TensorOutput(Span<T> span, T[]? rented)
    {
        Span = span;
        _rented = rented;
    }

    /// <summary>The dense row-major span the kernels write.</summary>
    public Span<T> Span { get; }

    /// <summary>Scatters the results into <paramref name="destination"/> when they were written to a pooled buffer.</summary>
    public void CopyTo(in TensorSpan<T> destination)
    {
        if (_rented is not null)
        {
            new ReadOnlyTensorSpan<T>(Span, destination.Lengths).CopyTo(destination);
        }
    }

    /// <summary>Returns the pooled buffer, if any.</summary>
    public void Dispose()
    {
        if (_rented is not null)
        {
            ArrayPool<T>.Shared.Return(_rented);
        }
    }
}
