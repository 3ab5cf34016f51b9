using System;
using System.Runtime.InteropServices;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The streaming kernels load whole aligned lines, including lines a slice only starts or ends in. Such a line lies
/// in the same page as an element of the slice, so reading it cannot fault; these tests make sure no access goes
/// further: B, dB and dA each start right after, or end right before, a page that may not be touched (PROT_NONE), at
/// every element of a line. A load or store past the first or last line of an array ends the test process (the
/// last case started is then the one at fault); stores within those lines but outside the arrays are caught by the
/// canaries around them, and the results must equal those of the same call on ordinary arrays, bit for bit.
/// </summary>
[Collection(nameof(ThreadCountCollection))]
public class GuardedMemoryTests
{
    private const float Canary = -12345.5f;

    [SkippableTheory]
    [InlineData(65536, 33, 1)]
    [InlineData(2048, 1031, 1)]
    [InlineData(65536, 32, 3)]
    [InlineData(2048, 1040, 2)]
    public void RowsBackwardTouchesNothingPastItsArrays(int rows, int length, int cotangents)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "guard pages are made with mmap and mprotect");
        int[] shape = [rows, length];
        int count = rows * length;
        var random = new Random(count + cotangents);
        var output = new float[count];
        Rows.Forward(Array.ConvertAll(TestData.Logits(random, count), value => (float)value), output, shape);
        var cotangent = Array.ConvertAll(TestData.Logits(random, cotangents * count, 1), value => (float)value);
        var expected = new float[cotangents * count];
        Rows.Backward(output, cotangent, expected, shape);

        int previous = CpuSoftmax.MaxDegreeOfParallelism;
        CpuSoftmax.MaxDegreeOfParallelism = 64;
        try
        {
            for (int offset = 0; offset < 16; offset++)
            {
                foreach (bool atEnd in new[] { false, true })
                {
                    string where = $"[{rows}, {length}], {cotangents} cotangent(s), {(atEnd ? "ending" : "starting")} {offset} elements from a guard page";
                    using var b = new GuardedFloats(count, offset, atEnd);
                    using var dB = new GuardedFloats(cotangents * count, offset, atEnd);
                    using var dA = new GuardedFloats(cotangents * count, offset, atEnd);
                    output.CopyTo(b.Span);
                    cotangent.CopyTo(dB.Span);
                    dA.Span.Fill(float.NaN);
                    Rows.Backward(b.Span, dB.Span, dA.Span, shape);
                    Assert.True(dA.Span.SequenceEqual(expected), $"{where}: dA differs from the same call on heap arrays");
                    Assert.True(b.Span.SequenceEqual(output) && dB.Span.SequenceEqual(cotangent), $"{where}: B or dB changed");
                    Assert.True(b.CanariesIntact && dB.CanariesIntact && dA.CanariesIntact, $"{where}: written around an array");
                }
            }
        }
        finally
        {
            CpuSoftmax.MaxDegreeOfParallelism = previous;
        }
    }

    /// <summary>
    /// <paramref name="count"/> floats in pages of their own, between two pages that may not be touched: starting
    /// <paramref name="gap"/> elements after the first guard page or ending <paramref name="gap"/> elements before the
    /// last. The rest of the usable pages holds <see cref="Canary"/>.
    /// </summary>
    private sealed class GuardedFloats : IDisposable
    {
        private const int ReadWrite = 3;                // PROT_READ | PROT_WRITE
        private const int None = 0;                     // PROT_NONE
        private const int PrivateAnonymous = 0x22;      // MAP_PRIVATE | MAP_ANONYMOUS (Linux)

        private readonly nint _region;
        private readonly nuint _size;
        private readonly int _usable;                   // floats between the guard pages
        private readonly int _first;                    // index of the array's first element among them
        private readonly int _count;

        public GuardedFloats(int count, int gap, bool atEnd)
        {
            int page = Environment.SystemPageSize;
            long pages = (((long)(count + gap) * sizeof(float)) + page - 1) / page;
            _size = (nuint)((pages + 2) * page);
            _region = Mmap(0, _size, ReadWrite, PrivateAnonymous, -1, 0);
            Assert.True(_region != -1, "mmap failed");
            try
            {
                Assert.Equal(0, Mprotect(_region, (nuint)page, None));
                Assert.Equal(0, Mprotect(_region + (nint)((pages + 1) * page), (nuint)page, None));
            }
            catch
            {
                Munmap(_region, _size);
                throw;
            }

            _usable = (int)(pages * page / sizeof(float));
            _first = atEnd ? _usable - gap - count : gap;
            _count = count;
            Usable.Fill(Canary);
        }

        public Span<float> Span => Usable.Slice(_first, _count);

        public bool CanariesIntact => Usable[.._first].IndexOfAnyExcept(Canary) < 0 && Usable[(_first + _count)..].IndexOfAnyExcept(Canary) < 0;

        private Span<float> Usable => MemoryMarshal.CreateSpan(ref System.Runtime.CompilerServices.Unsafe.AddByteOffset(ref System.Runtime.CompilerServices.Unsafe.NullRef<float>(), _region + Environment.SystemPageSize), _usable);

        public void Dispose() => Assert.Equal(0, Munmap(_region, _size));

        [DllImport("libc", EntryPoint = "mmap")]
        private static extern nint Mmap(nint address, nuint length, int protection, int flags, int descriptor, nint offset);

        [DllImport("libc", EntryPoint = "mprotect")]
        private static extern int Mprotect(nint address, nuint length, int protection);

        [DllImport("libc", EntryPoint = "munmap")]
        private static extern int Munmap(nint address, nuint length);
    }
}
