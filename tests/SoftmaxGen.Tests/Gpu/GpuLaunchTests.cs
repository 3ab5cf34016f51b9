using System;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The launch decision from a device's limits alone, no device needed: an H100-like device (32-wide warps, 48 KB of
/// shared memory a group without opting in, 227 KB with) against the same device without the opt-in (any accelerator
/// other than CUDA), and which rows a warp, or the warps of a group, hold in registers.
/// </summary>
public sealed class GpuLaunchTests
{
    private static readonly GpuDevice H100 = new(WarpSize: 32, MaxGroupSize: 1024, SharedPerGroup: 48 * 1024, SharedOptIn: 227 * 1024, Multiprocessors: 132, ThreadsPerMultiprocessor: 2048);

    private static readonly GpuDevice WithoutOptIn = H100 with { SharedOptIn = 0 };

    /// <summary>
    /// Opting in leaves 227 · 1 024 − 64 scratch accumulators: 58 048 floats (the scratch of 256 bytes) or 28 992 doubles
    /// (512 bytes). A Half forward pass keeps floats (logits, then exponentials), as a float one does; a Half backward
    /// pass keeps B as stored, 2 bytes an element: rows twice as long (24 448 within 48 KB, 116 096 opted in).
    /// </summary>
    [Theory]
    [InlineData(4, 4, 12_000, false, "Cached", false)]   // 48 000 bytes: within 48 KB less the scratch
    [InlineData(4, 4, 12_224, false, "Cached", false)]   // 48 896: just within
    [InlineData(4, 4, 12_225, false, "Cached", true)]    // just past: opts in
    [InlineData(4, 4, 58_048, false, "Cached", true)]    // the opt-in maximum less the scratch
    [InlineData(4, 4, 58_049, false, "Streamed", false)]
    [InlineData(8, 8, 28_992, false, "Cached", true)]
    [InlineData(8, 8, 28_993, false, "Streamed", false)]
    [InlineData(4, 4, 9_000, true, "Cached", false)]     // backward: B's row within 48 KB, the cotangent's not beside it
    [InlineData(4, 4, 20_000, true, "Cached", true)]     // backward: B's row alone, opted in
    [InlineData(4, 4, 60_000, true, "Streamed", false)]
    [InlineData(4, 2, 12_224, false, "Cached", false)]   // Half forward: floats in shared memory
    [InlineData(4, 2, 12_225, false, "Cached", true)]
    [InlineData(4, 2, 24_448, true, "Cached", false)]    // Half backward: 48 896 bytes of halves, just within
    [InlineData(4, 2, 24_449, true, "Cached", true)]
    [InlineData(4, 2, 116_096, true, "Cached", true)]    // the opt-in maximum less the scratch, in halves
    [InlineData(4, 2, 116_097, true, "Streamed", false)]
    public void RowsPastFortyEightKilobytesOptInWhereTheDeviceAllows(int accumulatorSize, int storageSize, int length, bool backward, string strategy, bool optIn)
    {
        var launch = GpuLaunch.Choose(H100, lanesInner: false, slices: 1000, length, accumulatorSize, storageSize, backward, runs: 1);
        Assert.Equal((System.Enum.Parse<GpuStrategy>(strategy), optIn), (launch.Strategy, launch.SharedOptIn));
        Assert.False(launch.CotangentCached);
        Assert.Equal(launch.Strategy == GpuStrategy.Cached ? length : 0, launch.SharedElements);
        int cachedSize = backward ? storageSize : accumulatorSize;
        Assert.True((long)launch.SharedElements * cachedSize + GpuKernels.ScratchLength * accumulatorSize <= (optIn ? 227 * 1024 : 48 * 1024));

        Assert.False(launch.CacheStored);

        // Without the opt-in, rows past 48 KB stream (Half forward rows take A as stored: see below); the others are unchanged.
        var plain = GpuLaunch.Choose(WithoutOptIn, lanesInner: false, slices: 1000, length, accumulatorSize, storageSize, backward, runs: 1);
        Assert.False(plain.SharedOptIn);
        Assert.Equal(optIn && (backward || accumulatorSize == storageSize) ? GpuStrategy.Streamed : launch.Strategy, plain.Strategy);
        if (accumulatorSize == storageSize)
        {
            Assert.Equal(launch, GpuLaunch.Choose(H100, lanesInner: false, slices: 1000, length, accumulatorSize, backward));
        }
    }

