using System;
using System.Numerics;

namespace SoftmaxGen.Runtime;

/// <summary>The dense Jacobian of an operation of the family, for any element type; computed in double and rounded once.</summary>
internal static class CpuJacobian<T, TLayout>
    where T : unmanaged, INumberBase<T>
    where TLayout : struct, ISoftmaxLayout
{
    public static void Write(ReadOnlySpan<T> b, Span<T> jacobian, TLayout layout, float scale, SoftmaxOperation operation)
    {
        if (operation == SoftmaxOperation.LogSoftmax)
        {
            Write<LogSoftmax>(b, jacobian, layout, scale);
        }
        else
        {
            Write<Softmax>(b, jacobian, layout, scale);
        }
    }

    private static void Write<TOp>(ReadOnlySpan<T> b, Span<T> jacobian, TLayout layout, double scale)
        where TOp : struct, IGpuOperation
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

            // ∂B_p/∂A_q within a slice, the operation's entry (the same arithmetic as the GPU kernel's, in double);
            // entries across slices stay 0.
            foreach (int p in offsets)
            {
                double bp = double.CreateTruncating(b[p]);
                var row = jacobian.Slice(p * count, count);
                foreach (int q in offsets)
                {
                    double bq = double.CreateTruncating(b[q]);
                    row[q] = T.CreateTruncating(scale * default(TOp).Jacobian(bp, bq, p == q, default(GpuDoubleMath)));
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
