using System;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

/// <summary>How the CPU engine walks a layout.</summary>
internal enum CpuStrategy
{
    /// <summary>A slice at a time, each one contiguous run (the last axis reduced, alone or with its neighbours).</summary>
    Rows,

    /// <summary>A slice at a time, visiting its runs (reduced axes apart from the last one).</summary>
    Slices,

    /// <summary>Tiles of adjacent slices side by side, a lane each (the last axis a batch axis).</summary>
    Lanes,

    /// <summary>Tiles of slices whose short runs lie side by side in rows (a batch group just before the last reduced one).</summary>
    Block,
}

/// <summary>Where a forward keeps what its output is made of (exp(z − shift), or z − shift) between its sum pass and its output pass.</summary>
internal enum CpuKeep
{
    /// <summary>Nowhere: the output pass computes it again from A (slices too long for the scratch, tiles too tall).</summary>
    None,

    /// <summary>In the output itself, rescaled in place (rows, element type computed as itself, not streamed).</summary>
    Output,

    /// <summary>In the per-thread scratch, packed (streamed outputs, <see cref="Half"/>, slices of several runs, tiles).</summary>
    Scratch,
}

/// <summary>The sizes the CPU engine is tuned with.</summary>
internal static class CpuTuning
{
    /// <summary>The per-thread scratch a slice's or tile's values are kept in between passes: within L2 on current cores.</summary>
    public const int ScratchBytes = 512 * 1024;

    /// <summary>
    /// The bytes of a tile's rows: a forward tile's kept values, or each of a backward tile's B and dB, which its write pass
    /// reads again: together they stay within L2.
    /// </summary>
    public const int TileBytes = 256 * 1024;

    /// <summary>The widest row of a tile, in elements: the per-lane arrays hold one.</summary>
    public const int MaxTileWidth = 8192;

    /// <summary>
    /// Rows kept in the output of at most this many bytes, for an operation whose parameter is costly (log-softmax's log
    /// sum), go a vector's width of rows at a time, their parameters computed in one vector operation (measured on one
    /// thread: log-softmax of [65536, 128] floats 10% faster, [262144, 32] 30%; rows of 1 KiB and more gain nothing,
    /// and softmax's 1/sum too little to pay for the grouping).
    /// </summary>
    public const int GroupedRowBytes = 512;

    /// <summary>Runs of at most this many bytes make the slices of a block be processed together (block mode).</summary>
    public const int BlockRunBytes = 512;

    /// <summary>
    /// From this many output bytes on, outputs are written with non-temporal stores: the tensor cannot stay in the
    /// caches anyway, and skipping them saves reading every output line before writing it. A quarter of the last-level
    /// cache, at least 8 MiB: below it, input and output together stay in the cache, and ordinary stores leave the
    /// output there for the next operation (measured with a 300 MiB cache: [8192, 1024] floats 1.13× faster with
    /// ordinary stores, [32768, 1024] 1.11× faster with non-temporal ones).
    /// </summary>
    public static readonly long NonTemporalBytes = Math.Max(8L << 20, LastLevelCacheBytes() / 4);

    /// <summary>
    /// Sums add this many vectors (per lane: this many runs) into a partial sum before adding it to the total, so that
    /// rounding errors grow with (n / block + block) rather than with n.
    /// </summary>
    public const int SumBlock = 64;

    /// <summary>Room for one vector of any width and element type, for partial loads and stores.</summary>
    public const int PadElements = 64;

    /// <summary>
    /// The size of the largest data cache, from CPUID's cache parameters on x86 (leaf 4 on Intel, 0x8000001D on AMD);
    /// 32 MiB where the processor does not say.
    /// </summary>
    private static long LastLevelCacheBytes()
    {
        const long Unknown = 32L << 20;
        if (!X86Base.IsSupported)
        {
            return Unknown;
        }

        int vendorLeaf = X86Base.CpuId(0, 0).Ebx == 0x68747541 ? unchecked((int)0x8000001D) : 4; // "Auth": AMD
        long largest = 0;
        for (int index = 0; index < 16; index++)
        {
            var (eax, ebx, ecx, _) = X86Base.CpuId(vendorLeaf, index);
            int type = eax & 0x1F;
            if (type == 0)
            {
                break;
            }

            if (type is 1 or 3)
            {
                long ways = ((ebx >> 22) & 0x3FF) + 1;
                long partitions = ((ebx >> 12) & 0x3FF) + 1;
                long line = (ebx & 0xFFF) + 1;
                long sets = (uint)ecx + 1L;
                largest = Math.Max(largest, ways * partitions * line * sets);
            }
        }

        return largest > 0 ? largest : Unknown;
    }
}