    /// <summary>
    /// A Half forward row too long for floats in shared memory, whose halves fit, keeps A as stored (2 bytes an
    /// element) and recomputes each logit from it: within 48 KB less the scratch, rows of 12 225 to 24 448 elements;
    /// opted in, past the 58 048 floats fit, up to 116 096. Floats fit first (opted in where the device allows it);
    /// longer rows stream. Float and double rows never keep A as stored.
    /// </summary>
    [Theory]
    [InlineData(false, 12_224, "Cached", false, false)]   // floats
    [InlineData(false, 12_225, "Cached", false, true)]    // just past floats: halves
    [InlineData(false, 12_300, "Cached", false, true)]
    [InlineData(false, 24_448, "Cached", false, true)]    // 48 896 bytes of halves, just within
    [InlineData(false, 24_449, "Streamed", false, false)]
    [InlineData(true, 12_225, "Cached", true, false)]     // floats, opted in
    [InlineData(true, 58_048, "Cached", true, false)]
    [InlineData(true, 58_049, "Cached", true, true)]      // halves, opted in
    [InlineData(true, 116_096, "Cached", true, true)]     // the opt-in maximum less the scratch, in halves
    [InlineData(true, 116_097, "Streamed", false, false)]
    public void HalfForwardRowsTooLongForFloatsKeepAAsStored(bool optInDevice, int length, string strategy, bool optIn, bool stored)
    {
        var device = optInDevice ? H100 : WithoutOptIn;
        var launch = GpuLaunch.Choose(device, lanesInner: false, slices: 1000, length, 4, 2, backward: false, runs: 1);
        Assert.Equal((Enum.Parse<GpuStrategy>(strategy), optIn, stored), (launch.Strategy, launch.SharedOptIn, launch.CacheStored));
        Assert.Equal(launch.Strategy == GpuStrategy.Cached ? length : 0, launch.SharedElements);
        Assert.True((long)launch.SharedElements * (stored ? 2 : 4) + GpuKernels.ScratchLength * 4 <= (optIn ? 227 * 1024 : 48 * 1024));
        Assert.False(launch.CotangentCached);
        Assert.Equal(new GpuLaunch(GpuStrategy.Streamed, launch.Groups, launch.GroupSize, 0), launch.Streaming()); // where the row kernels do not run

        // As floats (and doubles) the same rows never keep A as stored; the backward keeps B as stored without the flag.
        Assert.False(GpuLaunch.Choose(device, lanesInner: false, slices: 1000, length, 4, 4, backward: false, runs: 1).CacheStored);
        Assert.False(GpuLaunch.Choose(device, lanesInner: false, slices: 1000, length, 8, 8, backward: false, runs: 1).CacheStored);
        Assert.False(GpuLaunch.Choose(device, lanesInner: false, slices: 1000, length, 4, 2, backward: true, runs: 1).CacheStored);
    }

    /// <summary>
    /// A backward pass keeps the cotangent's row beside B's where both fit 48 KB less the scratch (48 896 bytes): 6 112
    /// floats, or, both kept as stored, 12 224 halves. Past that B's row alone.
    /// </summary>
    [Theory]
    [InlineData(4, 6_112, true)]
    [InlineData(4, 6_113, false)]
    [InlineData(2, 12_224, true)]
    [InlineData(2, 12_225, false)]
    public void TheBackwardKeepsTheCotangentBesideBWhereBothFitAsStored(int storageSize, int length, bool cotangentCached)
    {
        var launch = GpuLaunch.Choose(H100, lanesInner: false, slices: 1000, length, 4, storageSize, backward: true, runs: 1);
        Assert.Equal((GpuStrategy.Cached, cotangentCached, false), (launch.Strategy, launch.CotangentCached, launch.SharedOptIn));
        Assert.Equal((cotangentCached ? 2 : 1) * length, launch.SharedElements);
        Assert.True((long)launch.SharedElements * storageSize + GpuKernels.ScratchLength * 4 <= 48 * 1024);
    }

