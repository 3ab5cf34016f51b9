using System;
using System.Linq;
using System.Numerics.Tensors;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The System.Numerics.Tensors overloads: for dense tensors and for any strides (transposed, padded, broadcast) they
/// give exactly the bits the span overloads give on the dense copy, leave an output's gaps alone, and refuse wrong
/// lengths and self-overlapping outputs before writing anything.
/// </summary>
public class TensorSpanTests
{
    private static readonly int[] ChannelsShape = [2, 3, 2, 5];

    // [batch, heads, query, key] with Q < K, so that the causal mask and the padding mask both exclude something.
    private static readonly int[] AttentionShape = [2, 3, 4, 6];

    [Theory]
    [InlineData(new[] { 0, 1, 2, 3 }, 0)]
    [InlineData(new[] { 3, 1, 0, 2 }, 0)]
    [InlineData(new[] { 0, 1, 2, 3 }, 3)]
    [InlineData(new[] { 2, 0, 3, 1 }, 1)]
    public void ChannelsMembersGiveTheDenseCopysBits(int[] order, int pad)
    {
        var shape = ChannelsShape;
        int count = TestData.Count(shape);
        var random = new Random(5);
        var a = Floats(random, count);

        var expected = new float[count];
        Channels.Forward(a, expected, shape, 0.5f);
        var b = Strided.From(a, shape, order, pad);
        var output = Strided.Empty<float>(shape, order.Reverse().ToArray(), pad);
        Channels.Forward(b.ReadOnly, output.Span, 0.5f);
        Assert.Equal(expected, output.Dense());
        output.AssertGapsUntouched();

        // Three cotangents along a leading axis, strided as a whole.
        int[] cotangentShape = [3, .. shape];
        var dB = Floats(random, 3 * count);
        var expectedDA = new float[3 * count];
        Channels.Backward(expected, dB, expectedDA, shape, 0.5f);
        int[] cotangentOrder = [.. order.Select(axis => axis + 1), 0];
        var dA = Strided.Empty<float>(cotangentShape, [0, .. order.Select(axis => axis + 1)], pad);
        Channels.Backward(Strided.From(expected, shape, order, pad).ReadOnly, Strided.From(dB, cotangentShape, cotangentOrder, pad).ReadOnly, dA.Span, 0.5f);
        Assert.Equal(expectedDA, dA.Dense());
        dA.AssertGapsUntouched();

        // One cotangent without the leading axis.
        var single = new float[count];
        Channels.Backward(expected, dB.AsSpan(0, count), single, shape, 0.5f);
        var singleDA = new float[count];
        Channels.Backward(new ReadOnlyTensorSpan<float>(expected, Lengths(shape)), new ReadOnlyTensorSpan<float>(dB.AsSpan(0, count), Lengths(shape)), new TensorSpan<float>(singleDA, Lengths(shape)), 0.5f);
        Assert.Equal(single, singleDA);

        var jacobian = new float[count * count];
        Channels.Jacobian(expected, jacobian, shape, 0.5f);
        var square = Strided.Empty<float>([count, count], [1, 0], 0);
        Channels.Jacobian(Strided.From(expected, shape, order, pad).ReadOnly, square.Span, 0.5f);
        Assert.Equal(jacobian, square.Dense());
        var twice = new float[count * count];
        Channels.Jacobian(new ReadOnlyTensorSpan<float>(expected, Lengths(shape)), new TensorSpan<float>(twice, Lengths([.. shape, .. shape])), 0.5f);
        Assert.Equal(jacobian, twice);

        // One value per [batch, height, width]: as the batch extents, and with the channel axis kept as 1.
        var lse = new float[count / shape[1]];
        Channels.LogSumExp(a, lse, shape, 0.5f);
        var batchForm = Strided.Empty<float>([2, 2, 5], [2, 1, 0], pad);
        Channels.LogSumExp(b.ReadOnly, batchForm.Span, 0.5f);
        Assert.Equal(lse, batchForm.Dense());
        var keptForm = new float[lse.Length];
        Channels.LogSumExp(b.ReadOnly, new TensorSpan<float>(keptForm, Lengths([2, 1, 2, 5])), 0.5f);
        Assert.Equal(lse, keptForm);
    }

