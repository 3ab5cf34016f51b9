using System;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Argument validation of every generated attention class. Each method checks everything before the caller writes
/// anything and throws an <see cref="ArgumentException"/> (or a subclass) naming the argument.
/// </summary>
public static class AttentionArguments
{
    /// <summary>The element counts of Q (and O, dO, dQ), of K (and V, dK, dV) and of the log-sum-exp.</summary>
    public readonly record struct Sizes(int Query, int KeyValue, int Rows);

    /// <summary>Checks the shape and the scale and returns the lengths the tensors must have.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is not positive, or the scale is not finite.</exception>
    /// <exception cref="ArgumentException">Heads is not a multiple of KeyValueHeads, or a tensor holds more than int.MaxValue elements.</exception>
    public static Sizes Shape(AttentionShape shape, int headDim, float scale)
    {
        Positive(shape.Batch, "Batch");
        Positive(shape.Heads, "Heads");
        Positive(shape.KeyValueHeads, "KeyValueHeads");
        Positive(shape.QueryLength, "QueryLength");
        Positive(shape.KeyLength, "KeyLength");
        if (shape.Heads % shape.KeyValueHeads != 0)
        {
            throw new ArgumentException(
                $"shape.Heads ({shape.Heads}) is not a multiple of shape.KeyValueHeads ({shape.KeyValueHeads}): each key/value head serves the same number of query heads.",
                nameof(shape));
        }

        if (!float.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale multiplies the scores Q Kᵀ and must be a finite number.");
        }

        return new Sizes(
            Count(shape, (long)shape.Batch * shape.Heads * shape.QueryLength * headDim, "Q"),
            Count(shape, (long)shape.Batch * shape.KeyValueHeads * shape.KeyLength * headDim, "K"),
            Count(shape, (long)shape.Batch * shape.Heads * shape.QueryLength, "the log-sum-exp"));
    }

    /// <summary>Validates a CPU forward call.</summary>
    public static void Forward<T>(ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> o, ReadOnlySpan<float> lse, AttentionShape shape, int headDim, float scale)
        where T : unmanaged
    {
        var sizes = Shape(shape, headDim, scale);
        Length(q.Length, sizes.Query, nameof(q), "Batch · Heads · QueryLength · HeadDim");
        Length(k.Length, sizes.KeyValue, nameof(k), "Batch · KeyValueHeads · KeyLength · HeadDim");
        Length(v.Length, sizes.KeyValue, nameof(v), "Batch · KeyValueHeads · KeyLength · HeadDim");
        Length(o.Length, sizes.Query, nameof(o), "Batch · Heads · QueryLength · HeadDim");
        Length(lse.Length, sizes.Rows, nameof(lse), "Batch · Heads · QueryLength");
        ReadOnlySpan<byte> bq = Bytes(q), bk = Bytes(k), bv = Bytes(v), bo = Bytes(o), blse = Bytes(lse);
        Disjoint(bo, nameof(o), bq, nameof(q));
        Disjoint(bo, nameof(o), bk, nameof(k));
        Disjoint(bo, nameof(o), bv, nameof(v));
        Disjoint(blse, nameof(lse), bq, nameof(q));
        Disjoint(blse, nameof(lse), bk, nameof(k));
        Disjoint(blse, nameof(lse), bv, nameof(v));
        Disjoint(blse, nameof(lse), bo, nameof(o));
    }

