using System;

namespace SoftmaxGen.Benchmarks;

/// <summary>The layouts the ratio table and the chart measure.</summary>
public enum Layout
{
    /// <summary>[32768, 1024], s1 = {1}: the last axis reduced.</summary>
    Rows,

    /// <summary>[128, 64, 4096], s1 = {1}: channels, the last axis a batch axis.</summary>
    Channels,

    /// <summary>[128, 32, 256, 32], s1 = {1, 3}: each slice is 32 strided runs of 32.</summary>
    Scattered,
}

/// <summary>Calls the generated class of a layout for an element type, and gives the measured shapes.</summary>
public static class Kernels
{
    /// <summary>128 MiB of the element type in the layout's shape (the first extent halved for double).</summary>
    public static int[] Shape<T>(Layout layout)
    {
        int scale = typeof(T) == typeof(double) ? 2 : 1;
        return layout switch
        {
            Layout.Rows => [32768 / scale, 1024],
            Layout.Channels => [128 / scale, 64, 4096],
            Layout.Scattered => [128 / scale, 32, 256, 32],
            _ => throw new ArgumentOutOfRangeException(nameof(layout)),
        };
    }

    public static void Forward<T>(Layout layout, T[] a, T[] b, int[] shape)
    {
        if (typeof(T) == typeof(float))
        {
            var x = (float[])(object)a;
            var y = (float[])(object)b;
            switch (layout)
            {
                case Layout.Rows: RowsFloat.Forward(x, y, shape); break;
                case Layout.Channels: ChannelsFloat.Forward(x, y, shape); break;
                default: ScatteredFloat.Forward(x, y, shape); break;
            }
        }
        else
        {
            var x = (double[])(object)a;
            var y = (double[])(object)b;
            switch (layout)
            {
                case Layout.Rows: RowsDouble.Forward(x, y, shape); break;
                case Layout.Channels: ChannelsDouble.Forward(x, y, shape); break;
                default: ScatteredDouble.Forward(x, y, shape); break;
            }
        }
    }

    public static void Backward<T>(Layout layout, T[] b, T[] dB, T[] dA, int[] shape)
    {
        if (typeof(T) == typeof(float))
        {
            var y = (float[])(object)b;
            var dy = (float[])(object)dB;
            var dx = (float[])(object)dA;
            switch (layout)
            {
                case Layout.Rows: RowsFloat.Backward(y, dy, dx, shape); break;
                case Layout.Channels: ChannelsFloat.Backward(y, dy, dx, shape); break;
                default: ScatteredFloat.Backward(y, dy, dx, shape); break;
            }
        }
        else
        {
            var y = (double[])(object)b;
            var dy = (double[])(object)dB;
            var dx = (double[])(object)dA;
            switch (layout)
            {
                case Layout.Rows: RowsDouble.Backward(y, dy, dx, shape); break;
                case Layout.Channels: ChannelsDouble.Backward(y, dy, dx, shape); break;
                default: ScatteredDouble.Backward(y, dy, dx, shape); break;
            }
        }
    }

    /// <summary>Logits in [-4, 4] from a fixed seed.</summary>
    public static T[] Logits<T>(int count, int seed)
        where T : System.Numerics.IFloatingPoint<T>
    {
        var random = new Random(seed);
        var values = GC.AllocateUninitializedArray<T>(count);
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = T.CreateTruncating(random.NextSingle() * 8 - 4);
        }

        return values;
    }
}
