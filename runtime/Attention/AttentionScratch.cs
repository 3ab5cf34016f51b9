using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Scratch memory of the CPU attention kernels: one block per thread, kept between calls, so that a call allocates
/// nothing once each thread has run one. A request larger than <see cref="RetainedBytes"/> (the sums that grow with
/// the sequence: the Half backward's float dQ, the double backward's log-sum-exps) is allocated for the call alone.
/// </summary>
internal static unsafe class AttentionScratch
{
    /// <summary>The most a thread keeps between calls: the tiles of the widest head in double with room to spare.</summary>
    private const int RetainedBytes = 1 << 20;

    private const int Alignment = 64;

    [ThreadStatic]
    private static byte[]? retained;

    /// <summary>At least <paramref name="bytes"/> bytes aligned to 64; pass the result to <see cref="Return"/>.</summary>
    public static Block Rent(nuint bytes)
    {
        if (bytes > RetainedBytes)
        {
            return new Block((byte*)NativeMemory.AlignedAlloc(bytes, Alignment), owned: true);
        }

        var buffer = retained;
        if (buffer is null || (nuint)buffer.Length < bytes + Alignment)
        {
            buffer = GC.AllocateUninitializedArray<byte>((int)bytes + Alignment, pinned: true);
            retained = buffer;
        }

        nuint start = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return new Block((byte*)((start + Alignment - 1) & ~(nuint)(Alignment - 1)), owned: false);
    }

    public static void Return(Block block)
    {
        if (block.Owned)
        {
            NativeMemory.AlignedFree(block.Start);
        }
    }

    /// <summary>A rented block: its start, and whether it was allocated for the call alone.</summary>
    internal readonly struct Block(byte* start, bool owned)
    {
        public byte* Start { get; } = start;

        public bool Owned { get; } = owned;
    }
}