    /// <summary>Validates a CPU backward call.</summary>
    public static void Backward<T>(
        ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> o, ReadOnlySpan<float> lse, ReadOnlySpan<T> dO,
        ReadOnlySpan<T> dQ, ReadOnlySpan<T> dK, ReadOnlySpan<T> dV, AttentionShape shape, int headDim, float scale)
        where T : unmanaged
    {
        var sizes = Shape(shape, headDim, scale);
        Length(q.Length, sizes.Query, nameof(q), "Batch · Heads · QueryLength · HeadDim");
        Length(k.Length, sizes.KeyValue, nameof(k), "Batch · KeyValueHeads · KeyLength · HeadDim");
        Length(v.Length, sizes.KeyValue, nameof(v), "Batch · KeyValueHeads · KeyLength · HeadDim");
        Length(o.Length, sizes.Query, nameof(o), "Batch · Heads · QueryLength · HeadDim");
        Length(lse.Length, sizes.Rows, nameof(lse), "Batch · Heads · QueryLength");
        Length(dO.Length, sizes.Query, nameof(dO), "Batch · Heads · QueryLength · HeadDim");
        Length(dQ.Length, sizes.Query, nameof(dQ), "Batch · Heads · QueryLength · HeadDim");
        Length(dK.Length, sizes.KeyValue, nameof(dK), "Batch · KeyValueHeads · KeyLength · HeadDim");
        Length(dV.Length, sizes.KeyValue, nameof(dV), "Batch · KeyValueHeads · KeyLength · HeadDim");
        ReadOnlySpan<byte> bdQ = Bytes(dQ), bdK = Bytes(dK), bdV = Bytes(dV);
        OutsideInputs(bdQ, nameof(dQ), Bytes(q), Bytes(k), Bytes(v), Bytes(o), Bytes(lse), Bytes(dO));
        OutsideInputs(bdK, nameof(dK), Bytes(q), Bytes(k), Bytes(v), Bytes(o), Bytes(lse), Bytes(dO));
        OutsideInputs(bdV, nameof(dV), Bytes(q), Bytes(k), Bytes(v), Bytes(o), Bytes(lse), Bytes(dO));
        Disjoint(bdK, nameof(dK), bdQ, nameof(dQ));
        Disjoint(bdV, nameof(dV), bdQ, nameof(dQ));
        Disjoint(bdV, nameof(dV), bdK, nameof(dK));
    }

