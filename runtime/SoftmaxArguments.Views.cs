using System;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>The same checks for ILGPU array views, plus what only views can get wrong: the stream, and the accelerator they live on.</summary>
public static partial class SoftmaxArguments
{
    /// <summary>Validates the arguments of a forward softmax on an accelerator stream and returns the element count N.</summary>
    /// <remarks><paramref name="b"/> may be the very same memory as <paramref name="a"/> (in place), but must not partly overlap it.</remarks>
    public static int Forward<T>(AcceleratorStream stream, ArrayView<T> a, ArrayView<T> b, ReadOnlySpan<int> shape, int rank)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(stream);
        int count = ElementCount(shape, rank);
        RequireView(stream, a, count, shape, nameof(a));
        RequireView(stream, b, count, shape, nameof(b));
        RequireSameOrDisjoint(a, b, nameof(b), nameof(a));
        return count;
    }

    /// <summary>
    /// Validates the arguments of a backward softmax on an accelerator stream and returns the element count N of one
    /// tensor; <paramref name="cotangents"/> receives s3, the number of cotangents held back to back in <paramref name="dB"/>.
    /// </summary>
    /// <remarks>
    /// <paramref name="dA"/> may be the very same memory as <paramref name="dB"/> (in place) but must not overlap
    /// <paramref name="b"/>, which is read again for every cotangent.
    /// </remarks>
    public static int Backward<T>(AcceleratorStream stream, ArrayView<T> b, ArrayView<T> dB, ArrayView<T> dA, ReadOnlySpan<int> shape, int rank, out int cotangents)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(stream);
        int count = ElementCount(shape, rank);
        RequireView(stream, b, count, shape, nameof(b));
        long length = dB.IsValid ? dB.Length : 0;
        if (count == 0 ? length != 0 : length == 0 || length % count != 0 || length > int.MaxValue)
        {
            throw new ArgumentException(
                count == 0
                    ? $"dB has {length} elements, but shape {Format(shape)} is empty, so dB must be empty too."
                    : $"dB has {length} elements, but it must hold a positive whole number of cotangents of {count} elements each " +
                      $"(shape {Format(shape)}), back to back, and at most int.MaxValue ({int.MaxValue}) elements in all.",
                nameof(dB));
        }

        RequireView(stream, dB, length, shape, nameof(dB));
        if ((dA.IsValid ? dA.Length : 0) != length)
        {
            throw new ArgumentException($"dA has {(dA.IsValid ? dA.Length : 0)} elements, but it must have as many as dB ({length}).", nameof(dA));
        }

        RequireView(stream, dA, length, shape, nameof(dA));
        if (Overlap(b, dA) is not null)
        {
            throw new ArgumentException("dA overlaps b; b is read for every cotangent, so dA must be separate memory.", nameof(dA));
        }

        RequireSameOrDisjoint(dB, dA, nameof(dA), nameof(dB));
        cotangents = count == 0 ? 0 : (int)(length / count);
        return count;
    }

    /// <summary>
    /// Validates the arguments of a Jacobian on an accelerator stream and returns the element count N; the Jacobian holds
    /// N × N entries, at most int.MaxValue (the kernel numbers them with an int).
    /// </summary>
    public static int Jacobian<T>(AcceleratorStream stream, ArrayView<T> b, ArrayView<T> jacobian, ReadOnlySpan<int> shape, int rank)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(stream);
        int count = ElementCount(shape, rank);
        RequireView(stream, b, count, shape, nameof(b));
        RequireJacobianLength(jacobian.IsValid ? jacobian.Length : 0, count, shape, "more than the kernel numbers");
        RequireView(stream, jacobian, (long)count * count, shape, nameof(jacobian));
        if (Overlap(b, jacobian) is not null)
        {
            throw new ArgumentException("jacobian overlaps b; they must be separate memory.", nameof(jacobian));
        }

        return count;
    }

    /// <summary>
    /// Validates the arguments of a log-sum-exp on an accelerator stream and returns the slice count, the length of
    /// <paramref name="lse"/> (slices exist even where a reduced extent is 0: each has nothing included).
    /// </summary>
    public static int LogSumExp<T>(AcceleratorStream stream, ArrayView<T> a, ArrayView<T> lse, ReadOnlySpan<int> shape, int rank, ReadOnlySpan<int> batchAxes)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(stream);
        int count = ElementCount(shape, rank);
        RequireView(stream, a, count, shape, nameof(a));
        int slices = SliceCount(shape, batchAxes);
        long length = lse.IsValid ? lse.Length : 0;
        if (length != slices)
        {
            RequireLength((int)Math.Min(length, int.MaxValue), slices, shape, batchAxes, nameof(lse));
        }

        RequireView(stream, lse, slices, shape, nameof(lse));
        if (Overlap(a, lse) is not null)
        {
            throw new ArgumentException("lse overlaps a; they must be separate memory.", nameof(lse));
        }

        return slices;
    }

    /// <summary>
    /// Validates a mask on the device over <paramref name="axes"/>: one byte per index of those axes (non-zero
    /// includes), on the stream's accelerator, not overlapping <paramref name="output"/>.
    /// </summary>
    public static void Mask<T>(AcceleratorStream stream, ArrayView<byte> mask, ReadOnlySpan<int> shape, ReadOnlySpan<int> axes, ArrayView<T> output, string outputName)
        where T : unmanaged
    {
        RequireOptionLength(mask.IsValid ? mask.Length : 0, shape, axes, nameof(mask));
        RequireView(stream, mask, mask.IsValid ? mask.Length : 0, shape, nameof(mask));
        if (Overlap(mask, output) is not null)
        {
            throw new ArgumentException($"mask overlaps {outputName}; they must be separate memory.", nameof(mask));
        }
    }

    /// <summary>Validates a bias on the device over <paramref name="axes"/>: one entry per index of those axes, on the stream's accelerator, not overlapping <paramref name="output"/>.</summary>
    public static void Bias<T>(AcceleratorStream stream, ArrayView<T> bias, ReadOnlySpan<int> shape, ReadOnlySpan<int> axes, ArrayView<T> output, string outputName)
        where T : unmanaged
    {
        RequireOptionLength(bias.IsValid ? bias.Length : 0, shape, axes, nameof(bias));
        RequireView(stream, bias, bias.IsValid ? bias.Length : 0, shape, nameof(bias));
        if (Overlap(bias, output) is not null)
        {
            throw new ArgumentException($"bias overlaps {outputName}; they must be separate memory.", nameof(bias));
        }
    }

    private static void RequireView<T>(AcceleratorStream stream, ArrayView<T> view, long count, ReadOnlySpan<int> shape, string name)
        where T : unmanaged
    {
        long length = view.IsValid ? view.Length : 0;
        if (length != count)
        {
            throw new ArgumentException($"{name} has {length} elements, but shape {Format(shape)} needs exactly {count}.", name);
        }

        if (length > 0 && ((IArrayView)view).Buffer.Accelerator != stream.Accelerator)
        {
            throw new ArgumentException(
                $"{name} lives on {((IArrayView)view).Buffer.Accelerator.Name}, but the stream belongs to {stream.Accelerator.Name}; " +
                "allocate it on the stream's accelerator.",
                name);
        }
    }

    private static void RequireSameOrDisjoint<T>(ArrayView<T> source, ArrayView<T> destination, string destinationName, string sourceName)
        where T : unmanaged
    {
        if (Overlap(source, destination) is { } sameStart && !sameStart)
        {
            throw new ArgumentException(
                $"{destinationName} partly overlaps {sourceName}; pass the very same memory to work in place, or memory that does not overlap.",
                destinationName);
        }
    }

    /// <summary>Null when the views share no byte; otherwise whether they start at the same byte.</summary>
    internal static bool? Overlap<TLeft, TRight>(ArrayView<TLeft> left, ArrayView<TRight> right)
        where TLeft : unmanaged
        where TRight : unmanaged
    {
        if (!left.IsValid || !right.IsValid || left.Length == 0 || right.Length == 0
            || !ReferenceEquals(((IArrayView)left).Buffer, ((IArrayView)right).Buffer))
        {
            return null;
        }

        long leftStart = ((IContiguousArrayView)left).IndexInBytes;
        long rightStart = ((IContiguousArrayView)right).IndexInBytes;
        bool disjoint = leftStart + left.LengthInBytes <= rightStart || rightStart + right.LengthInBytes <= leftStart;
        return disjoint ? null : leftStart == rightStart;
    }
}