    [Fact]
    public void AnOptInMaximumOfFortyEightKilobytesOrLessChangesNothing()
    {
        var old = H100 with { SharedOptIn = 48 * 1024 };
        Assert.Equal(GpuStrategy.Streamed, GpuLaunch.Choose(old, false, 1000, 12_225, 4, backward: false).Strategy);
        Assert.Equal(GpuStrategy.Streamed, GpuLaunch.Choose(H100 with { SharedPerGroup = 32 * 1024, SharedOptIn = 40 * 1024 }, false, 1000, 9_000, 4, backward: false).Strategy);
    }

    /// <summary>
    /// Slices of several runs past a warp's registers (128 elements) and within a warp's share of 48 KB (groups of eight
    /// warps: 6 KB, 1 536 floats or 768 doubles) take a warp each, eight slices a group; the backward pass keeps the
    /// cotangent's slice beside B's where both fit the share. Longer slices, and slices of one run, take a group.
    /// </summary>
    [Theory]
    [InlineData(4, 4, 1024, 32, false, "WarpCached", 8 * 1024, false)] // [B, 32, M, 32], s1 = {1, 3}
    [InlineData(4, 4, 1024, 32, true, "WarpCached", 8 * 1024, false)]  // both: 8 KB, past the share
    [InlineData(4, 4, 768, 24, true, "WarpCached", 8 * 2 * 768, true)] // both: 6 KB, just within
    [InlineData(4, 4, 129, 3, false, "WarpCached", 8 * 129, false)]
    [InlineData(4, 4, 1536, 2, false, "WarpCached", 8 * 1536, false)]
    [InlineData(4, 4, 1537, 29, false, "Cached", 1537, false)]
    [InlineData(8, 8, 768, 3, false, "WarpCached", 8 * 768, false)]
    [InlineData(8, 8, 769, 3, false, "Cached", 769, false)]
    [InlineData(4, 4, 1024, 1, false, "Cached", 1024, false)]          // one run: a group
    [InlineData(4, 4, 128, 32, false, "Warp", 0, false)]               // a warp's registers
    [InlineData(4, 2, 1024, 32, true, "WarpCached", 8 * 2 * 1024, true)] // Half backward, both as stored: 4 KB
    [InlineData(4, 2, 1536, 32, true, "WarpCached", 8 * 2 * 1536, true)] // both: 6 KB, just within
    [InlineData(4, 2, 3072, 32, true, "WarpCached", 8 * 3072, false)]    // B's slice alone: 6 KB of halves
    [InlineData(4, 2, 3073, 7, true, "Cached", 2 * 3073, true)]          // past the share: a group, both within 48 KB
    [InlineData(4, 2, 1536, 32, false, "WarpCached", 8 * 1536, false)]   // Half forward: floats, as float
    [InlineData(4, 2, 1537, 29, false, "Cached", 1537, false)]
    public void SlicesOfSeveralRunsWithinAWarpsShareTakeAWarp(int accumulatorSize, int storageSize, int length, int runs, bool backward, string strategy, int sharedElements, bool cotangentCached)
    {
        var launch = GpuLaunch.Choose(H100, lanesInner: false, slices: 100_000, length, accumulatorSize, storageSize, backward, runs);
        Assert.Equal((System.Enum.Parse<GpuStrategy>(strategy), sharedElements, cotangentCached, false), (launch.Strategy, launch.SharedElements, launch.CotangentCached, launch.SharedOptIn));
        if (launch.Strategy == GpuStrategy.WarpCached)
        {
            Assert.Equal(256, launch.GroupSize);
            Assert.Equal(System.Math.Min(100_000 / 8, 132 * (2048 / 256) * 4), launch.Groups);
            Assert.True((long)launch.SharedElements * (backward ? storageSize : accumulatorSize) <= 48 * 1024);
        }

        // A lanes layout has several runs too, but takes the lanes kernels, which keep accumulators either way.
        var lanes = GpuLaunch.Choose(H100, lanesInner: true, slices: 100_000, length, accumulatorSize, storageSize, backward, runs);
        Assert.NotEqual(GpuStrategy.WarpCached, lanes.Strategy);
        Assert.Equal(GpuLaunch.Choose(H100, lanesInner: true, slices: 100_000, length, accumulatorSize, accumulatorSize, backward, runs), lanes);
    }