    [Theory]
    [InlineData(new[] { 0, 1, 2, 3 }, 0)]
    [InlineData(new[] { 0, 1, 3, 2 }, 2)]
    [InlineData(new[] { 3, 2, 1, 0 }, 1)]
    public void OptionsTakeEitherFormAndAnyStrides(int[] order, int pad)
    {
        var shape = AttentionShape;
        int count = TestData.Count(shape);
        var random = new Random(6);
        var a = Floats(random, count);
        var mask = Enumerable.Range(0, shape[0] * shape[3]).Select(i => i % 3 != 1).ToArray();
        var bias = Enumerable.Range(0, shape[1] * shape[2] * shape[3]).Select(i => (i % 7 - 3) / 8f).ToArray();

        var expected = new float[count];
        Attention.Forward(a, mask, bias, expected, shape, 0.125f);
        var expectedLse = new float[count / shape[3]];
        Attention.LogSumExp(a, mask, bias, expectedLse, shape, 0.125f);

        // The mask as [batch, key] transposed, and as [batch, 1, 1, key]; the bias as [heads, query, key] strided and as
        // [1, heads, query, key].
        var listed = Strided.From(mask, [shape[0], shape[3]], [1, 0], pad);
        var kept = new ReadOnlyTensorSpan<bool>(mask, Lengths([shape[0], 1, 1, shape[3]]));
        var spanned = Strided.From(bias, [shape[1], shape[2], shape[3]], [2, 0, 1], pad);
        var broadcast = new ReadOnlyTensorSpan<float>(bias, Lengths([1, shape[1], shape[2], shape[3]]));
        var input = Strided.From(a, shape, order, pad);
        foreach (bool listedForms in new[] { true, false })
        {
            var output = Strided.Empty<float>(shape, order, pad);
            Attention.Forward(input.ReadOnly, listedForms ? listed.ReadOnly : kept, listedForms ? spanned.ReadOnly : broadcast, output.Span, 0.125f);
            Assert.Equal(expected, output.Dense());
            output.AssertGapsUntouched();

            var lse = new float[expectedLse.Length];
            Attention.LogSumExp(input.ReadOnly, listedForms ? listed.ReadOnly : kept, listedForms ? spanned.ReadOnly : broadcast, new TensorSpan<float>(lse, Lengths(shape[..3])), 0.125f);
            Assert.Equal(expectedLse, lse);
        }
    }

    [Fact]
    public void BroadcastInputsGiveTheDenseCopysBits()
    {
        // A of [2, 3, 4, 6] whose heads all read the same memory (stride 0 on axis 1), as a broadcast score tensor would.
        var shape = AttentionShape;
        var random = new Random(7);
        var perHead = Floats(random, shape[0] * shape[2] * shape[3]);
        nint[] strides = [shape[2] * shape[3], 0, shape[3], 1];
        var view = new ReadOnlyTensorSpan<float>(perHead, 0, Lengths(shape), strides);
        var dense = new float[TestData.Count(shape)];
        view.FlattenTo(dense);
        Assert.Equal(perHead[..(shape[2] * shape[3])], dense[(shape[2] * shape[3])..(2 * shape[2] * shape[3])]);

        var expected = new float[dense.Length];
        LogCausal.Forward(dense, expected, shape, 2f);
        var b = new float[dense.Length];
        LogCausal.Forward(view, new TensorSpan<float>(b, Lengths(shape)), 2f);
        Assert.Equal(expected, b);
    }

