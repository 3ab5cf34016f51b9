using System;
using System.Numerics;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The CPU algorithms for <see cref="System.Half"/> (and for any element type the streaming kernels do not serve), written once over the element type, its primitives and the generated layout. The JIT
/// compiles one copy per layout struct, with the layout's loops inlined into it.
/// </summary>
/// <remarks>
/// Forward, per slice: m = max A; B = exp(A - m), s = Σ B; B /= s. A slice whose entries are all -∞ gets m := 0,
/// hence s = 0 and B = 0 (scale 0, not 1/0). A NaN or +∞ makes s NaN and so every output of its slice NaN.
/// Backward, per slice and cotangent k: d = Σ dB_k ∘ B; dA_k = B ∘ (dB_k - d); B's slice is reused from cache for
/// every k. With lanes (the last axis a batch axis) the same steps run on a tile of adjacent slices at once,
/// with one accumulator per slice.
/// </remarks>
internal static unsafe class SoftmaxKernels<T, TAccumulator, TOps, TLayout>
    where T : unmanaged, INumberBase<T>
    where TAccumulator : unmanaged, IFloatingPointIeee754<TAccumulator>
    where TOps : struct, IElementOps<T, TAccumulator>
    where TLayout : struct, ISoftmaxLayout
{
    /// <summary>The widest tile of adjacent slices processed together.</summary>
    private const int MaxTileWidth = 256;

    /// <summary>How much of a tile (all its runs) should stay in cache between the passes.</summary>
    private const int TileBytes = 128 * 1024;

    public static void Forward(ReadOnlySpan<T> a, Span<T> b, TLayout layout)
    {
        if (a.IsEmpty)
        {
            return;
        }

        fixed (T* source = a)
        fixed (T* destination = b)
        {
            var body = new ForwardBody(source, destination, a.Length, layout);
            CpuParallel.For(body.Items, body.ElementsPerItem, body);
        }
    }

    public static void Backward(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, int cotangents, TLayout layout)
    {
        if (b.IsEmpty)
        {
            return;
        }

        fixed (T* output = b)
        fixed (T* cotangent = dB)
        fixed (T* destination = dA)
        {
            var body = new BackwardBody(output, cotangent, destination, b.Length, cotangents, layout);
            CpuParallel.For(body.Items, body.ElementsPerItem * cotangents, body);
        }
    }

    private static TAccumulator Shift(TAccumulator max) => TAccumulator.IsNegativeInfinity(max) ? TAccumulator.Zero : max;

    private static TAccumulator Reciprocal(TAccumulator sum) => sum == TAccumulator.Zero ? TAccumulator.Zero : TAccumulator.One / sum;

    private static int TileWidth(int lanes, int sliceLength)
    {
        int width = MaxTileWidth;
        while (width > 2 * Vector<TAccumulator>.Count && (long)width * sliceLength * sizeof(T) > TileBytes)
        {
            width /= 2;
        }

        return Math.Min(width, lanes);
    }

    private static void ForwardSlices(ReadOnlySpan<T> a, Span<T> b, in TLayout layout, int first, int end)
    {
        int length = layout.InnerExtent;
        for (int slice = first; slice < end; slice++)
        {
            int origin = layout.Origin(slice);
            var max = new MaxRuns(a, length);
            layout.ForEachRun(origin, ref max);
            var exp = new ExpSumRuns(a, b, length, Shift(max.Max));
            layout.ForEachRun(origin, ref exp);
            var normalize = new NormalizeRuns(a, b, length, exp.Shift, Reciprocal(exp.Sum));
            layout.ForEachRun(origin, ref normalize);
        }
    }

    private static void ForwardTiles(ReadOnlySpan<T> a, Span<T> b, in TLayout layout, int tileWidth, int first, int end)
    {
        int lanes = layout.InnerExtent;
        int tiles = (lanes + tileWidth - 1) / tileWidth;
        Span<TAccumulator> shiftBuffer = stackalloc TAccumulator[MaxTileWidth];
        Span<TAccumulator> scaleBuffer = stackalloc TAccumulator[MaxTileWidth];
        for (int item = first; item < end; item++)
        {
            int column = item % tiles * tileWidth;
            int width = Math.Min(tileWidth, lanes - column);
            int origin = layout.Origin(item / tiles) + column;
            var shift = shiftBuffer.Slice(0, width);
            var scale = scaleBuffer.Slice(0, width);

            shift.Fill(TAccumulator.NegativeInfinity);
            var max = new MaxLanes(a, shift);
            layout.ForEachRun(origin, ref max);
            for (int lane = 0; lane < width; lane++)
            {
                shift[lane] = Shift(shift[lane]);
            }

            scale.Clear();
            var exp = new ExpSumLanes(a, b, shift, scale);
            layout.ForEachRun(origin, ref exp);
            for (int lane = 0; lane < width; lane++)
            {
                scale[lane] = Reciprocal(scale[lane]);
            }

            var normalize = new NormalizeLanes(a, b, shift, scale);
            layout.ForEachRun(origin, ref normalize);
        }
    }

    private static void BackwardSlices(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, int cotangents, in TLayout layout, int first, int end)
    {
        int count = b.Length;
        int length = layout.InnerExtent;
        for (int slice = first; slice < end; slice++)
        {
            int origin = layout.Origin(slice);
            for (int k = 0; k < cotangents; k++)
            {
                var cotangent = dB.Slice(k * count, count);
                var dot = new DotRuns(b, cotangent, length);
                layout.ForEachRun(origin, ref dot);
                var backward = new BackwardRuns(b, cotangent, dA.Slice(k * count, count), length, dot.Dot);
                layout.ForEachRun(origin, ref backward);
            }
        }
    }

    private static void BackwardTiles(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, int cotangents, in TLayout layout, int tileWidth, int first, int end)
    {
        int count = b.Length;
        int lanes = layout.InnerExtent;
        int tiles = (lanes + tileWidth - 1) / tileWidth;
        Span<TAccumulator> dotBuffer = stackalloc TAccumulator[MaxTileWidth];
        for (int item = first; item < end; item++)
        {
            int column = item % tiles * tileWidth;
            int width = Math.Min(tileWidth, lanes - column);
            int origin = layout.Origin(item / tiles) + column;
            var dot = dotBuffer.Slice(0, width);
            for (int k = 0; k < cotangents; k++)
            {
                var cotangent = dB.Slice(k * count, count);
                dot.Clear();
                var sum = new DotLanes(b, cotangent, dot);
                layout.ForEachRun(origin, ref sum);
                var backward = new BackwardLanes(b, cotangent, dA.Slice(k * count, count), dot);
                layout.ForEachRun(origin, ref backward);
            }
        }
    }

    private readonly struct ForwardBody : IParallelBody
    {
        private readonly T* _a;
        private readonly T* _b;
        private readonly int _count;
        private readonly TLayout _layout;
        private readonly int _tileWidth;

        public ForwardBody(T* a, T* b, int count, TLayout layout)
        {
            _a = a;
            _b = b;
            _count = count;
            _layout = layout;
            _tileWidth = layout.LanesInner ? TileWidth(layout.InnerExtent, layout.SliceLength) : 0;
        }

        public int Items => _layout.LanesInner
            ? _layout.SliceCount / _layout.InnerExtent * ((_layout.InnerExtent + _tileWidth - 1) / _tileWidth)
            : _layout.SliceCount;

        public long ElementsPerItem => _layout.LanesInner ? (long)_tileWidth * _layout.SliceLength : _layout.SliceLength;

        public void Run(int first, int end)
        {
            var a = new ReadOnlySpan<T>(_a, _count);
            var b = new Span<T>(_b, _count);
            if (_layout.LanesInner)
            {
                ForwardTiles(a, b, _layout, _tileWidth, first, end);
            }
            else
            {
                ForwardSlices(a, b, _layout, first, end);
            }
        }
    }

    private readonly struct BackwardBody : IParallelBody
    {
        private readonly T* _b;
        private readonly T* _dB;
        private readonly T* _dA;
        private readonly int _count;
        private readonly int _cotangents;
        private readonly TLayout _layout;
        private readonly int _tileWidth;

        public BackwardBody(T* b, T* dB, T* dA, int count, int cotangents, TLayout layout)
        {
            _b = b;
            _dB = dB;
            _dA = dA;
            _count = count;
            _cotangents = cotangents;
            _layout = layout;
            _tileWidth = layout.LanesInner ? TileWidth(layout.InnerExtent, layout.SliceLength) : 0;
        }

        public int Items => _layout.LanesInner
            ? _layout.SliceCount / _layout.InnerExtent * ((_layout.InnerExtent + _tileWidth - 1) / _tileWidth)
            : _layout.SliceCount;

        public long ElementsPerItem => _layout.LanesInner ? (long)_tileWidth * _layout.SliceLength : _layout.SliceLength;

        public void Run(int first, int end)
        {
            var b = new ReadOnlySpan<T>(_b, _count);
            var dB = new ReadOnlySpan<T>(_dB, _count * _cotangents);
            var dA = new Span<T>(_dA, _count * _cotangents);
            if (_layout.LanesInner)
            {
                BackwardTiles(b, dB, dA, _cotangents, _layout, _tileWidth, first, end);
            }
            else
            {
                BackwardSlices(b, dB, dA, _cotangents, _layout, first, end);
            }
        }
    }

    private ref struct MaxRuns(ReadOnlySpan<T> a, int length) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _a = a;
        public TAccumulator Max = TAccumulator.NegativeInfinity;

        public void Visit(int offset) => Max = TOps.Max(_a.Slice(offset, length), Max);
    }

    private ref struct ExpSumRuns(ReadOnlySpan<T> a, Span<T> b, int length, TAccumulator shift) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _a = a;
        private readonly Span<T> _b = b;
        public readonly TAccumulator Shift = shift;
        public TAccumulator Sum = TAccumulator.Zero;

        public void Visit(int offset) => Sum += TOps.ExpSum(_a.Slice(offset, length), _b.Slice(offset, length), Shift);
    }

    private readonly ref struct NormalizeRuns(ReadOnlySpan<T> a, Span<T> b, int length, TAccumulator shift, TAccumulator scale) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _a = a;
        private readonly Span<T> _b = b;

        public void Visit(int offset) => TOps.Normalize(_a.Slice(offset, length), _b.Slice(offset, length), shift, scale);
    }

    private ref struct DotRuns(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, int length) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _b = b;
        private readonly ReadOnlySpan<T> _dB = dB;
        public TAccumulator Dot = TAccumulator.Zero;

        public void Visit(int offset) => Dot += TOps.Dot(_b.Slice(offset, length), _dB.Slice(offset, length));
    }

    private readonly ref struct BackwardRuns(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, int length, TAccumulator dot) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _b = b;
        private readonly ReadOnlySpan<T> _dB = dB;
        private readonly Span<T> _dA = dA;

        public void Visit(int offset) => TOps.Backward(_b.Slice(offset, length), _dB.Slice(offset, length), _dA.Slice(offset, length), dot);
    }

    private readonly ref struct MaxLanes(ReadOnlySpan<T> a, Span<TAccumulator> max) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _a = a;
        private readonly Span<TAccumulator> _max = max;

        public void Visit(int offset) => TOps.MaxLanes(_a.Slice(offset, _max.Length), _max);
    }

    private readonly ref struct ExpSumLanes(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<TAccumulator> shift, Span<TAccumulator> sum) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _a = a;
        private readonly Span<T> _b = b;
        private readonly ReadOnlySpan<TAccumulator> _shift = shift;
        private readonly Span<TAccumulator> _sum = sum;

        public void Visit(int offset) => TOps.ExpSumLanes(_a.Slice(offset, _sum.Length), _b.Slice(offset, _sum.Length), _shift, _sum);
    }

    private readonly ref struct NormalizeLanes(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<TAccumulator> shift, ReadOnlySpan<TAccumulator> scale) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _a = a;
        private readonly Span<T> _b = b;
        private readonly ReadOnlySpan<TAccumulator> _shift = shift;
        private readonly ReadOnlySpan<TAccumulator> _scale = scale;

        public void Visit(int offset) => TOps.NormalizeLanes(_a.Slice(offset, _scale.Length), _b.Slice(offset, _scale.Length), _shift, _scale);
    }

    private readonly ref struct DotLanes(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<TAccumulator> dot) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _b = b;
        private readonly ReadOnlySpan<T> _dB = dB;
        private readonly Span<TAccumulator> _dot = dot;

        public void Visit(int offset) => TOps.DotLanes(_b.Slice(offset, _dot.Length), _dB.Slice(offset, _dot.Length), _dot);
    }

    private readonly ref struct BackwardLanes(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<TAccumulator> dot) : IRunVisitor
    {
        private readonly ReadOnlySpan<T> _b = b;
        private readonly ReadOnlySpan<T> _dB = dB;
        private readonly Span<T> _dA = dA;
        private readonly ReadOnlySpan<TAccumulator> _dot = dot;

        public void Visit(int offset) => TOps.BackwardLanes(_b.Slice(offset, _dot.Length), _dB.Slice(offset, _dot.Length), _dA.Slice(offset, _dot.Length), _dot);
    }
}
