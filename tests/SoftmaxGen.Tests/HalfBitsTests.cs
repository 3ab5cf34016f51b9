using System;
using System.Numerics;
using System.Runtime.Intrinsics;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The CPU engine's vector conversions between Half and float (<see cref="HalfBits"/>) against .NET's own
/// <see cref="Half"/> conversions: every one of the 65 536 half values into float, and floats of every magnitude (half
/// subnormals, ties, overflow, ±∞, NaN) into half, at both vector widths.
/// </summary>
public sealed class HalfBitsTests
{
    [Fact]
    public void EveryHalfWidensExactly()
    {
        for (int first = 0; first < 65536; first += Vector<uint>.Count)
        {
            var bits = new uint[Vector<uint>.Count];
            for (int lane = 0; lane < bits.Length; lane++)
            {
                bits[lane] = (uint)(first + lane);
            }

            var narrow = HalfBits.ToSingle(new Vector<uint>(bits));
            var wide = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? HalfBits.ToSingle(Vector512.Create(Repeat(bits))) : default;
            for (int lane = 0; lane < bits.Length; lane++)
            {
                float expected = (float)BitConverter.UInt16BitsToHalf((ushort)bits[lane]);
                AssertSame(expected, narrow[lane], bits[lane]);
                if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
                {
                    AssertSame(expected, wide[lane], bits[lane]);
                }
            }
        }
    }

    [Fact]
    public void FloatsNarrowAsHalfConversionDoes()
    {
        var random = new Random(17);
        var values = new float[200_000];
        float[] edges = [0f, -0f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, 65504f, 65519.99f, 65520f, 65536f, 1e10f,
            6.1035156e-5f, 6.1035152e-5f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 1e-10f, float.Epsilon, 1.1754944e-38f, 0.5f, 1.0009766f, 1.0014648f];
        edges.CopyTo(values, 0);
        for (int i = edges.Length; i < values.Length; i++)
        {
            // Magnitudes from below half's subnormals to past its range, either sign; every fourth a tie between two halves.
            float value = (float)(Math.Pow(2, (random.NextDouble() * 50) - 34) * (random.Next(2) == 0 ? 1 : -1));
            values[i] = i % 4 == 0 ? TieNear(value) : value;
        }

        int width = Vector<float>.Count;
        for (int first = 0; first + width <= values.Length; first += width)
        {
            var narrow = HalfBits.FromSingle(new Vector<float>(values, first));
            for (int lane = 0; lane < width; lane++)
            {
                ushort expected = BitConverter.HalfToUInt16Bits((Half)values[first + lane]);
                AssertSameHalf(expected, narrow[lane], values[first + lane]);
            }
        }

        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            return;
        }

        for (int first = 0; first + 16 <= values.Length; first += 16)
        {
            var wide = HalfBits.FromSingle(Vector512.Create(values.AsSpan(first, 16)));
            for (int lane = 0; lane < 16; lane++)
            {
                ushort expected = BitConverter.HalfToUInt16Bits((Half)values[first + lane]);
                AssertSameHalf(expected, wide[lane], values[first + lane]);
            }
        }
    }

    /// <summary>The float halfway between <paramref name="value"/>'s nearest half and the next one up in magnitude.</summary>
    private static float TieNear(float value)
    {
        var half = (Half)value;
        var next = BitConverter.UInt16BitsToHalf((ushort)(BitConverter.HalfToUInt16Bits(half) + 1));
        return Half.IsFinite(next) ? (float)(((double)half + (double)next) / 2) : value;
    }

    private static uint[] Repeat(uint[] bits)
    {
        var lanes = new uint[16];
        for (int lane = 0; lane < 16; lane++)
        {
            lanes[lane] = bits[lane % bits.Length];
        }

        return lanes;
    }

    private static void AssertSame(float expected, float actual, uint bits)
    {
        bool same = float.IsNaN(expected) ? float.IsNaN(actual) : BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual);
        Assert.True(same, $"half 0x{bits:X4}: {actual:R}, expected {expected:R}");
    }

    private static void AssertSameHalf(ushort expected, uint actual, float value)
    {
        bool nan = (expected & 0x7C00) == 0x7C00 && (expected & 0x3FF) != 0;
        bool same = nan ? (actual & 0x7C00) == 0x7C00 && (actual & 0x3FF) != 0 && actual <= 0xFFFF : actual == expected;
        Assert.True(same, $"{value:R}: 0x{actual:X4}, expected 0x{expected:X4}");
    }
}