/// <summary>
/// The CPU engine's decision for one call: the strategy, how outputs are stored, where exp is kept, and for tiles their
/// shape. Made in one place from facts the generated layout knows at compile time and the sizes of the call; it never
/// depends on the number of threads, so neither do the results.
/// </summary>
internal readonly record struct CpuLaunch(CpuStrategy Strategy, bool Stream, CpuKeep Keep, int Group, int Slices, int TileSlices)
{
    /// <summary>Chooses how to run a forward (<paramref name="backward"/> false) or a backward over <paramref name="layout"/>.</summary>
    /// <param name="layout">The generated layout of the call's shape.</param>
    /// <param name="outputBytes">The bytes the call writes (all cotangents of a backward).</param>
    /// <param name="storageSize">Bytes of an element as stored.</param>
    /// <param name="computeSize">Bytes of an element as computed (float for <see cref="Half"/>).</param>
    /// <param name="vector">Elements per vector.</param>
    /// <param name="canStream">Whether the output may take non-temporal stores (the platform can, and it is element-aligned).</param>
    /// <param name="keeps">Whether the call may keep what its sum pass computes for its output pass (a forward does; a
    /// log-sum-exp has no output pass).</param>
    /// <param name="backward">A backward pass (its tiles hold B and dB; it keeps nothing).</param>
    public static CpuLaunch Choose(
        ISoftmaxLayout layout, long outputBytes, int storageSize, int computeSize, int vector, bool canStream, bool keeps, bool backward)
    {
        bool stream = canStream && outputBytes >= EngineDiagnostics.NonTemporalBytes;
        int length = layout.SliceLength;
        if (layout.LanesInner)
        {
            return Tiled(CpuStrategy.Lanes, stream, group: 1, layout.InnerExtent, rows: length, storageSize, computeSize, vector, keeps, backward);
        }

        int run = layout.InnerExtent;
        int rows = length / run;
        if (layout.BlockCapable && layout.InnerBatchExtent >= 2 && rows >= 2 && (long)run * storageSize <= CpuTuning.BlockRunBytes)
        {
            return Tiled(CpuStrategy.Block, stream, group: run, layout.InnerBatchExtent, rows, storageSize, computeSize, vector, keeps, backward);
        }

        var strategy = rows == 1 ? CpuStrategy.Rows : CpuStrategy.Slices;
        var keep = CpuKeep.None;
        if (keeps && !backward)
        {
            // Rows of an element type computed as itself keep their values in the output unless it is streamed (non-temporal
            // stores would have to follow ordinary ones to the same lines); otherwise the scratch holds the slice, if it fits.
            bool inOutput = strategy == CpuStrategy.Rows && storageSize == computeSize && !stream;
            keep = inOutput ? CpuKeep.Output
                : (long)RoundUp(length, vector) * computeSize <= CpuTuning.ScratchBytes ? CpuKeep.Scratch
                : CpuKeep.None;
        }

        return new CpuLaunch(strategy, stream, keep, 0, 0, 0);
    }

    /// <summary>
    /// Tiles of <paramref name="slices"/> side by side (each <paramref name="group"/> elements wide) by <paramref name="rows"/>
    /// runs: as wide as keeps <see cref="CpuTuning.TileBytes"/> (a whole number of vectors and of slices), at most the block.
    /// </summary>
    private static CpuLaunch Tiled(
        CpuStrategy strategy, bool stream, int group, int slices, int rows, int storageSize, int computeSize, int vector, bool keeps, bool backward)
    {
        // The narrowest useful tile is a whole number of vectors and of slices (or the whole block, if narrower).
        int unit = group * (vector / Gcd(group, vector));
        int block = slices * group;
        int narrowest = Math.Min(unit, block);
        long laneBytes = (long)rows * (backward ? storageSize : computeSize);
        bool fits = RoundUp(narrowest, vector) * laneBytes <= CpuTuning.TileBytes;

        // Tiles too tall for the budget still go 1 024 lanes wide: A (or B and dB) is then read again from memory.
        long width = fits ? Math.Max(narrowest, CpuTuning.TileBytes / laneBytes / unit * unit) : RoundUp(1024, unit);
        width = Math.Min(Math.Min(width, CpuTuning.MaxTileWidth / unit * unit), block);
        var keep = keeps && !backward && fits ? CpuKeep.Scratch : CpuKeep.None;
        return new CpuLaunch(strategy, stream, keep, group, slices, (int)width / group);
    }

    private static int RoundUp(int count, int vector) => (count + vector - 1) / vector * vector;

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }

    /// <summary>Slices of a tile's rows (in <see cref="Group"/> elements each).</summary>
    public int Width => TileSlices * Group;

    /// <summary>Tiles across one block of side-by-side slices.</summary>
    public int Tiles => (Slices + TileSlices - 1) / TileSlices;

    /// <summary>Rows of a tile: the runs of one slice.</summary>
    public static int Rows(ISoftmaxLayout layout) => layout.LanesInner ? layout.SliceLength : layout.SliceLength / layout.InnerExtent;

    /// <summary>How many tiles the layout has.</summary>
    public int Items(ISoftmaxLayout layout) => layout.SliceCount / Slices * Tiles;

    /// <summary>The number of the first slice of tile <paramref name="item"/> (slices are numbered row-major over the batch axes).</summary>
    public int FirstSlice(int item) => (item / Tiles * Slices) + (item % Tiles * TileSlices);

    /// <summary>The offset of the first row of tile <paramref name="item"/>, and its width in elements.</summary>
    public int Origin<TLayout>(TLayout layout, int item, out int width)
        where TLayout : struct, ISoftmaxLayout
    {
        int tile = item % Tiles;
        int block = item / Tiles;
        int firstSlice = tile * TileSlices;
        width = Math.Min(TileSlices, Slices - firstSlice) * Group;
        int blockOrigin = layout.LanesInner ? layout.Origin(block) : layout.Origin(block * Slices);
        return blockOrigin + (firstSlice * Group);
    }
}
