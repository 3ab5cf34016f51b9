using System;
using System.Text;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Argument validation shared by every generated softmax. Each method checks everything before the
/// caller writes anything, and throws an <see cref="ArgumentException"/> (or a subclass) whose message
/// names the argument and the value it should have had.
/// </summary>
public static partial class SoftmaxArguments
{
    /// <summary>Checks a shape against the rank and returns its element count N.</summary>
    /// <exception cref="ArgumentException">The shape has the wrong length, a negative dimension, or more than <see cref="int.MaxValue"/> elements.</exception>
    public static int ElementCount(ReadOnlySpan<int> shape, int rank)
    {
        if (shape.Length != rank)
        {
            throw new ArgumentException(
                $"shape has {shape.Length} dimension(s), but this softmax is declared for tensors of rank {rank}.",
                nameof(shape));
        }

        long count = 1;
        for (int axis = 0; axis < shape.Length; axis++)
        {
            if (shape[axis] < 0)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(shape),
                    shape[axis],
                    $"shape[{axis}] is {shape[axis]}; every dimension must be zero or more.");
            }

            // Saturate instead of overflowing: once past int.MaxValue the exact value no longer matters,
            // unless a later zero makes the tensor empty.
            count = Math.Min(count * shape[axis], (long)int.MaxValue + 1);
        }

        if (count > int.MaxValue)
        {
            throw new ArgumentException(
                $"shape {Format(shape)} holds more than int.MaxValue ({int.MaxValue}) elements; spans cannot address them.",
                nameof(shape));
        }

        return (int)count;
    }

    /// <summary>Validates the arguments of a forward softmax and returns the element count N.</summary>
    /// <remarks><paramref name="b"/> may be the very same memory as <paramref name="a"/> (in place), but must not partly overlap it.</remarks>
    public static int Forward<T>(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<int> shape, int rank)
    {
        int count = ElementCount(shape, rank);
        RequireLength(a.Length, count, shape, nameof(a));
        RequireLength(b.Length, count, shape, nameof(b));
        RequireSameOrDisjoint(a, b, nameof(b), nameof(a));
        return count;
    }

    /// <summary>
    /// Validates the arguments of a backward softmax and returns the element count N of one tensor;
    /// <paramref name="cotangents"/> receives s3, the number of cotangents held back to back in <paramref name="dB"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="dA"/> may be the very same memory as <paramref name="dB"/> (in place) but must not overlap
    /// <paramref name="b"/>, which is read again for every cotangent.
    /// </remarks>
    public static int Backward<T>(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<int> shape, int rank, out int cotangents)
    {
        int count = ElementCount(shape, rank);
        RequireLength(b.Length, count, shape, nameof(b));
        if (count == 0)
        {
            if (dB.Length != 0)
            {
                throw new ArgumentException(
                    $"dB has {dB.Length} elements, but shape {Format(shape)} is empty, so dB must be empty too.",
                    nameof(dB));
            }
        }
        else if (dB.Length == 0 || dB.Length % count != 0)
        {
            throw new ArgumentException(
                $"dB has {dB.Length} elements, but it must hold a positive whole number of cotangents of {count} elements each " +
                $"(shape {Format(shape)}), back to back.",
                nameof(dB));
        }

        if (dA.Length != dB.Length)
        {
            throw new ArgumentException(
                $"dA has {dA.Length} elements, but it must have as many as dB ({dB.Length}).",
                nameof(dA));
        }

        if (b.Overlaps(dA))
        {
            throw new ArgumentException(
                "dA overlaps b; b is read for every cotangent, so dA must be separate memory.",
                nameof(dA));
        }

        RequireSameOrDisjoint(dB, dA, nameof(dA), nameof(dB));
        cotangents = count == 0 ? 0 : dB.Length / count;
        return count;
    }

    /// <summary>Refuses a scale that is not a finite number (the logits are scale · A).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="scale"/> is NaN or infinite.</exception>
    public static void Scale(float scale)
    {
        if (!float.IsFinite(scale))
        {
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "scale multiplies the logits and must be a finite number.");
        }
    }

    /// <summary>
    /// Validates the arguments of a log-sum-exp and returns the slice count, the length of <paramref name="lse"/>: the
    /// product of the extents of <paramref name="batchAxes"/> (slices exist even where a reduced extent is 0: each has
    /// nothing included).
    /// </summary>
    public static int LogSumExp<T>(ReadOnlySpan<T> a, Span<T> lse, ReadOnlySpan<int> shape, int rank, ReadOnlySpan<int> batchAxes)
    {
        int count = ElementCount(shape, rank);
        RequireLength(a.Length, count, shape, nameof(a));
        int slices = SliceCount(shape, batchAxes);
        RequireLength(lse.Length, slices, shape, batchAxes, nameof(lse));
        if (a.Overlaps(lse))
        {
            throw new ArgumentException("lse overlaps a; they must be separate memory.", nameof(lse));
        }

        return slices;
    }

    /// <summary>The number of slices: the product of the batch extents (1 when every axis is reduced).</summary>
    private static int SliceCount(ReadOnlySpan<int> shape, ReadOnlySpan<int> batchAxes)
    {
        long slices = 1;
        foreach (int axis in batchAxes)
        {
            slices *= shape[axis];
        }

        return (int)slices;
    }

    private static void RequireLength(int length, int slices, ReadOnlySpan<int> shape, ReadOnlySpan<int> batchAxes, string name)
    {
        if (length != slices)
        {
            throw new ArgumentException(
                $"{name} has {length} elements, but shape {Format(shape)} has {slices} slice(s) (the product of the batch axes {Format(batchAxes)}), one element each.",
                name);
        }
    }

    /// <summary>
    /// Validates a mask over <paramref name="axes"/>: one entry per index of those axes (the product of their extents),
    /// and none of its memory shared with <paramref name="output"/>. Called after the shape is checked.
    /// </summary>
    public static void Mask<T>(ReadOnlySpan<bool> mask, ReadOnlySpan<int> shape, ReadOnlySpan<int> axes, Span<T> output, string outputName)
        where T : unmanaged
    {
        RequireOptionLength(mask.Length, shape, axes, nameof(mask));
        if (System.Runtime.InteropServices.MemoryMarshal.AsBytes(mask).Overlaps(System.Runtime.InteropServices.MemoryMarshal.AsBytes((ReadOnlySpan<T>)output)))
        {
            throw new ArgumentException($"mask overlaps {outputName}; they must be separate memory.", nameof(mask));
        }
    }

    /// <summary>
    /// Validates a bias over <paramref name="axes"/>: one entry per index of those axes, and none of its memory shared
    /// with <paramref name="output"/> (which may be written before the bias is read). Called after the shape is checked.
    /// </summary>
    public static void Bias<T>(ReadOnlySpan<T> bias, ReadOnlySpan<int> shape, ReadOnlySpan<int> axes, Span<T> output, string outputName)
    {
        RequireOptionLength(bias.Length, shape, axes, nameof(bias));
        if (bias.Overlaps(output))
        {
            throw new ArgumentException($"bias overlaps {outputName}; they must be separate memory.", nameof(bias));
        }
    }

    /// <summary>Refuses an option whose length is not the product of its axes' extents.</summary>
    private static void RequireOptionLength(long length, ReadOnlySpan<int> shape, ReadOnlySpan<int> axes, string name)
    {
        // Saturated: extents of up to int.MaxValue on several axes (with another extent 0) must not wrap around.
        long expected = 1;
        foreach (int axis in axes)
        {
            expected = Math.Min(expected * shape[axis], long.MaxValue / int.MaxValue);
        }

        if (length != expected)
        {
            throw new ArgumentException(
                $"{name} has {length} elements, but it spans the axes {Format(axes)} of shape {Format(shape)}, so it needs exactly {expected}.",
                name);
        }
    }

    /// <summary>Validates the arguments of a Jacobian and returns the element count N; the Jacobian holds N × N entries.</summary>
    public static int Jacobian<T>(ReadOnlySpan<T> b, Span<T> jacobian, ReadOnlySpan<int> shape, int rank)
    {
        int count = ElementCount(shape, rank);
        RequireLength(b.Length, count, shape, nameof(b));
        RequireJacobianLength(jacobian.Length, count, shape, "more than a span can hold");
        if (b.Overlaps(jacobian))
        {
            throw new ArgumentException("jacobian overlaps b; they must be separate memory.", nameof(jacobian));
        }

        return count;
    }

    /// <summary>
    /// Refuses a Jacobian of more than int.MaxValue entries (<paramref name="limit"/> says why, in the message), then one
    /// whose length is not N × N.
    /// </summary>
    private static void RequireJacobianLength(long length, int count, ReadOnlySpan<int> shape, string limit)
    {
        long entries = (long)count * count;
        if (entries > int.MaxValue)
        {
            throw new ArgumentException(
                $"shape {Format(shape)} has {count} elements, so its Jacobian would have {entries} entries, " +
                $"{limit} (int.MaxValue = {int.MaxValue}).",
                nameof(shape));
        }

        if (length != entries)
        {
            throw new ArgumentException(
                $"jacobian has {length} elements, but a tensor of {count} elements (shape {Format(shape)}) " +
                $"needs exactly {count} × {count} = {entries}.",
                "jacobian");
        }
    }

    /// <summary>Formats a shape the way messages show it: <c>[2, 3, 4]</c>.</summary>
    public static string Format(ReadOnlySpan<int> shape)
    {
        var text = new StringBuilder("[");
        for (int axis = 0; axis < shape.Length; axis++)
        {
            text.Append(axis == 0 ? "" : ", ").Append(shape[axis]);
        }

        return text.Append(']').ToString();
    }

    private static void RequireLength(int length, int count, ReadOnlySpan<int> shape, string name)
    {
        if (length != count)
        {
            throw new ArgumentException(
                $"{name} has {length} elements, but shape {Format(shape)} needs exactly {count}.",
                name);
        }
    }

    private static void RequireSameOrDisjoint<T>(ReadOnlySpan<T> source, ReadOnlySpan<T> destination, string destinationName, string sourceName)
    {
        if (source.Overlaps(destination, out int offset) && offset != 0)
        {
            throw new ArgumentException(
                $"{destinationName} partly overlaps {sourceName}; pass the very same memory to work in place, or memory that does not overlap.",
                destinationName);
        }
    }
}