    /// <summary>
    /// A launch past 48 KB whose kernel the driver would not let opt in (<see cref="GpuSharedMemory.Raise"/> false) takes
    /// the streamed kernel on the same grid and groups, as a device without the opt-in would; every other launch is
    /// unchanged whatever the answer.
    /// </summary>
    [Theory]
    [InlineData(4, 12_000, false)]
    [InlineData(4, 12_225, false)]
    [InlineData(4, 58_048, false)]
    [InlineData(8, 28_992, false)]
    [InlineData(4, 9_000, true)]
    [InlineData(4, 20_000, true)]
    [InlineData(4, 60_000, false)]
    public void ALaunchWhoseKernelCouldNotOptInStreams(int accumulatorSize, int length, bool backward)
    {
        var launch = GpuLaunch.Choose(H100, lanesInner: false, slices: 1000, length, accumulatorSize, backward);
        Assert.Equal(launch, launch.OptedIn(raised: true));
        var refused = launch.OptedIn(raised: false);
        if (launch.SharedOptIn)
        {
            Assert.Equal(new GpuLaunch(GpuStrategy.Streamed, launch.Groups, launch.GroupSize, 0), refused);
            Assert.Equal(GpuLaunch.Choose(WithoutOptIn, lanesInner: false, slices: 1000, length, accumulatorSize, backward), refused);
        }
        else
        {
            Assert.Equal(launch, refused);
        }
    }

    /// <summary>
    /// The lanes per row: the fewest, a power of two from 4, holding four units of eight a lane; the tail rides along.
    /// Past a warp a row takes whole warps, a group of as many threads as lanes, up to eight warps (on an H100's warp of
    /// 32, rows of 8 192 elements and a tail), and no more than the largest group (16 threads on a warp of four).
    /// </summary>
    [Theory]
    [InlineData(32, 4, 4)]
    [InlineData(32, 7, 4)]
    [InlineData(32, 128, 4)]     // 16 units
    [InlineData(32, 135, 4)]     // 16 units and a tail of 7
    [InlineData(32, 136, 8)]     // 17 units
    [InlineData(32, 512, 16)]
    [InlineData(32, 520, 32)]
    [InlineData(32, 1024, 32)]
    [InlineData(32, 1031, 32)]
    [InlineData(32, 1032, 64)]   // 129 units: two warps
    [InlineData(32, 2048, 64)]
    [InlineData(32, 2056, 128)]
    [InlineData(32, 4096, 128)]
    [InlineData(32, 4104, 256)]
    [InlineData(32, 8192, 256)]  // 1 024 units: eight warps
    [InlineData(32, 8199, 256)]  // and a tail of 7
    [InlineData(32, 8200, 0)]    // 1 025 units: past eight warps
    [InlineData(32, 16384, 0)]
    [InlineData(32, 16392, 0)]
    [InlineData(4, 132, 4)]
    [InlineData(4, 136, 8)]      // two warps of four
    [InlineData(4, 516, 16)]     // four: the largest group of 16
    [InlineData(4, 520, 0)]
    [InlineData(2, 8, 0)]        // too few lanes for the tail
    [InlineData(48, 8, 0)]       // not a power of two
    public void RegisterRowsTakeUpToEightWarpsOfThirtyTwoElementsALane(int warp, int length, int lanes)
    {
        var device = H100 with { WarpSize = warp, MaxGroupSize = warp == 4 ? 16 : H100.MaxGroupSize };
        var launch = GpuLaunch.WarpRows(device, 100_000, length);
        Assert.Equal(lanes, launch?.Lanes ?? 0);
        if (launch is { } warpRows)
        {
            Assert.Equal(GpuStrategy.WarpRows, warpRows.Strategy);
            Assert.Equal(0, warpRows.GroupSize % warp);
            // Up to a warp, eight warps a group (four on a warp of four, whose groups are 16 threads); past it, one row a group.
            Assert.Equal(lanes <= warp ? Math.Min(8 * warp, device.MaxGroupSize) : lanes, warpRows.GroupSize);
            Assert.Equal(0, warpRows.SharedElements);
            Assert.True(warpRows.Groups * (warpRows.GroupSize / warpRows.Lanes) >= 100_000 || warpRows.Groups == 132 * (2048 / warpRows.GroupSize) * 4);
        }
    }

    /// <summary>
    /// A device whose largest group is smaller than eight warps caps the lanes of a row at that group: four warps of
    /// 32 hold rows of up to 4 096 elements and a tail, and longer rows take the other kernels.
    /// </summary>
    [Theory]
    [InlineData(4096, 128)]
    [InlineData(4103, 128)]
    [InlineData(4104, 0)]
    public void TheLargestGroupCapsTheLanesOfARow(int length, int lanes)
    {
        var device = H100 with { MaxGroupSize = 128 };
        Assert.Equal(lanes, GpuLaunch.WarpRows(device, 1000, length)?.Lanes ?? 0);
    }

