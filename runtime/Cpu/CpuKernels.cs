using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace SoftmaxGen.Runtime;

/// <summary>
/// The CPU engine: one set of kernels for every element type (<typeparamref name="TStorage"/>, computed as
/// <typeparamref name="T"/> through <typeparamref name="TIO"/>), vector width (<typeparamref name="TS"/>), generated
/// layout and operation. The JIT compiles one specialised copy per combination, with every call inlined.
/// </summary>
/// <remarks>
/// <para>Forward, per slice (or tile of adjacent slices, a lane each): pass 1 reads A from memory and takes the max of the
/// logits z (<typeparamref name="TInput"/>); pass 2 reads A again, from the cache, and sums exp(z − shift), keeping it
/// where the operation's output is made of it (<see cref="CpuKeep"/>); pass 3 writes B, once, from what was kept or from A.
/// B is never read back from memory: large outputs take non-temporal stores, so memory sees one read of A and one
/// write of B.</para>
/// <para>Backward, per slice (tile) and cotangent k: d = Σ of the operation's terms over B and dB_k, then
/// dA_k = pullback(B, dB_k, d); B's slice comes from memory once and from the cache for every other k.</para>
/// <para>Every slice is computed whole by one thread with the same code, so results do not depend on the number of
/// threads. The methods that loop are compiled fully optimised on first use
/// (<see cref="MethodImplOptions.AggressiveOptimization"/>): generic kernels otherwise run unoptimised code for
/// dozens of calls.</para>
/// </remarks>
[SkipLocalsInit]
internal static unsafe partial class CpuKernels<TStorage, T, TV, TS, TIO, TLayout, TOp, TInput>
    where TStorage : unmanaged
    where T : unmanaged, IFloatingPointIeee754<T>
    where TV : unmanaged
    where TS : struct, ISimd<TV, T>
    where TIO : struct, IStorage<TStorage, T, TV>
    where TLayout : struct, ISoftmaxLayout
    where TOp : struct, IOperation
    where TInput : struct, IInput
{
    private static nuint Width => (nuint)TS.Count;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(TStorage* a, TStorage* b, int count, TLayout layout, TInput input)
    {
        var launch = CpuLaunch.Choose(
            layout, (long)count * sizeof(TStorage), sizeof(TStorage), sizeof(T), TS.Count, CanStream(b), keeps: true, backward: false);
        if (launch.Strategy is CpuStrategy.Rows or CpuStrategy.Slices)
        {
            CpuParallel.For(layout.SliceCount, layout.SliceLength, new ForwardSlices(a, b, layout, input, launch));
        }
        else
        {
            CpuParallel.For(launch.Items(layout), (long)launch.Width * CpuLaunch.Rows(layout), new ForwardTiles(a, b, layout, input, launch));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Backward(TStorage* b, TStorage* dB, TStorage* dA, int count, int cotangents, TLayout layout, T scale)
    {
        var launch = CpuLaunch.Choose(
            layout, (long)count * cotangents * sizeof(TStorage), sizeof(TStorage), sizeof(T), TS.Count, CanStream(dA), keeps: false, backward: true);
        if (launch.Strategy is CpuStrategy.Rows or CpuStrategy.Slices)
        {
            CpuParallel.For(layout.SliceCount, (long)layout.SliceLength * cotangents, new BackwardSlices(b, dB, dA, count, cotangents, layout, launch.Stream, scale));
        }
        else
        {
            var body = new BackwardTiles(b, dB, dA, count, cotangents, layout, launch, scale);
            CpuParallel.For(launch.Items(layout), (long)launch.Width * CpuLaunch.Rows(layout) * cotangents, body);
        }
    }

    /// <summary>Non-temporal stores need the platform's support and element-aligned outputs (a span cast from bytes may not be).</summary>
    private static bool CanStream(TStorage* output) => TIO.CanStream && (nuint)output % (nuint)sizeof(TStorage) == 0;

    /// <summary><paramref name="count"/> rounded up to whole vectors.</summary>
    private static nuint RoundUp(nuint count) => (count + Width - 1) / Width * Width;

    private static void Fence(bool stream)
    {
        if (stream && Sse.IsSupported)
        {
            Sse.StoreFence();
        }
    }

    /// <summary>How many leading elements of <paramref name="destination"/> to store apart so that the rest is vector-aligned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nuint Peel(TStorage* destination)
    {
        nuint bytes = Width * (nuint)sizeof(TStorage);
        nuint misalignment = (nuint)destination % bytes;
        return misalignment == 0 ? 0 : (bytes - misalignment) / (nuint)sizeof(TStorage);
    }

    /// <summary>
    /// The logits of the first <paramref name="count"/> elements at <paramref name="source"/> (element
    /// <paramref name="first"/> of the run at <paramref name="place"/>), −∞ in the other lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV LoadTail(TStorage* source, nuint count, in TInput input, in RunPlace place, nuint first, T* pad)
        => TS.FirstOr(input.Apply<TStorage, T, TV, TS, TIO>(TIO.LoadPartial(source, count, pad), place, first, count, pad), count, T.NegativeInfinity);

    /// <summary><see cref="LoadTail"/> through <see cref="IInput.ApplyInside"/>, for callers that read only a run's included stretch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV LoadTailInside(TStorage* source, nuint count, in TInput input, in RunPlace place, nuint first, T* pad)
        => TS.FirstOr(input.ApplyInside<TStorage, T, TV, TS, TIO>(TIO.LoadPartial(source, count, pad), place, first, count, pad), count, T.NegativeInfinity);

    /// <summary>The elements of one output run, vector by vector.</summary>
    private interface IProducer
    {
        /// <summary>The output vector at element <paramref name="i"/> of the run.</summary>
        TV Full(nuint i);

        /// <summary>The output vector at element <paramref name="i"/>, of which only the first <paramref name="count"/> lanes are stored.</summary>
        TV Partial(nuint i, nuint count, T* pad);
    }

    /// <summary>
    /// Writes a run of <paramref name="length"/> elements from <paramref name="producer"/>. Streamed runs store their
    /// first elements apart until the destination is vector-aligned, then whole vectors past the caches.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRun<TProducer>(TStorage* destination, nuint length, bool stream, ref TProducer producer, T* pad)
        where TProducer : struct, IProducer
    {
        nuint i = 0;
        if (stream && length >= 2 * Width)
        {
            nuint head = Peel(destination);
            if (head > 0)
            {
                TIO.StorePartial(producer.Partial(0, head, pad), destination, head, pad);
                i = head;
            }

            for (; i + Width <= length; i += Width)
            {
                TIO.StoreNonTemporal(producer.Full(i), destination + i);
            }
        }

        for (; i + Width <= length; i += Width)
        {
            TIO.Store(producer.Full(i), destination + i);
        }

        if (i < length)
        {
            TIO.StorePartial(producer.Partial(i, length - i, pad), destination + i, length - i, pad);
        }
    }

    /// <summary>
    /// A sum in a fixed order, added up in blocks: four vector accumulators take consecutive vectors in turn, and every
    /// <see cref="CpuTuning.SumBlock"/> vectors they are folded into the total.
    /// </summary>
    private struct BlockSum
    {
        public TV S0;
        public TV S1;
        public TV S2;
        public TV S3;
        public TV Total;
        public int Blocks;

        public static BlockSum Zero
        {
            [MethodImpl(MethodImplOptions.AggressiveInlining)]
            get => new() { S0 = TS.Create(T.Zero), S1 = TS.Create(T.Zero), S2 = TS.Create(T.Zero), S3 = TS.Create(T.Zero), Total = TS.Create(T.Zero) };
        }

        /// <summary>Counts a group of four vectors; folds the accumulators every <see cref="CpuTuning.SumBlock"/> vectors.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Step()
        {
            if (++Blocks == CpuTuning.SumBlock / 4)
            {
                Fold();
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Fold()
        {
            Total = TS.Add(Total, TS.Add(TS.Add(S0, S1), TS.Add(S2, S3)));
            S0 = S1 = S2 = S3 = TS.Create(T.Zero);
            Blocks = 0;
        }

        /// <summary>The sum, in every lane.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TV Result()
        {
            Fold();
            return TS.SumAll(Total);
        }
    }
}

/// <summary>Per-thread, pinned buffers of the CPU engine (kept off the stack, which may be small on a caller's thread).</summary>
internal static unsafe class Scratch<T>
    where T : unmanaged
{
    [ThreadStatic]
    private static T[]? buffer;

    [ThreadStatic]
    private static T[]? lanes;

    /// <summary>Elements of one per-lane array: a tile's widest row and a vector of room.</summary>
    public const int LaneArray = CpuTuning.MaxTileWidth + CpuTuning.PadElements;

    /// <summary>The scratch of <see cref="CpuTuning.ScratchBytes"/>.</summary>
    public static T* Get()
    {
        var array = buffer ??= GC.AllocateUninitializedArray<T>(CpuTuning.ScratchBytes / sizeof(T), pinned: true);
        return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
    }

    /// <summary>Four per-lane arrays of <see cref="LaneArray"/> elements, back to back.</summary>
    public static T* Lanes()
    {
        var array = lanes ??= GC.AllocateUninitializedArray<T>(4 * LaneArray, pinned: true);
        return (T*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
    }
}
