using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

/// <summary>The sizes the streaming kernels are tuned with.</summary>
internal static class Streaming
{
    /// <summary>
    /// The per-thread buffer a slice (or a tile of lanes) is gathered into while it is read the first time: every
    /// later pass works on it, contiguous and in L2 whatever the strides of the layout, and B is written once from
    /// it. Pipelined slices use it as two halves (one being computed, one being written out).
    /// </summary>
    internal const int ScratchBytes = 512 * 1024;

    /// <summary>How much of the scratch a tile of lanes may use (a tile and its per-lane passes stay within L2).</summary>
    internal const int TileScratchBytes = 256 * 1024;

    /// <summary>
    /// The widest row of a forward tile, in elements. Forward tiles go in strips of lanes, so a wide tile costs no cache;
    /// scattered [128, 32, 256, 32] measured about 5% faster with 8192 than with 4096 (whole blocks read as one stream).
    /// </summary>
    internal const int ForwardTileWidth = 8192;

    /// <summary>
    /// The widest row of a backward tile, in elements: B's and dB's tiles are read twice (dot, then dA), so they are
    /// kept at about 1 MiB each (8192 measured about 5% slower for scattered [128, 32, 256, 32]).
    /// </summary>
    internal const int BackwardTileWidth = 4096;

    /// <summary>The widest row of any tile, in elements: the per-lane arrays hold one.</summary>
    internal const int MaxTileWidth = ForwardTileWidth;

    /// <summary>A block of adjacent slices up to this size is one tile of whole rows, read in memory order.</summary>
    internal const long BlockBytes = 2L << 20;

    /// <summary>Runs of at most this many bytes make the slices of a block be processed together (block mode).</summary>
    internal const int BlockRunBytes = 512;

    /// <summary>
    /// From this many output bytes on, outputs are written with non-temporal stores: the tensor cannot stay in the
    /// caches anyway, and skipping them saves reading every output line before writing it.
    /// </summary>
    internal const long NonTemporalBytes = 8L << 20;

    /// <summary>
    /// Per-lane sums over the runs of a tile add this many runs into a partial sum before adding it to the total,
    /// so that rounding errors grow with (runs / block + block) rather than with the number of runs. A multiple of 4:
    /// most lane visitors take runs four at a time (<see cref="RunQueue"/>) and flush between groups.
    /// </summary>
    internal const int LaneSumBlock = 64;

    /// <summary>Sums along a run add this many vectors into a partial sum before adding it to the total, for the same reason.</summary>
    internal const nuint SumBlock = 64;

    /// <summary>
    /// Strips of at least this many vectors take their own max (a walk over the tile's runs per strip); narrower ones
    /// (tiles of many runs) take the tile's max first, as one pass: Channels [13, 1500, 340] (strips of one vector)
    /// took 14.7 ms on one core that way and 15.8 ms with a max per strip.
    /// </summary>
    internal const int StripMaxVectors = 8;

    /// <summary>
    /// Where a backward tile's runs lie back to back, its dot pass requests the lines this many runs ahead (two runs
    /// of a 4096-lane tile: 32 KiB ahead in each of B and dB).
    /// </summary>
    internal const int DotAheadRuns = 2;

    /// <summary>Up to this many runs per tile, strips hold the ends of their runs for the next strip (a vector each).</summary>
    internal const int MaxHeldRuns = 512;

    /// <summary>Up to this many elements, row layouts take the lean path of <c>TinyRows</c>.</summary>
    internal const int TinyElements = 4096;

    /// <summary>How much of B (in bytes) the backward pass keeps in cache while every cotangent walks it.</summary>
    internal const long BackwardChunkBytes = 128 * 1024;

    /// <summary>Room for one vector of any width, for padded loads and partial stores.</summary>
    internal const int PadElements = 64;
}

/// <summary>
/// Per-thread, pinned buffers: the scratch of <see cref="Streaming.ScratchBytes"/> and the per-lane arrays of a tile
/// (kept off the stack, which may be small on a caller's thread).
/// </summary>
internal static unsafe class Scratch<T>
    where T : unmanaged
{
    [ThreadStatic]
    private static T[]? buffer;

    [ThreadStatic]
    private static T[]? lanes;

    public static int Length => Streaming.ScratchBytes / sizeof(T);

    /// <summary>
    /// Elements of one per-lane array: a tile's widest row and room for vectors around it (the tiles' kernels start
    /// their arrays one vector in, for windows that begin before the first lane and end past the last).
    /// </summary>
    public static int LaneArray => Streaming.MaxTileWidth + Streaming.PadElements;

    public static T* Get()
    {
        var array = buffer ??= GC.AllocateUninitializedArray<T>(Length, pinned: true);
        return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
    }

    /// <summary>
    /// Four per-lane arrays of <see cref="LaneArray"/> elements, back to back, then room for one vector per run of
    /// a tile (up to <see cref="Streaming.MaxHeldRuns"/> runs).
    /// </summary>
    public static T* Lanes()
    {
        var array = lanes ??= GC.AllocateUninitializedArray<T>((4 * LaneArray) + (Streaming.MaxHeldRuns * Streaming.PadElements), pinned: true);
        return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
    }
}