    /// <summary>
    /// Forward lanes (NCHW [16, C, 56, 56] with s1 = {1}: 16 · 3 136 slices of C elements, C runs) take the split
    /// kernel where 48 KB less the scratch gives the cached lanes kernel fewer than eight warps of them: float and Half
    /// (float accumulators) from 48 to 191 channels, double from 24 to 95. Fewer channels keep a full cached group;
    /// more leave fewer than two warps of lanes, the lanes strategy (the eight-wide kernel). The split groups hold
    /// 8 warps × 32 lanes × 8 slices, one group per block of 256 slices, a partial (max, sum) a slice and a warp.
    /// </summary>
    [Theory]
    [InlineData(4, 47, "LanesCached", 256)]
    [InlineData(4, 48, "LanesSplit", 224)]
    [InlineData(4, 64, "LanesSplit", 160)]
    [InlineData(4, 128, "LanesSplit", 64)]
    [InlineData(4, 191, "LanesSplit", 64)]
    [InlineData(4, 192, "Lanes", 0)]
    [InlineData(4, 256, "Lanes", 0)]
    [InlineData(8, 23, "LanesCached", 256)]
    [InlineData(8, 24, "LanesSplit", 224)]
    [InlineData(8, 95, "LanesSplit", 64)]
    [InlineData(8, 96, "Lanes", 0)]
    public void ChannelLanesWithFewCachedPerGroupSplitTheRunsAcrossWarps(int accumulatorSize, int channels, string strategy, int cachedLanes)
    {
        const int slices = 16 * 56 * 56;
        var lanes = GpuLaunch.Choose(H100, lanesInner: true, slices, channels, accumulatorSize, backward: false);
        Assert.Equal(cachedLanes, lanes.GroupSize);
        var split = GpuLaunch.LanesSplit(H100, lanes, slices, runs: channels);
        Assert.Equal(System.Enum.Parse<GpuStrategy>(strategy), split?.Strategy ?? lanes.Strategy);
        if (split is { } launch)
        {
            Assert.Equal((slices / 256, 256, 2 * 8 * 256, false), (launch.Groups, launch.GroupSize, launch.SharedElements, launch.SharedOptIn));
            Assert.True(launch.SharedElements * accumulatorSize <= 32 * 1024);
        }

        // The backward pass keeps its lanes kernels.
        var backward = GpuLaunch.Choose(H100, lanesInner: true, slices, channels, accumulatorSize, backward: true);
        Assert.NotEqual(GpuStrategy.LanesSplit, backward.Strategy);
    }

    /// <summary>
    /// Runs fewer than eight take a warp a run; a slice of one run has nothing to split; a device whose groups hold
    /// four warps (as ILGPU's CPU accelerator: 16 threads of warps of 4) splits across those four.
    /// </summary>
    [Theory]
    [InlineData(32, 1024, 100, 8, 256)]
    [InlineData(32, 1024, 3, 3, 96)]
    [InlineData(32, 1024, 1, 0, 0)]
    [InlineData(4, 16, 20, 4, 16)]
    [InlineData(4, 16, 3, 3, 12)]
    public void SplitWarpsFollowTheRunsAndTheGroup(int warp, int maxGroup, int runs, int warps, int groupSize)
    {
        var device = H100 with { WarpSize = warp, MaxGroupSize = maxGroup };
        var cached = new GpuLaunch(GpuStrategy.LanesCached, 10, 2 * warp, 2 * warp * runs);
        var split = GpuLaunch.LanesSplit(device, cached, slices: 1000, runs);
        Assert.Equal(groupSize, split?.GroupSize ?? 0);
        Assert.Equal(warps == 0 ? 0 : 2 * warps * warp * 8, split?.SharedElements ?? 0);
        Assert.Equal(warps == 0 ? 0 : (1000 + 8 * warp - 1) / (8 * warp), split?.Groups ?? 0);
        Assert.Null(GpuLaunch.LanesSplit(device, cached with { Strategy = GpuStrategy.Lanes }, slices: 1000, runs));
    }
}
