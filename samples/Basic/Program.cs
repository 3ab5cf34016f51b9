using System;
using System.Linq;
using SoftmaxGen;

namespace SoftmaxGen.Samples.Basic;

/// <summary>The seed's example: A ∈ R^{ijklm}, softmax over s1 = {k, l, m}; the batch axes are s2 = {i, j}.</summary>
[Softmax(5, 2, 3, 4)]
public static partial class BlockSoftmax { }

public static class Program
{
    public static int Main()
    {
        int[] shape = [2, 3, 4, 5, 6];
        int count = shape.Aggregate(1, (product, extent) => product * extent);
        int sliceLength = 4 * 5 * 6;
        var random = new Random(2026);
        var a = Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();

        // Forward: B = exp(A) / Σ_{k,l,m} exp(A), one slice per (i, j).
        var b = new float[count];
        BlockSoftmax.Forward(a, b, shape);
        double worstSum = Enumerable.Range(0, count / sliceLength)
            .Max(slice => Math.Abs(b.Skip(slice * sliceLength).Take(sliceLength).Sum(value => (double)value) - 1));

        // Backward for a batch of two cotangents held back to back (s3 = 2): B is read once for both.
        var dB = Enumerable.Range(0, 2 * count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var dA = new float[2 * count];
        BlockSoftmax.Backward(b, dB, dA, shape);

        // The same pullbacks from the dense Jacobian: dA_k = Jᵀ dB_k.
        var jacobian = new float[count * count];
        BlockSoftmax.Jacobian(b, jacobian, shape);
        double worstPullback = 0;
        for (int k = 0; k < 2; k++)
        {
            for (int q = 0; q < count; q++)
            {
                double product = 0;
                for (int p = 0; p < count; p++)
                {
                    product += (double)jacobian[p * count + q] * dB[k * count + p];
                }

                worstPullback = Math.Max(worstPullback, Math.Abs(product - dA[k * count + q]));
            }
        }

        Console.WriteLine("SoftmaxGen basic sample: [Softmax(5, 2, 3, 4)] on A of shape [2, 3, 4, 5, 6] (float)");
        Console.WriteLine($"  slices (i, j):                  {count / sliceLength} of {sliceLength} elements");
        Console.WriteLine($"  max |Σ_(k,l,m) B - 1|:           {worstSum:E2}");
        Console.WriteLine($"  cotangents (s3):                2");
        Console.WriteLine($"  max |dA - Jᵀ·dB| over both:      {worstPullback:E2}");
        bool passed = worstSum < 1e-5 && worstPullback < 1e-6;
        Console.WriteLine(passed ? "check: passed" : "check: FAILED");
        return passed ? 0 : 1;
    }
}