/// <summary>
/// The CPU forward and backward for <see cref="float"/> and <see cref="double"/>, written over a vector type
/// (<see cref="ISimd{TV, T}"/>) and the generated layout; the JIT compiles one copy per layout and vector type.
/// </summary>
/// <remarks>
/// <para>Forward, per slice (or tile of adjacent slices, one lane each): pass 1 reads A once, from memory, takes the
/// maximum and gathers the slice (tile) contiguously into a per-thread scratch buffer; pass 2 replaces it there
/// by exp(A - max) and sums it; pass 3 writes B = scratch · (1 / sum). B is written once and never read, with
/// non-temporal stores when the tensor is larger than the caches, so memory sees one read of A and one write of
/// B, and the passes after the first work on contiguous data whatever the strides of the layout. A slice longer
/// than the tile budget of the scratch (<see cref="Streaming.TileScratchBytes"/>) and not pipelined writes exp
/// into B and rescales it in place instead.</para>
/// <para>The passes are overlapped where the layout allows, so that memory reads and non-temporal writes spread over
/// the arithmetic instead of coming in bursts (measured: 1.4× on one core for rows): slices of one contiguous run
/// are software-pipelined (pass 2 of slice s also writes slice s - 1 and prefetches slice s + 1); tiles of lanes
/// larger than the scratch go in strips of lanes, each strip taking its max and exp (from L2) while the previous
/// strip is written out and the next one prefetched. Every variant computes the same values in the same order.</para>
/// <para>Backward, per slice (tile) and cotangent k: d = Σ B ∘ dB_k, then dA_k = B ∘ (dB_k - d), written with
/// non-temporal stores for large tensors; B's slice comes from memory once and from the cache for every other k.
/// Rows (streamed, AVX-512, B, dB and dA alike in their lines) go row by row instead, the write of dA_k and the dot
/// of dB_{k+1} in one loop over aligned lines (<see cref="BackwardRowsBody"/>); the sums are the same.</para>
/// </remarks>
[SkipLocalsInit]
internal static unsafe partial class FastKernels<T, TV, TS, TLayout>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TV : unmanaged
    where TS : struct, ISimd<TV, T>
    where TLayout : struct, ISoftmaxLayout
{
    public static void Forward(T* a, T* b, int count, TLayout layout)
    {
        if (count <= Streaming.TinyElements && !layout.LanesInner && layout.SliceLength == layout.InnerExtent)
        {
            TinyRows(a, b, layout);
            return;
        }

        // Non-temporal stores need element-aligned outputs (a span cast from bytes may not be): otherwise plain stores.
        bool stream = Streams(count) && (nuint)b % (nuint)sizeof(T) == 0;
        if (Tiling.For(layout, Streaming.ForwardTileWidth) is { } tiling)
        {
            var body = new ForwardTilesBody(a, b, layout, tiling, stream);
            CpuParallel.For(tiling.Items(layout), tiling.ElementsPerItem(layout), body);
        }
        else
        {
            CpuParallel.For(layout.SliceCount, layout.SliceLength, new ForwardSlicesBody(a, b, layout, stream));
        }
    }

    public static void Backward(T* b, T* dB, T* dA, int count, int cotangents, TLayout layout)
    {
        bool stream = Streams((long)count * cotangents) && (nuint)dA % (nuint)sizeof(T) == 0;
        if (FusesRows(b, dB, dA, count, cotangents, layout, stream))
        {
            CpuParallel.For(layout.SliceCount, (long)layout.SliceLength * cotangents, new BackwardRowsBody(b, dB, dA, count, cotangents, layout));
        }
        else if (Tiling.For(layout, Streaming.BackwardTileWidth) is { } tiling)
        {
            var body = new BackwardTilesBody(b, dB, dA, count, cotangents, layout, tiling, stream);
            CpuParallel.For(tiling.Items(layout), tiling.ElementsPerItem(layout) * cotangents, body);
        }
        else
        {
            CpuParallel.For(layout.SliceCount, (long)layout.SliceLength * cotangents, new BackwardSlicesBody(b, dB, dA, count, cotangents, layout, stream));
        }
    }

    /// <summary>
    /// Tensors of a few rows: the fixed costs (scratch, tiling, the parallel dispatch) would outweigh the work, so each
    /// row is done in place in three tight loops: max, exp written to B with its sum, then B scaled. B stays in L1.
    /// </summary>
    private static void TinyRows(T* a, T* b, TLayout layout)
    {
        T* pad = stackalloc T[Streaming.PadElements];
        nuint length = (nuint)layout.InnerExtent;
        nuint width = (nuint)TS.Count;
        nuint whole = length / width * width;
        nuint rest = length - whole;

        // Where partial vectors are dear (see ISimd.CheapPartial) and rows are at least a vector long, a row's last
        // elements are taken as the whole vector that ends the row, which overlaps the one before it. Its exp and its
        // scaled values are computed before anything is written (A and B may be the same array) and stored after the
        // vectors before them, which it overwrites with the same values; its overlapping lanes are left out of the sum.
        bool overlapped = !TS.CheapPartial && rest > 0 && whole > 0;
        nuint last = overlapped ? length - width : 0;
        bool partial = rest > 0 && !overlapped;
        for (int slice = 0; slice < layout.SliceCount; slice++)
        {
            int origin = layout.Origin(slice);
            T* x = a + origin;
            T* y = b + origin;

            var max = overlapped ? TS.Load(x + last) : TS.Create(T.NegativeInfinity);
            for (nuint i = 0; i < whole; i += width)
            {
                max = TS.Max(max, TS.Load(x + i));
            }

            if (partial)
            {
                max = TS.Max(max, TS.LoadPartial(x + whole, rest, T.NegativeInfinity, pad));
            }

            T top = TS.MaxAcross(max);
            var shift = TS.Create(T.IsNegativeInfinity(top) ? T.Zero : top);
            var end = overlapped ? TS.Exp(TS.Subtract(TS.Load(x + last), shift)) : default;
            var sum = TS.Create(T.Zero);
            for (nuint i = 0; i < whole; i += width)
            {
                var e = TS.Exp(TS.Subtract(TS.Load(x + i), shift));
                TS.Store(e, y + i);
                sum = TS.Add(sum, e);
            }

            if (overlapped)
            {
                TS.Store(end, y + last);
                sum = TS.Add(sum, TS.ZeroFirst(end, whole - last));
            }
            else if (partial)
            {
                var e = TS.Exp(TS.Subtract(TS.LoadPartial(x + whole, rest, T.NegativeInfinity, pad), shift));
                TS.StorePartial(e, y + whole, rest, pad);
                sum = TS.Add(sum, e);
            }

            T total = TS.Sum(sum);
            var scale = TS.Create(total == T.Zero ? T.Zero : T.One / total);
            var scaledEnd = overlapped ? TS.Multiply(TS.Load(y + last), scale) : default;
            for (nuint i = 0; i < whole; i += width)
            {
                TS.Store(TS.Multiply(TS.Load(y + i), scale), y + i);
            }

            if (overlapped)
            {
                TS.Store(scaledEnd, y + last);
            }
            else if (partial)
            {
                TS.StorePartial(TS.Multiply(TS.LoadPartial(y + whole, rest, T.Zero, pad), scale), y + whole, rest, pad);
            }
        }
    }

    private static bool Streams(long count) => TS.CanStream && count * sizeof(T) >= Streaming.NonTemporalBytes;

    /// <summary>
    /// How a layout is cut into tiles of adjacent slices that are processed side by side, as lanes: every run of a tile
    /// is one contiguous row of <see cref="Width"/> elements, and the passes go through the rows in memory order.
    /// </summary>
    /// <remarks>
    /// With lanes (the last axis a batch axis) a slice owns one element of each row (<see cref="Group"/> = 1). In block
    /// mode (the last axis reduced but its runs short, with a batch group before it) the slices of that batch group lie
    /// <see cref="Group"/> = run length apart, so that their runs form rows too: a slice owns <see cref="Group"/>
    /// adjacent elements of each row, reduced together between the passes. Reading whole rows instead of one short
    /// run per slice turns many strided streams into one sequential one.
    /// </remarks>
    private readonly struct Tiling
    {
        /// <summary>Elements of a row that belong to one slice.</summary>
        public readonly int Group;

        /// <summary>Slices side by side in a block: the extent of the innermost batch group.</summary>
        public readonly int Slices;

        /// <summary>Slices in a tile; the last tile of a block may hold fewer.</summary>
        public readonly int TileSlices;

        private Tiling(int group, int slices, int tileSlices)
        {
            Group = group;
            Slices = slices;
            TileSlices = tileSlices;
        }

        /// <summary>Rows of a tile: the runs of one slice.</summary>
        public static int Rows(TLayout layout) => layout.LanesInner ? layout.SliceLength : layout.SliceLength / layout.InnerExtent;

        public int Width => TileSlices * Group;

        public int Tiles => (Slices + TileSlices - 1) / TileSlices;

        public int Items(TLayout layout) => layout.SliceCount / Slices * Tiles;

        public long ElementsPerItem(TLayout layout) => (long)Width * Rows(layout);

        /// <summary>The offset of the first row of tile <paramref name="item"/>, and its width in elements.</summary>
        public int Origin(TLayout layout, int item, out int width)
        {
            int tile = item % Tiles;
            int block = item / Tiles;
            int firstSlice = tile * TileSlices;
            width = Math.Min(TileSlices, Slices - firstSlice) * Group;
            int blockOrigin = layout.LanesInner ? layout.Origin(block) : layout.Origin(block * Slices);
            return blockOrigin + firstSlice * Group;
        }

        /// <summary>
        /// The tiling of a layout with rows of at most <paramref name="maxWidth"/> elements, or null where slices are
        /// best processed one by one (long contiguous runs).
        /// </summary>
        public static Tiling? For(TLayout layout, int maxWidth)
        {
            if (layout.LanesInner)
            {
                return new Tiling(1, layout.InnerExtent, SlicesPerTile(layout.InnerExtent, 1, layout.SliceLength, maxWidth));
            }

            int runLength = layout.InnerExtent;
            int rows = layout.SliceLength / runLength;
            bool shortRuns = (long)runLength * sizeof(T) <= Streaming.BlockRunBytes && runLength <= Streaming.BackwardTileWidth / 2;
            if (rows < 2 || layout.InnerBatchExtent < 2 || !shortRuns)
            {
                return null;
            }

            return new Tiling(runLength, layout.InnerBatchExtent, SlicesPerTile(layout.InnerBatchExtent, runLength, rows, maxWidth));
        }

        /// <summary>
        /// Whole rows where a block fits <see cref="Streaming.BlockBytes"/>, so that it is read as one sequential
        /// stream (rows of up to <paramref name="maxWidth"/> elements, else of up to <see cref="Streaming.BackwardTileWidth"/>);
        /// otherwise as many slices as keep a tile within half the tile budget of the scratch.
        /// </summary>
        private static int SlicesPerTile(int slices, int group, int rows, int maxWidth)
        {
            int widest = Math.Max(1, Streaming.BackwardTileWidth / group);
            foreach (int width in (ReadOnlySpan<int>)[Math.Max(1, maxWidth / group), widest])
            {
                int whole = Math.Min(slices, width);
                if ((long)whole * group * rows * sizeof(T) <= Streaming.BlockBytes)
                {
                    return whole;
                }
            }

            int tileSlices = widest;
            while (tileSlices * group > 2 * TS.Count && (long)tileSlices * group * rows * sizeof(T) > Streaming.TileScratchBytes / 2)
            {
                tileSlices /= 2;
            }

            return Math.Max(1, Math.Min(tileSlices, slices));
        }
    }

    /// <summary>
    /// In block mode each slice owns <paramref name="group"/> adjacent lanes: folds them into one value per slice (their
    /// max, or their sum) and writes it back to all of them.
    /// </summary>
    private static void FoldGroups(T* lanes, int width, int group, bool max)
    {
        if (group % TS.Count == 0)
        {
            // Whole vectors per group: fold them lane-wise, then across the lanes of one vector.
            for (int first = 0; first < width; first += group)
            {
                T* start = lanes + first;
                var fold = TS.Load(start);
                for (int lane = TS.Count; lane < group; lane += TS.Count)
                {
                    fold = max ? TS.Max(fold, TS.Load(start + lane)) : TS.Add(fold, TS.Load(start + lane));
                }

                var value = TS.Create(max ? TS.MaxAcross(fold) : TS.Sum(fold));
                for (int lane = 0; lane < group; lane += TS.Count)
                {
                    TS.Store(value, start + lane);
                }
            }

            return;
        }

        for (int first = 0; first < width; first += group)
        {
            T value = lanes[first];
            for (int lane = first + 1; lane < first + group; lane++)
            {
                value = max ? (lanes[lane] > value ? lanes[lane] : value) : value + lanes[lane];
            }

            for (int lane = first; lane < first + group; lane++)
            {
                lanes[lane] = value;
            }
        }
    }

    /// <summary>How the runs of a tile lie, from one walk over those of the tile at an origin.</summary>
    private struct RunPattern(int origin, int width) : IRunVisitor
    {
        /// <summary>Every run lies a whole number of vectors from the origin (so they all lie alike against the cache lines).</summary>
        public bool Aligned = true;

        /// <summary>The runs follow each other in memory, <c>width</c> apart.</summary>
        public bool BackToBack = true;

        private readonly int _origin = origin;
        private int _next = origin;

        public static RunPattern Of(TLayout layout, int origin, int width)
        {
            var pattern = new RunPattern(origin, width);
            layout.ForEachRun(origin, ref pattern);
            return pattern;
        }

        public void Visit(int offset)
        {
            Aligned &= (offset - _origin) % TS.Count == 0;
            BackToBack &= offset == _next;
            _next = offset + width;
        }
    }

    /// <summary>
    /// The widest strip of a tile's lanes (a multiple of the vector and of the group) whose rows fit
    /// <paramref name="scratchLength"/> elements, or 0 where not even the narrowest does.
    /// </summary>
    private static int StripLanes(int rows, int group, int scratchLength)
    {
        int unit = TS.Count;
        while (unit % group != 0)
        {
            unit += TS.Count;
        }

        long room = (scratchLength - TS.Count) / Math.Max(1, rows);
        return (int)Math.Min(room / unit * unit, Streaming.MaxTileWidth);
    }

    /// <summary>
    /// Turns per-lane sums into the scales B is written with: adds the pending partial sums, folds the lanes of a
    /// slice together in block mode, and takes 1 / sum (0 for a slice that sums to 0).
    /// </summary>
    private static void Finish(T* partial, T* scale, int width, int group)
    {
        nuint rounded = RoundUp(width);
        Flush(partial, scale, rounded);
        if (group > 1)
        {
            FoldGroups(scale, width, group, max: false);
        }

        for (nuint j = 0; j < rounded; j += (nuint)TS.Count)
        {
            TS.Store(TS.Reciprocal(TS.Load(scale + j)), scale + j);
        }
    }

    /// <summary><paramref name="count"/> rounded up to whole vectors.</summary>
    private static nuint RoundUp(long count) => ((nuint)count + (nuint)TS.Count - 1) / (nuint)TS.Count * (nuint)TS.Count;

    private static void Fill(T* destination, nuint first, nuint end, T value)
    {
        for (nuint i = first; i < end; i++)
        {
            destination[i] = value;
        }
    }

    /// <summary>Writes exp(x - shift) over x (whole vectors) and returns its sum, added up by blocks of vectors.</summary>
    private static T ExpInPlace(T* x, nuint length, T shift)
    {
        T* nowhere = null;
        return ExpInPlaceWriting(x, length, shift, null, 0, null, T.Zero, ref nowhere, 0, stream: false);
    }

    /// <summary>Asks for the cache line holding <paramref name="address"/> to be brought in (never faults; a no-op without SSE).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(T* address)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(address);
        }
    }

    /// <summary>
    /// Writes exp(x - shift) over x (whole vectors; none when x is null) and returns its sum, added up by blocks of
    /// vectors; meanwhile it writes the whole vectors of source · scale
    /// (a slice of <paramref name="length"/> elements, from element <paramref name="write"/>; none when source is null)
    /// at <paramref name="line"/> and on (advancing it), a vector per vector of exp, and requests the lines of
    /// <paramref name="length"/> elements at <paramref name="ahead"/> (none when null).
    /// </summary>
    private static T ExpInPlaceWriting(T* x, nuint padded, T shift, T* ahead, nuint length, T* source, T scale, ref T* line, nuint write, bool stream)
    {
        nuint width = (nuint)TS.Count;
        var shiftVector = TS.Create(shift);
        var scaleVector = TS.Create(scale);
        var total = TS.Create(T.Zero);
        T* destination = line - write;
        nuint writeEnd = source == null ? 0 : write + (length - write) / width * width;
        nuint aheadEnd = ahead != null ? length : 0;
        for (nuint start = 0; start < padded; start += Streaming.SumBlock * width)
        {
            nuint end = Math.Min(padded, start + Streaming.SumBlock * width);
            var sum = TS.Create(T.Zero);
            for (nuint i = start; i < end; i += width)
            {
                if (i < aheadEnd)
                {
                    Prefetch(ahead + i);
                }

                var e = TS.Exp(TS.Subtract(TS.Load(x + i), shiftVector));
                TS.Store(e, x + i);
                sum = TS.Add(sum, e);
                if (write < writeEnd)
                {
                    Put(TS.Multiply(TS.Load(source + write), scaleVector), destination + write, stream);
                    write += width;
                }
            }

            total = TS.Add(total, sum);
        }

        for (; write < writeEnd; write += width)
        {
            Put(TS.Multiply(TS.Load(source + write), scaleVector), destination + write, stream);
        }

        line = destination + write;
        return TS.Sum(total);
    }

    /// <summary>total[k] += partial[k]; partial[k] = 0, over whole vectors.</summary>
    private static void Flush(T* partial, T* total, nuint rounded)
    {
        for (nuint j = 0; j < rounded; j += (nuint)TS.Count)
        {
            TS.Store(TS.Add(TS.Load(total + j), TS.Load(partial + j)), total + j);
            TS.Store(TS.Create(T.Zero), partial + j);
        }
    }

    private static void Fence(bool stream)
    {
        if (stream && Sse.IsSupported)
        {
            Sse.StoreFence();
        }
    }

    /// <summary>Stores a whole vector: non-temporal (to an aligned destination) when streaming, else plain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Put(TV value, T* destination, bool stream)
    {
        if (stream)
        {
            TS.StoreAlignedNonTemporal(value, destination);
        }
        else
        {
            TS.Store(value, destination);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV LoadPadded(T* pad, T* source, nuint count, T padding) => TS.LoadPartial(source, count, padding, pad);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StorePartial(T* pad, TV value, T* destination, nuint count) => TS.StorePartial(value, destination, count, pad);

    /// <summary>How many leading elements of <paramref name="destination"/> to store one by one so that the rest is vector-aligned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Peel(T* destination)
    {
        nuint bytes = (nuint)TS.Count * (nuint)sizeof(T);
        nuint misalignment = (nuint)destination % bytes;
        return misalignment == 0 || misalignment % (nuint)sizeof(T) != 0 ? 0 : (bytes - misalignment) / (nuint)sizeof(T);
    }

    /// <summary>How many elements <paramref name="source"/> lies past the vector boundary before it (0 when not element-aligned).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Behind(T* source)
    {
        nuint misalignment = (nuint)source % ((nuint)TS.Count * (nuint)sizeof(T));
        return misalignment % (nuint)sizeof(T) != 0 ? 0 : misalignment / (nuint)sizeof(T);
    }

    /// <summary>destination = source · scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleStore(T* source, T* destination, nuint length, T scale, bool stream)
    {
        nuint width = (nuint)TS.Count;
        var scaleVector = TS.Create(scale);
        nuint i = 0;
        if (stream && length >= 2 * width && (nuint)destination % (nuint)sizeof(T) == 0)
        {
            for (nuint peel = Peel(destination); i < peel; i++)
            {
                destination[i] = source[i] * scale;
            }

            for (; i + width <= length; i += width)
            {
                TS.StoreAlignedNonTemporal(TS.Multiply(TS.Load(source + i), scaleVector), destination + i);
            }
        }

        for (; i + width <= length; i += width)
        {
            TS.Store(TS.Multiply(TS.Load(source + i), scaleVector), destination + i);
        }

        for (; i < length; i++)
        {
            destination[i] = source[i] * scale;
        }
    }

    /// <summary>destination[k] = source[k] · scale[k].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ScaleStoreLanes(T* source, T* destination, T* scale, nuint length, bool stream)
    {
        nuint width = (nuint)TS.Count;
        nuint i = 0;
        if (stream && length >= 2 * width && (nuint)destination % (nuint)sizeof(T) == 0)
        {
            for (nuint peel = Peel(destination); i < peel; i++)
            {
                destination[i] = source[i] * scale[i];
            }

            for (; i + width <= length; i += width)
            {
                TS.StoreAlignedNonTemporal(TS.Multiply(TS.Load(source + i), TS.Load(scale + i)), destination + i);
            }
        }

        for (; i + width <= length; i += width)
        {
            TS.Store(TS.Multiply(TS.Load(source + i), TS.Load(scale + i)), destination + i);
        }

        for (; i < length; i++)
        {
            destination[i] = source[i] * scale[i];
        }
    }

    /// <summary>dA = b ∘ (dB - dot).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BackwardStore(T* b, T* dB, T* dA, nuint length, T dot, bool stream)
    {
        nuint width = (nuint)TS.Count;
        var dotVector = TS.Create(dot);
        nuint i = 0;
        if (stream && length >= 2 * width && (nuint)dA % (nuint)sizeof(T) == 0)
        {
            for (nuint peel = Peel(dA); i < peel; i++)
            {
                dA[i] = b[i] * (dB[i] - dot);
            }

            for (; i + width <= length; i += width)
            {
                TS.StoreAlignedNonTemporal(TS.Multiply(TS.Load(b + i), TS.Subtract(TS.Load(dB + i), dotVector)), dA + i);
            }
        }

        for (; i + width <= length; i += width)
        {
            TS.Store(TS.Multiply(TS.Load(b + i), TS.Subtract(TS.Load(dB + i), dotVector)), dA + i);
        }

        for (; i < length; i++)
        {
            dA[i] = b[i] * (dB[i] - dot);
        }
    }

    /// <summary>dA[k] = b[k] · (dB[k] - dot[k]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BackwardStoreLanes(T* b, T* dB, T* dA, T* dot, nuint length, bool stream)
    {
        nuint width = (nuint)TS.Count;
        nuint i = 0;
        if (stream && length >= 2 * width && (nuint)dA % (nuint)sizeof(T) == 0)
        {
            for (nuint peel = Peel(dA); i < peel; i++)
            {
                dA[i] = b[i] * (dB[i] - dot[i]);
            }

            for (; i + width <= length; i += width)
            {
                TS.StoreAlignedNonTemporal(TS.Multiply(TS.Load(b + i), TS.Subtract(TS.Load(dB + i), TS.Load(dot + i))), dA + i);
            }
        }

        for (; i + width <= length; i += width)
        {
            TS.Store(TS.Multiply(TS.Load(b + i), TS.Subtract(TS.Load(dB + i), TS.Load(dot + i))), dA + i);
        }

        for (; i < length; i++)
        {
            dA[i] = b[i] * (dB[i] - dot[i]);
        }
    }

    private readonly struct ForwardSlicesBody(T* a, T* b, TLayout layout, bool stream) : IParallelBody
    {
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[Streaming.PadElements];
            T* scratch = Scratch<T>.Get();
            int length = layout.InnerExtent;
            int sliceLength = layout.SliceLength;
            nuint padded = RoundUp(sliceLength);
            // Gathering pays while the slice stays within the tile budget; past it, exp goes to B and is rescaled there.
            bool gather = padded + (nuint)TS.Count <= (nuint)(Streaming.TileScratchBytes / sizeof(T));
            if (length == sliceLength && 2 * (padded + (nuint)TS.Count) <= (nuint)Scratch<T>.Length)
            {
                PipelinedRows(first, end, scratch, padded, pad);
                return;
            }

            for (int slice = first; slice < end; slice++)
            {
                int origin = layout.Origin(slice);
                if (gather)
                {
                    // Pass 1 reads A once and gathers it, contiguous, into scratch; -inf pads the last vector.
                    var max = new GatherMaxRuns(a, scratch, length, pad);
                    layout.ForEachRun(origin, ref max);
                    Fill(scratch, (nuint)sliceLength, padded, T.NegativeInfinity);
                    T shift = max.Result;
                    T sum = ExpInPlace(scratch, padded, T.IsNegativeInfinity(shift) ? T.Zero : shift);
                    var write = new WriteRuns(scratch, b, length, sum == T.Zero ? T.Zero : T.One / sum, packed: true, stream);
                    layout.ForEachRun(origin, ref write);
                }
                else
                {
                    // A slice longer than the scratch: exp goes to B, then B is rescaled in place.
                    var max = new MaxRuns(a, length, pad);
                    layout.ForEachRun(origin, ref max);
                    T shift = max.Result;
                    var exp = new ExpRuns(a, b, length, T.IsNegativeInfinity(shift) ? T.Zero : shift, packed: false, pad);
                    layout.ForEachRun(origin, ref exp);
                    T sum = exp.Result;
                    var write = new WriteRuns(b, b, length, sum == T.Zero ? T.Zero : T.One / sum, packed: false, stream: false);
                    layout.ForEachRun(origin, ref write);
                }
            }

            Fence(stream);
        }

        /// <summary>
        /// Slices that are one contiguous run each, two scratch halves in turn: while slice s is turned into exp in one
        /// half, slice s - 1 is written out of the other, a vector of B per vector of exp, and slice s + 1 is requested
        /// a line per vector. The non-temporal stores and the memory reads then spread over the arithmetic instead of
        /// coming in bursts. B is the same, bit for bit, as written by the three separate passes.
        /// </summary>
        private void PipelinedRows(int first, int end, T* scratch, nuint padded, T* pad)
        {
            nuint n = (nuint)layout.SliceLength;
            T* halves0 = scratch;
            T* halves1 = scratch + padded + (nuint)TS.Count;
            T* pending = null;
            T pendingScale = T.Zero;
            T* held = stackalloc T[2 * Streaming.PadElements];
            var writer = new StreamWriter(stream, held);
            for (int slice = first; slice < end; slice++)
            {
                int origin = layout.Origin(slice);
                T* x = (slice & 1) == 0 ? halves0 : halves1;
                var max = new GatherMaxRuns(a, x, (int)n, pad);
                max.Visit(origin);
                Fill(x, n, padded, T.NegativeInfinity);
                T shift = max.Result;
                T* ahead = slice + 1 < end ? a + layout.Origin(slice + 1) : null;
                T sum = Pipelined(x, padded, T.IsNegativeInfinity(shift) ? T.Zero : shift, ahead, n, pending, pendingScale, ref writer);
                pending = x;
                pendingScale = sum == T.Zero ? T.Zero : T.One / sum;
                writer.Next(b + origin);
            }

            if (pending != null)
            {
                Pipelined(null, 0, T.Zero, null, n, pending, pendingScale, ref writer);
            }

            writer.Finish();
            Fence(stream);
        }

        /// <summary>Pass 2 of a slice, writing the pending one through the writer.</summary>
        private static T Pipelined(T* x, nuint padded, T shift, T* ahead, nuint n, T* pending, T scale, ref StreamWriter writer)
        {
            nuint written = pending == null ? 0 : writer.Begin(pending, n, scale);
            T* line = writer.Line;
            T sum = ExpInPlaceWriting(x, padded, shift, ahead, n, pending, scale, ref line, written, writer.Streams);
            if (pending != null)
            {
                writer.Line = line;
                nuint whole = written + (n - written) / (nuint)TS.Count * (nuint)TS.Count;
                writer.End(pending, n, whole, scale);
            }

            return sum;
        }
    }

    private readonly struct BackwardSlicesBody(T* b, T* dB, T* dA, int count, int cotangents, TLayout layout, bool stream) : IParallelBody
    {
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[Streaming.PadElements];
            int length = layout.InnerExtent;
            // Slices go in chunks of about BackwardChunkBytes of B: each cotangent walks the whole chunk, so B comes from
            // memory once (k = 0) and from L2 for the others, while dB_k and dA_k stay single sequential streams.
            int chunk = (int)Math.Clamp(Streaming.BackwardChunkBytes / Math.Max(1L, (long)layout.SliceLength * sizeof(T)), 1, int.MaxValue);
            for (int start = first; start < end; start += chunk)
            {
                int stop = Math.Min(end, start + chunk);
                for (int k = 0; k < cotangents; k++)
                {
                    T* cotangent = dB + (nint)k * count;
                    for (int slice = start; slice < stop; slice++)
                    {
                        int origin = layout.Origin(slice);
                        var dot = new DotRuns(b, cotangent, length, pad);
                        layout.ForEachRun(origin, ref dot);
                        var write = new BackwardRuns(b, cotangent, dA + (nint)k * count, length, dot.Result, stream);
                        layout.ForEachRun(origin, ref write);
                    }
                }
            }

            Fence(stream);
        }
    }

    private readonly struct ForwardTilesBody(T* a, T* b, TLayout layout, Tiling tiling, bool stream) : IParallelBody
    {
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[Streaming.PadElements];
            // One vector before shift, scale and partial is theirs too: a strip's aligned window may start there.
            T* perLane = Scratch<T>.Lanes();
            T* shift = perLane + TS.Count;
            T* scale = perLane + Scratch<T>.LaneArray + TS.Count;
            T* partial = perLane + (2 * Scratch<T>.LaneArray) + TS.Count;
            T* pendingScale = perLane + (3 * Scratch<T>.LaneArray);
            T* scratch = Scratch<T>.Get();
            int rows = Tiling.Rows(layout);
            int group = tiling.Group;
            nuint vector = (nuint)TS.Count;
            nuint pitch = RoundUp(tiling.Width);
            nuint tileScratch = (nuint)(Streaming.TileScratchBytes / sizeof(T));
            bool gather = pitch * (nuint)rows + vector <= tileScratch;
            nuint half = tileScratch / 2;
            // In block mode a strip's rows are read over a window widened to whole aligned vectors (see below), which
            // takes up to a vector more per row of scratch: only where the strips stay wide enough to take their own max.
            int strip = gather ? 0 : StripLanes(rows, group, (int)half);
            bool window = !gather && group > 1 && (nuint)a % (nuint)sizeof(T) == 0 && RunPattern.Of(layout, tiling.Origin(layout, first, out int firstWidth), firstWidth).Aligned;
            if (window)
            {
                int narrower = StripLanes(rows, group, (int)half - (rows * TS.Count));
                window = narrower >= Streaming.StripMaxVectors * TS.Count;
                strip = window ? narrower : strip;
            }

            PendingStrip pending = default;
            int pendingOrigin = 0;
            bool holding = stream && rows <= Streaming.MaxHeldRuns;
            T* held = perLane + (4 * Scratch<T>.LaneArray);
            bool heldBefore = false;
            int strips = 0;
            for (int item = first; item < end; item++)
            {
                int origin = tiling.Origin(layout, item, out int width);
                nuint rounded = RoundUp(width);

                var negativeInfinity = TS.Create(T.NegativeInfinity);
                for (nuint j = 0; j < rounded; j += vector)
                {
                    TS.Store(negativeInfinity, shift + j);
                    TS.Store(TS.Create(T.Zero), scale + j);
                    TS.Store(TS.Create(T.Zero), partial + j);
                }

                if (gather)
                {
                    // Pass 1 reads the tile once and gathers it into scratch, one row of pitch elements per run.
                    var max = new GatherMaxLanes(a, scratch, shift, width, pitch, pad);
                    layout.ForEachRun(origin, ref max);
                    if (group > 1)
                    {
                        FoldGroups(shift, width, group, max: true);
                    }

                    for (nuint j = 0; j < rounded; j += vector)
                    {
                        TS.Store(TS.Shift(TS.Load(shift + j)), shift + j);
                    }

                    for (nuint row = 0; row < (nuint)rows; row++)
                    {
                        T* x = scratch + row * pitch;
                        for (nuint j = 0; j < rounded; j += vector)
                        {
                            var e = TS.Exp(TS.Subtract(TS.Load(x + j), TS.Load(shift + j)));
                            TS.Store(e, x + j);
                            TS.Store(TS.Add(TS.Load(partial + j), e), partial + j);
                        }

                        if ((row + 1) % Streaming.LaneSumBlock == 0)
                        {
                            Flush(partial, scale, rounded);
                        }
                    }
                }
                else
                {
                    // Strips of a few vectors take their max with the whole tile's (see Streaming.StripMaxVectors).
                    bool stripMax = strip >= Streaming.StripMaxVectors * (int)vector;
                    if (!stripMax)
                    {
                        var tileMax = new MaxLanes(a, shift, width, pad);
                        layout.ForEachRun(origin, ref tileMax);
                        tileMax.Complete();
                        if (group > 1)
                        {
                            FoldGroups(shift, width, group, max: true);
                        }

                        for (nuint j = 0; j < rounded; j += vector)
                        {
                            TS.Store(TS.Shift(TS.Load(shift + j)), shift + j);
                        }
                    }

                    if (strip > 0)
                    {
                        // The tile does not fit the scratch, but a strip of its lanes does: each strip takes its max
                        // (unless the tile's was taken above), then its exp is gathered (A read again, from L2) and summed,
                        // and written out while the next strip is computed. Meanwhile the next strip is requested, a line
                        // per vector (a line of each run per vector of this strip): its memory read overlaps this
                        // arithmetic instead of following it, and a strip (unlike a whole tile) stays in L2 until its
                        // second read. With the tile's max taken first, the strips request the same lanes of the next
                        // tile instead (its runs lie at the same offsets from its origin), so that its max pass reads from
                        // the cache. The strips alternate between the two halves of the scratch: the one written last
                        // is written out to B while the next is computed (this tile's next strip, or the next tile's first).
                        nint nextTile = item + 1 < end ? tiling.Origin(layout, item + 1, out _) - origin : 0;
                        int head = group == 1 && stream ? (int)Peel(b + origin) : 0;
                        int lanes;
                        for (int lane = 0; lane < width; lane += lanes)
                        {
                            // Strips after the first start on an aligned line of the first run (of every run, when the
                            // runs are whole lines apart), so that their rows of B are written in whole lines.
                            lanes = lane == 0 && head > 0 ? Math.Min(width, head + strip - (int)vector) : Math.Min(strip, width - lane);
                            nuint stripPitch = RoundUp(lanes);
                            nint ahead = nextTile;

                            // In block mode a strip starts on a slice, which is where the runs' vectors start, however A
                            // lies against the cache lines (the strips of [128, 32, 256, 32] all start 24 bytes into a
                            // line in the benchmark's arrays: every load split over two lines cost 12% on one core).
                            // There the max and exp passes read the strip's runs over a window that starts `before`
                            // lanes earlier, on a vector boundary, and ends on one: whole aligned vectors, each within a
                            // line that holds lanes of the strip, so never past the tensor's pages. The lanes outside the
                            // strip are computed and thrown away: before it, the previous strip's lanes (done with: its
                            // scales are in pendingScale) or the vector the per-lane arrays keep in front; after it, the next
                            // strip's lanes, which it clears before its own passes.
                            bool widen = window && stripMax;
                            nint before = widen ? (nint)Behind(a + origin + lane) : 0;
                            nuint windowPitch = widen ? RoundUp(lanes + before) : stripPitch;
                            int passWidth = widen ? (int)windowPitch : lanes;
                            if (widen)
                            {
                                for (nuint j = 0; j < stripPitch; j += vector)
                                {
                                    TS.Store(TS.Create(T.Zero), scale + lane + j);
                                    TS.Store(TS.Create(T.Zero), partial + lane + j);
                                }
                            }

                            if (stripMax)
                            {
                                // Each strip is a set of whole slices: its max is taken from its own lanes, which the
                                // previous strip requested, so that they come from L2 rather than from memory.
                                for (nuint j = 0; j < windowPitch; j += vector)
                                {
                                    TS.Store(negativeInfinity, shift + lane - before + j);
                                }

                                var max = new MaxLanes(a + lane - before, shift + lane - before, passWidth, pad);
                                layout.ForEachRun(origin, ref max);
                                max.Complete();
                                if (group > 1)
                                {
                                    FoldGroups(shift + lane, lanes, group, max: true);
                                }

                                // A strip narrower than whole vectors also shifts the first lanes of the next strip's
                                // -inf: that strip sets its own lanes to -inf again before taking its max.
                                for (nuint j = 0; j < stripPitch; j += vector)
                                {
                                    TS.Store(TS.Shift(TS.Load(shift + lane + j)), shift + lane + j);
                                }

                                // Requested meanwhile: this tile's next strip, or after the last the next tile's first
                                // lanes (as many as this strip has).
                                ahead = lane + lanes < width ? lanes : (nextTile == 0 ? 0 : nextTile - lane);
                            }

                            T* target = (strips++ & 1) == 0 ? scratch : scratch + half;
                            var writing = pending.IsEmpty ? default : pending.At(b + pendingOrigin - origin);
                            var exp = new ExpGatherLanes(a + lane - before, target, shift + lane - before, partial + lane - before, scale + lane - before, passWidth, windowPitch, ahead, pad, writing, stream);
                            layout.ForEachRun(origin, ref exp);
                            exp.Complete();
                            Finish(partial + lane, scale + lane, lanes, group);
                            for (nuint j = 0; j < stripPitch; j += vector)
                            {
                                TS.Store(TS.Load(scale + lane + j), pendingScale + j);
                            }

                            // Within a tile, consecutive strips of a run meet mid-line: the first holds its end for the next.
                            bool joinHead = holding && lane > 0 && heldBefore;
                            // Only when the next strip is at least a vector wide: a narrower one cannot complete the line.
                            bool holdTail = holding && width - (lane + lanes) >= (int)vector;
                            heldBefore = holdTail && lanes >= (int)vector;
                            pending = new PendingStrip(target + before, windowPitch, null, pendingScale, lanes, held, joinHead, holdTail);
                            pendingOrigin = origin + lane;
                        }

                        continue;
                    }

                    // Not even a strip fits: sum now, and compute exp again when writing B (B is never read).
                    var sum = new ExpSumLanes(a, shift, partial, scale, width, pad);
                    layout.ForEachRun(origin, ref sum);
                }

                Finish(partial, scale, width, group);
                if (gather)
                {
                    var write = new WriteLanes(scratch, b, scale, width, (int)pitch, stream);
                    layout.ForEachRun(origin, ref write);
                }
                else
                {
                    var write = new ExpWriteLanes(a, b, shift, scale, width, stream, pad);
                    layout.ForEachRun(origin, ref write);
                }
            }

            if (!pending.IsEmpty)
            {
                // The walk from the strip's first lane visits the starts of its runs (runs sit at fixed offsets from an origin).
                var write = new WritePending(pending.At(b), stream, pad);
                layout.ForEachRun(pendingOrigin, ref write);
            }

            Fence(stream);
        }
    }

    private readonly struct BackwardTilesBody(T* b, T* dB, T* dA, int count, int cotangents, TLayout layout, Tiling tiling, bool stream) : IParallelBody
    {
        public void Run(int first, int end)
        {
            T* pad = stackalloc T[Streaming.PadElements];
            // One vector before dot and partial is theirs too: the dot pass's aligned window may start there.
            T* dot = Scratch<T>.Lanes() + TS.Count;
            T* partial = dot + Scratch<T>.LaneArray;
            int group = tiling.Group;
            nuint vector = (nuint)TS.Count;
            int firstOrigin = tiling.Origin(layout, first, out int firstWidth);
            var runs = RunPattern.Of(layout, firstOrigin, firstWidth);
            bool window = (nuint)b % (nuint)sizeof(T) == 0 && runs.Aligned;
            // Where a tile's runs lie back to back (a whole block, as in channels) and are at least a KiB long, the dot
            // pass requests the lines two runs ahead of those it adds up (see DotLanes), past the tile's end into what
            // follows it. Measured on two cores: channels [128, 64, 4096] 9.72 -> 8.93 ms, [13, 1500, 340] 2.80 -> 2.35 ms.
            // (Not without SSE's prefetch: the one-run-at-a-time loop gains nothing there. Tiles of one run are left
            // out: their widths may differ within a block.)
            bool backToBack = Sse.IsSupported && Tiling.Rows(layout) >= 2 && (long)firstWidth * sizeof(T) >= 1024 && runs.BackToBack;
            nint ahead = backToBack ? Streaming.DotAheadRuns * (nint)firstWidth : 0;
            for (int item = first; item < end; item++)
            {
                int origin = tiling.Origin(layout, item, out int width);
                for (int k = 0; k < cotangents; k++)
                {
                    // As the forward's strips: where B's and dB_k's runs lie alike against the cache lines, the dot pass
                    // reads them over a window widened to whole aligned vectors (lanes outside the tile are thrown away).
                    T* cotangent = dB + (nint)k * count;
                    nuint behind = Behind(b + origin);
                    nint before = window && Behind(cotangent + origin) == behind ? (nint)behind : 0;
                    nuint rounded = RoundUp(width + before);
                    int passWidth = before == 0 ? width : (int)rounded;

                    // B's tile comes from memory for k = 0 and from the cache for the other cotangents.
                    for (nuint j = 0; j < rounded; j += vector)
                    {
                        TS.Store(TS.Create(T.Zero), dot - before + j);
                        TS.Store(TS.Create(T.Zero), partial - before + j);
                    }

                    var sum = new DotLanes(b - before, cotangent - before, partial - before, dot - before, passWidth, ahead, pad);
                    layout.ForEachRun(origin, ref sum);
                    sum.Complete();
                    Flush(partial - before, dot - before, rounded);
                    if (group > 1)
                    {
                        FoldGroups(dot, width, group, max: false);
                    }

                    var write = new BackwardLanes(b, cotangent, dA + (nint)k * count, dot, width, stream);
                    layout.ForEachRun(origin, ref write);
                }
            }

            Fence(stream);
        }
    }
}

