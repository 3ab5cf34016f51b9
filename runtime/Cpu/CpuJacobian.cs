using System;
using System.Numerics;

namespace SoftmaxGen.Runtime;

/// <summary>The dense Jacobian of a softmax, for any element type; computed in double and rounded once.</summary>
internal static class CpuJacobian<T, TLayout>
    where T : unmanaged, INumberBase<T>
    where TLayout : struct, ISoftmaxLayout
{
    public static void Write(ReadOnlySpan<T> b, Span<T> jacobian, TLayout layout)
    {
        jacobian.Clear();
        int count = b.Length;
        if (count == 0)
        {
            return;
        }

        var offsets = new int[layout.SliceLength];
        for (int slice = 0; slice < layout.SliceCount; slice++)
        {
            var gather = new GatherSlice(offsets);
            if (layout.LanesInner)
            {
                int lanes = layout.InnerExtent;
                gather.RunLength = 1;
                layout.ForEachRun(layout.Origin(slice / lanes) + slice % lanes, ref gather);
            }
            else
            {
                gather.RunLength = layout.InnerExtent;
                layout.ForEachRun(layout.Origin(slice), ref gather);
            }

            // ∂B_p/∂A_q = B_p (δ_pq - B_q) within a slice; entries across slices stay 0.
            foreach (int p in offsets)
            {
                double bp = double.CreateTruncating(b[p]);
                var row = jacobian.Slice(p * count, count);
                foreach (int q in offsets)
                {
                    double bq = double.CreateTruncating(b[q]);
                    row[q] = T.CreateTruncating(p == q ? bp * (1 - bq) : -bp * bq);
                }
            }
        }
    }

    /// <summary>Collects the offsets of a slice's elements, in row-major order, for the Jacobian.</summary>
    private ref struct GatherSlice(int[] offsets) : IRunVisitor
    {
        public int RunLength;
        private int _next;

        public void Visit(int offset)
        {
            for (int i = 0; i < RunLength; i++)
            {
                offsets[_next++] = offset + i;
            }
        }
    }
}