    [Fact]
    public void HalfTensorsGiveTheDenseCopysBits()
    {
        var shape = AttentionShape;
        int count = TestData.Count(shape);
        var random = new Random(8);
        var a = Floats(random, count).Select(value => (Half)value).ToArray();
        var mask = Enumerable.Range(0, shape[0] * shape[3]).Select(i => i != 2).ToArray();
        var bias = Enumerable.Range(0, shape[1] * shape[2] * shape[3]).Select(i => (Half)((i % 5 - 2) / 4f)).ToArray();
        var expected = new Half[count];
        AttentionHalf.Forward(a, mask, bias, expected, shape);

        var output = Strided.Empty<Half>(shape, [3, 2, 1, 0], 1);
        AttentionHalf.Forward(Strided.From(a, shape, [1, 0, 3, 2], 2).ReadOnly, new ReadOnlyTensorSpan<bool>(mask, Lengths([shape[0], shape[3]])),
            new ReadOnlyTensorSpan<Half>(bias, Lengths(shape[1..])), output.Span);
        Assert.Equal(expected, output.Dense());
    }

    [Fact]
    public void InPlaceOnOneTransposedViewGivesTheDenseCopysBits()
    {
        var shape = ChannelsShape;
        var a = Floats(new Random(9), TestData.Count(shape));
        var expected = new float[a.Length];
        LogChannels.Forward(a, expected, shape);
        var view = Strided.From(a, shape, [3, 2, 1, 0], 0);
        LogChannels.Forward(view.ReadOnly, view.Span);
        Assert.Equal(expected, view.Dense());
    }

    [Fact]
    public void WrongLengthsAndSharedOutputsAreRefusedBeforeAnyWrite()
    {
        var shape = AttentionShape;
        int count = TestData.Count(shape);
        var a = Floats(new Random(10), count);
        var maskData = new bool[shape[0] * shape[3]];
        var biasData = new float[shape[1] * shape[2] * shape[3]];
        ReadOnlyTensorSpan<bool> Mask() => new(maskData, Lengths([shape[0], shape[3]]));
        ReadOnlyTensorSpan<float> Bias() => new(biasData, Lengths(shape[1..]));
        var b = Enumerable.Repeat(float.NaN, count).ToArray();
        var lengths = Lengths(shape);

        void Refused(string name, Action call)
        {
            var thrown = Assert.ThrowsAny<ArgumentException>(call);
            Assert.Equal(name, thrown.ParamName);
            Assert.All(b, value => Assert.True(float.IsNaN(value)));
        }

        Refused("a", () => Attention.Forward(new ReadOnlyTensorSpan<float>(a, Lengths([count])), Mask(), Bias(), new TensorSpan<float>(b, lengths)));
        Refused("b", () => Attention.Forward(new ReadOnlyTensorSpan<float>(a, lengths), Mask(), Bias(), new TensorSpan<float>(b, Lengths([2, 3, 6, 4]))));
        Refused("mask", () => Attention.Forward(new ReadOnlyTensorSpan<float>(a, lengths), new ReadOnlyTensorSpan<bool>(new bool[shape[0] * shape[3]], Lengths([shape[3], shape[0]])), Bias(), new TensorSpan<float>(b, lengths)));
        Refused("mask", () => Attention.Forward(new ReadOnlyTensorSpan<float>(a, lengths), new ReadOnlyTensorSpan<bool>(new bool[2 * 3 * 6], Lengths([2, 3, 1, 6])), Bias(), new TensorSpan<float>(b, lengths)));
        Refused("bias", () => Attention.Forward(new ReadOnlyTensorSpan<float>(a, lengths), Mask(), new ReadOnlyTensorSpan<float>(new float[shape[1] * shape[2] * shape[3]], Lengths([shape[2], shape[1], shape[3]])), new TensorSpan<float>(b, lengths)));
        Refused("scale", () => Attention.Forward(new ReadOnlyTensorSpan<float>(a, lengths), Mask(), Bias(), new TensorSpan<float>(b, lengths), float.NaN));

        // An output whose heads share memory (stride 0) cannot hold a result per head.
        Refused("b", () => Attention.Forward(new ReadOnlyTensorSpan<float>(a, lengths), Mask(), Bias(), new TensorSpan<float>(b, 0, lengths, [shape[2] * shape[3], 0, shape[3], 1])));
        Refused("lse", () => Attention.LogSumExp(new ReadOnlyTensorSpan<float>(a, lengths), Mask(), Bias(), new TensorSpan<float>(b, Lengths(shape[1..3]))));

        var dB = Floats(new Random(11), 2 * count);
        Refused("dB", () => Attention.Backward(new ReadOnlyTensorSpan<float>(a, lengths), new ReadOnlyTensorSpan<float>(dB, Lengths([2, 3, 4, 12])), new TensorSpan<float>(b, lengths)));
        Refused("dA", () => Attention.Backward(new ReadOnlyTensorSpan<float>(a, lengths), new ReadOnlyTensorSpan<float>(dB, Lengths([2, .. shape])), new TensorSpan<float>(b, lengths)));
        Refused("jacobian", () => Attention.Jacobian(new ReadOnlyTensorSpan<float>(a, lengths), new TensorSpan<float>(b, Lengths([count / 4, 4]))));
    }