/// <summary>
/// Which vector type the float and double kernels take for the calls made from the current thread: the widest
/// accelerated one, unless a test asks for <see cref="Vector{T}"/> (the type of AVX2 and ARM machines) so that the
/// kernels those machines run are tested where Vector512 is accelerated too.
/// </summary>
internal static class KernelWidth
{
    [ThreadStatic]
    private static bool vectorOnly;

    /// <summary>Whether calls from this thread take the <see cref="Vector{T}"/> kernels whatever else is accelerated.</summary>
    public static bool VectorOnly
    {
        get => vectorOnly;
        set => vectorOnly = value;
    }

    /// <summary>Whether calls from this thread take the Vector512 kernels.</summary>
    public static bool Vector512 => System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && !vectorOnly;
}

/// <summary>Entry of the float and double kernels: pins the spans and picks the vector type (see <see cref="KernelWidth"/>).</summary>
internal static unsafe class FastSoftmax<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Forward<TLayout>(ReadOnlySpan<T> a, Span<T> b, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
    {
        if (a.IsEmpty)
        {
            return;
        }

        fixed (T* source = a)
        fixed (T* destination = b)
        {
            if (KernelWidth.Vector512)
            {
                FastKernels<T, System.Runtime.Intrinsics.Vector512<T>, Simd512<T>, TLayout>.Forward(source, destination, a.Length, layout);
            }
            else
            {
                FastKernels<T, Vector<T>, SimdVector<T>, TLayout>.Forward(source, destination, a.Length, layout);
            }
        }
    }

    public static void Backward<TLayout>(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, int cotangents, TLayout layout)
        where TLayout : struct, ISoftmaxLayout
    {
        if (b.IsEmpty)
        {
            return;
        }

        fixed (T* output = b)
        fixed (T* cotangent = dB)
        fixed (T* destination = dA)
        {
            if (KernelWidth.Vector512)
            {
                FastKernels<T, System.Runtime.Intrinsics.Vector512<T>, Simd512<T>, TLayout>.Backward(output, cotangent, destination, b.Length, cotangents, layout);
            }
            else
            {
                FastKernels<T, Vector<T>, SimdVector<T>, TLayout>.Backward(output, cotangent, destination, b.Length, cotangents, layout);
            }
        }
    }
}
