using System;
using System.Collections.Generic;
using System.Linq;

namespace SoftmaxGen.Tests;

/// <summary>Random tensors and shapes from fixed seeds.</summary>
public static class TestData
{
    public static int Count(int[] shape) => shape.Aggregate(1, (product, extent) => product * extent);

    /// <summary>Logits drawn uniformly from [-scale, scale].</summary>
    public static double[] Logits(Random random, int count, double scale = 4)
        => Enumerable.Range(0, count).Select(_ => (random.NextDouble() * 2 - 1) * scale).ToArray();

    /// <summary>Logits on a grid of 1/8 in [-4, 4]: every element type holds them, and their sums with small integers, exactly.</summary>
    public static double[] GridLogits(Random random, int count)
        => Enumerable.Range(0, count).Select(_ => random.Next(-32, 33) / 8.0).ToArray();

    /// <summary>
    /// A few shapes for a rank: a random one of at most <paramref name="maxElements"/> elements, one whose last extent is odd
    /// and longer than a vector (so remainders are exercised), and one with unit extents.
    /// </summary>
    public static List<int[]> Shapes(int rank, int seed, int maxElements)
    {
        var random = new Random(seed);
        var shapes = new List<int[]> { RandomShape(random, rank, maxElements) };

        var odd = Enumerable.Repeat(1, rank).ToArray();
        odd[rank - 1] = 37;
        if (rank > 1)
        {
            odd[0] = 3;
        }

        if (Count(odd) <= maxElements)
        {
            shapes.Add(odd);
        }

        var units = RandomShape(random, rank, maxElements);
        for (int axis = 0; axis < rank; axis += 2)
        {
            units[axis] = 1;
        }

        shapes.Add(units);
        return shapes;
    }

    public static int[] RandomShape(Random random, int rank, int maxElements)
    {
        int maxExtent = Math.Max(2, (int)Math.Pow(maxElements, 1.0 / rank) * 2);
        while (true)
        {
            var shape = Enumerable.Range(0, rank).Select(_ => random.Next(1, maxExtent + 1)).ToArray();
            if (Count(shape) <= maxElements)
            {
                return shape;
            }
        }
    }
}