    private static float[] Floats(Random random, int count) => TestData.Logits(random, count).Select(value => (float)value).ToArray();

    private static nint[] Lengths(int[] shape) => shape.Select(extent => (nint)extent).ToArray();

    /// <summary>
    /// A tensor of a logical shape stored with its axes in another order (<c>order</c>: outermost first in memory) and
    /// <c>pad</c> unused elements after each innermost run, the gaps holding a sentinel.
    /// </summary>
    private sealed class Strided<T>(T[] storage, int[] shape, nint[] strides, bool[] used)
    {
        public ReadOnlyTensorSpan<T> ReadOnly => new(storage, 0, Lengths(shape), strides);

        public TensorSpan<T> Span => new(storage, 0, Lengths(shape), strides);

        public T[] Dense()
        {
            var dense = new T[TestData.Count(shape)];
            ReadOnly.FlattenTo(dense);
            return dense;
        }

        public void AssertGapsUntouched()
        {
            for (int i = 0; i < storage.Length; i++)
            {
                Assert.True(used[i] || storage[i]!.Equals(Strided.Sentinel<T>()), $"the gap at {i} was written");
            }
        }
    }

    private static class Strided
    {
        public static T Sentinel<T>() => (T)(typeof(T) == typeof(bool) ? false : typeof(T) == typeof(Half) ? (Half)1234 : typeof(T) == typeof(float) ? 1234f : (object)1234.0);

        public static Strided<T> Empty<T>(int[] shape, int[] order, int pad)
        {
            var strides = new nint[shape.Length];
            nint stride = 1;
            for (int k = order.Length - 1; k >= 0; k--)
            {
                strides[order[k]] = stride;
                stride *= shape[order[k]] + (k == order.Length - 1 ? pad : 0);
            }

            var storage = Enumerable.Repeat(Sentinel<T>(), (int)stride).ToArray();
            var used = new bool[storage.Length];
            for (int i = 0; i < TestData.Count(shape); i++)
            {
                used[Offset(i, shape, strides)] = true;
            }

            return new Strided<T>(storage, shape, strides, used);
        }

        public static Strided<T> From<T>(T[] dense, int[] shape, int[] order, int pad)
        {
            var strided = Empty<T>(shape, order, pad);
            var span = strided.Span;
            for (int i = 0; i < dense.Length; i++)
            {
                int remainder = i;
                var at = new nint[shape.Length];
                for (int axis = shape.Length - 1; axis >= 0; axis--)
                {
                    at[axis] = remainder % shape[axis];
                    remainder /= shape[axis];
                }

                span[at] = dense[i];
            }

            return strided;
        }

        private static int Offset(int flat, int[] shape, nint[] strides)
        {
            nint offset = 0;
            for (int axis = shape.Length - 1; axis >= 0; axis--)
            {
                offset += flat % shape[axis] * strides[axis];
                flat /= shape[axis];
            }

            return (int)offset;
        }
    }
}
