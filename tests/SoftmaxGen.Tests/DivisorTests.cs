using System;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>The layouts' division by a fixed extent: exact quotient and remainder for every non-negative int dividend.</summary>
public class DivisorTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    [InlineData(100)]
    [InlineData(3136)]
    [InlineData(65535)]
    [InlineData(65537)]
    [InlineData(1 << 20)]
    [InlineData((1 << 30) + 1)]
    [InlineData(int.MaxValue - 1)]
    [InlineData(int.MaxValue)]
    public void QuotientAndRemainderAreExact(int value)
    {
        var divisor = new Divisor(value);
        var random = new Random(value);
        foreach (int dividend in Dividends(value, random))
        {
            int quotient = divisor.Divide(dividend, out int remainder);
            Assert.True(quotient == dividend / value && remainder == dividend % value, $"{dividend} / {value}: {quotient} rest {remainder}");
            Assert.Equal(dividend % value, divisor.Remainder(dividend));
        }
    }

    [Fact]
    public void EveryDivisorUpToAThousandAgreesOnRandomDividends()
    {
        var random = new Random(3);
        for (int value = 1; value <= 1000; value++)
        {
            var divisor = new Divisor(value);
            for (int k = 0; k < 200; k++)
            {
                int dividend = k < 100 ? random.Next(value * 4) : random.Next(int.MaxValue);
                Assert.Equal(dividend / value, divisor.Divide(dividend, out int remainder));
                Assert.Equal(dividend % value, remainder);
            }
        }
    }

    [Fact]
    public void NegativeDivisorsAreRefused() => Assert.Throws<ArgumentOutOfRangeException>(() => new Divisor(-1));

    // Both ends, around each multiple near them, and random dividends.
    private static int[] Dividends(int value, Random random)
    {
        var list = new System.Collections.Generic.List<int> { 0, 1, value - 1, value, int.MaxValue, int.MaxValue - 1 };
        long top = (long)int.MaxValue / value * value;
        foreach (long near in new[] { (long)value * 2, top, top - value, (long)value * (value < 46341 ? value : 1) })
        {
            for (long d = near - 2; d <= near + 2; d++)
            {
                if (d >= 0 && d <= int.MaxValue)
                {
                    list.Add((int)d);
                }
            }
        }

        for (int k = 0; k < 2000; k++)
        {
            list.Add(random.Next(int.MaxValue));
        }

        return list.ToArray();
    }
}
