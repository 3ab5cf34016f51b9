using System;
using SoftmaxGen;

namespace SoftmaxGen.Samples.Basic;

[Softmax(5, 2, 3, 4)]
public static partial class BlockSoftmax { }

public static class Program
{
    public static void Main()
    {
        int[] shape = [2, 3, 4, 5, 6];
        var a = new float[2 * 3 * 4 * 5 * 6];
        var random = new Random(1);
        for (int i = 0; i < a.Length; i++) a[i] = (float)random.NextDouble();
        var b = new float[a.Length];
        BlockSoftmax.Forward(a, b, shape);
        float s = 0; for (int i = 0; i < 120; i++) s += b[i];
        Console.WriteLine(s);
    }
}