    /// <summary>Validates a forward call on an accelerator stream.</summary>
    public static void Forward<T>(AcceleratorStream stream, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> o, ArrayView<float> lse, AttentionShape shape, int headDim, float scale)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(stream);
        var sizes = Shape(shape, headDim, scale);
        View(stream, q, sizes.Query, nameof(q), "Batch · Heads · QueryLength · HeadDim");
        View(stream, k, sizes.KeyValue, nameof(k), "Batch · KeyValueHeads · KeyLength · HeadDim");
        View(stream, v, sizes.KeyValue, nameof(v), "Batch · KeyValueHeads · KeyLength · HeadDim");
        View(stream, o, sizes.Query, nameof(o), "Batch · Heads · QueryLength · HeadDim");
        View(stream, lse, sizes.Rows, nameof(lse), "Batch · Heads · QueryLength");
        Disjoint(o, nameof(o), q, nameof(q));
        Disjoint(o, nameof(o), k, nameof(k));
        Disjoint(o, nameof(o), v, nameof(v));
        Disjoint(lse, nameof(lse), q, nameof(q));
        Disjoint(lse, nameof(lse), k, nameof(k));
        Disjoint(lse, nameof(lse), v, nameof(v));
        Disjoint(lse, nameof(lse), o, nameof(o));
    }

    /// <summary>Validates a backward call on an accelerator stream.</summary>
    public static void Backward<T>(
        AcceleratorStream stream, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> o, ArrayView<float> lse, ArrayView<T> dO,
        ArrayView<T> dQ, ArrayView<T> dK, ArrayView<T> dV, AttentionShape shape, int headDim, float scale)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(stream);
        var sizes = Shape(shape, headDim, scale);
        View(stream, q, sizes.Query, nameof(q), "Batch · Heads · QueryLength · HeadDim");
        View(stream, k, sizes.KeyValue, nameof(k), "Batch · KeyValueHeads · KeyLength · HeadDim");
        View(stream, v, sizes.KeyValue, nameof(v), "Batch · KeyValueHeads · KeyLength · HeadDim");
        View(stream, o, sizes.Query, nameof(o), "Batch · Heads · QueryLength · HeadDim");
        View(stream, lse, sizes.Rows, nameof(lse), "Batch · Heads · QueryLength");
        View(stream, dO, sizes.Query, nameof(dO), "Batch · Heads · QueryLength · HeadDim");
        View(stream, dQ, sizes.Query, nameof(dQ), "Batch · Heads · QueryLength · HeadDim");
        View(stream, dK, sizes.KeyValue, nameof(dK), "Batch · KeyValueHeads · KeyLength · HeadDim");
        View(stream, dV, sizes.KeyValue, nameof(dV), "Batch · KeyValueHeads · KeyLength · HeadDim");
        OutsideInputs(dQ, nameof(dQ), q, k, v, o, lse, dO);
        OutsideInputs(dK, nameof(dK), q, k, v, o, lse, dO);
        Disjoint(dK, nameof(dK), dQ, nameof(dQ));
        OutsideInputs(dV, nameof(dV), q, k, v, o, lse, dO);
        Disjoint(dV, nameof(dV), dQ, nameof(dQ));
        Disjoint(dV, nameof(dV), dK, nameof(dK));
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0)
        {
            throw new ArgumentOutOfRangeException("shape", value, $"shape.{name} is {value}; every dimension of an attention shape must be positive.");
        }
    }

    private static int Count(AttentionShape shape, long count, string what)
    {
        if (count > int.MaxValue)
        {
            throw new ArgumentException($"{what} would hold {count} elements for {shape}, more than int.MaxValue ({int.MaxValue}).", nameof(shape));
        }

        return (int)count;
    }

    private static void Length(int length, int expected, string name, string formula)
    {
        if (length != expected)
        {
            throw new ArgumentException($"{name} has {length} elements, but the shape needs exactly {expected} ({formula}).", name);
        }
    }

    private static void View<T>(AcceleratorStream stream, ArrayView<T> view, int expected, string name, string formula)
        where T : unmanaged
    {
        long length = view.IsValid ? view.Length : 0;
        if (length != expected)
        {
            throw new ArgumentException($"{name} has {length} elements, but the shape needs exactly {expected} ({formula}).", name);
        }

        if (((IArrayView)view).Buffer.Accelerator != stream.Accelerator)
        {
            throw new ArgumentException(
                $"{name} lives on {((IArrayView)view).Buffer.Accelerator.Name}, but the stream belongs to {stream.Accelerator.Name}; allocate it on the stream's accelerator.",
                name);
        }
    }

    private static ReadOnlySpan<byte> Bytes<T>(ReadOnlySpan<T> span)
        where T : unmanaged
        => MemoryMarshal.AsBytes(span);

    private static void Disjoint(ReadOnlySpan<byte> output, string name, ReadOnlySpan<byte> other, string otherName)
    {
        if (output.Overlaps(other))
        {
            throw new ArgumentException($"{name} overlaps {otherName}; every output of attention must be memory of its own.", name);
        }
    }

    /// <summary>A backward output against each input, on the host.</summary>
    private static void OutsideInputs(
        ReadOnlySpan<byte> output, string name, ReadOnlySpan<byte> q, ReadOnlySpan<byte> k, ReadOnlySpan<byte> v, ReadOnlySpan<byte> o, ReadOnlySpan<byte> lse, ReadOnlySpan<byte> dO)
    {
        Disjoint(output, name, q, nameof(q));
        Disjoint(output, name, k, nameof(k));
        Disjoint(output, name, v, nameof(v));
        Disjoint(output, name, o, nameof(o));
        Disjoint(output, name, lse, nameof(lse));
        Disjoint(output, name, dO, nameof(dO));
    }

    /// <summary>A backward output against each input, on the device.</summary>
    private static void OutsideInputs<T>(ArrayView<T> output, string name, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> o, ArrayView<float> lse, ArrayView<T> dO)
        where T : unmanaged
    {
        Disjoint(output, name, q, nameof(q));
        Disjoint(output, name, k, nameof(k));
        Disjoint(output, name, v, nameof(v));
        Disjoint(output, name, o, nameof(o));
        Disjoint(output, name, lse, nameof(lse));
        Disjoint(output, name, dO, nameof(dO));
    }

    private static void Disjoint<TOutput, TOther>(ArrayView<TOutput> output, string name, ArrayView<TOther> other, string otherName)
        where TOutput : unmanaged
        where TOther : unmanaged
    {
        if (SoftmaxArguments.Overlap(output, other) is not null)
        {
            throw new ArgumentException($"{name} overlaps {otherName}; every output of attention must be memory of its own.", name);
        }
    }
}
