using System;
using System.Runtime.InteropServices;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The streaming kernels load whole aligned lines, including lines a slice only starts or ends in. Such a line lies
/// in the same page as an element of the slice, so reading it cannot fault; these tests make sure no load goes
/// further: B, dB and dA each start right after, or end right before, a page that may not be read (PROT_NONE), at
/// every element of a line, so that a load past the first or last line of the array ends the test process.
/// </summary>
[Collection(nameof(ThreadCountCollection))]
public class GuardedMemoryTests
{
    [SkippableTheory]
    [InlineData(65536, 33, 1)]
    [InlineData(2048, 1031, 1)]
    [InlineData(65536, 32, 3)]
    [InlineData(2048, 1040, 2)]
    public void RowsBackwardReadsNothingPastItsArrays(int rows, int length, int cotangents)
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "guard pages are made with mmap and mprotect");
        int count = rows * length;
        int previous = CpuSoftmax.MaxDegreeOfParallelism;
        CpuSoftmax.MaxDegreeOfParallelism = 64;
        try
        {
            for (int offset = 0; offset < 16; offset++)
            {
                foreach (bool atEnd in new[] { false, true })
                {
                    using var b = new GuardedFloats(count, offset, atEnd);
                    using var dB = new GuardedFloats(cotangents * count, offset, atEnd);
                    using var dA = new GuardedFloats(cotangents * count, offset, atEnd);
                    b.Span.Fill(1f / length);
                    dB.Span.Fill(0.5f);
                    dA.Span.Fill(float.NaN);
                    Rows.Backward(b.Span, dB.Span, dA.Span, [rows, length]);

                    // A uniform B and a constant cotangent give dA = B (dB - Σ B dB) = 0 up to rounding, everywhere.
                    var gradient = dA.Span;
                    int wrong = -1;
                    for (int i = 0; i < gradient.Length && wrong < 0; i++)
                    {
                        wrong = Math.Abs(gradient[i]) < 1e-6f ? -1 : i;
                    }

                    Assert.True(wrong < 0, $"[{rows}, {length}], {cotangents} cotangent(s), {(atEnd ? "ending" : "starting")} {offset} elements from a guard page: dA[{wrong}] = {(wrong < 0 ? 0 : gradient[wrong])}");
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
    /// <paramref name="gap"/> elements after the first guard page or ending <paramref name="gap"/> elements before the last.
    /// </summary>
    private sealed class GuardedFloats : IDisposable
    {
        private const int Page = 4096;
        private const int ReadWrite = 3;                // PROT_READ | PROT_WRITE
        private const int None = 0;                     // PROT_NONE
        private const int PrivateAnonymous = 0x22;      // MAP_PRIVATE | MAP_ANONYMOUS

        private readonly nint _region;
        private readonly nuint _size;
        private readonly nint _start;
        private readonly int _count;

        public GuardedFloats(int count, int gap, bool atEnd)
        {
            long pages = (((long)(count + gap) * sizeof(float)) + Page - 1) / Page;
            _size = (nuint)((pages + 2) * Page);
            _region = Mmap(0, _size, ReadWrite, PrivateAnonymous, -1, 0);
            Assert.True(_region != -1, "mmap failed");
            Assert.Equal(0, Mprotect(_region, Page, None));
            Assert.Equal(0, Mprotect(_region + (nint)((pages + 1) * Page), Page, None));
            _start = atEnd
                ? _region + (nint)((pages + 1) * Page) - ((nint)(gap + count) * sizeof(float))
                : _region + Page + (gap * sizeof(float));
            _count = count;
        }

        public Span<float> Span => MemoryMarshal.CreateSpan(ref System.Runtime.CompilerServices.Unsafe.AddByteOffset(ref System.Runtime.CompilerServices.Unsafe.NullRef<float>(), _start), _count);

        public void Dispose() => Munmap(_region, _size);

        [DllImport("libc", EntryPoint = "mmap")]
        private static extern nint Mmap(nint address, nuint length, int protection, int flags, int descriptor, nint offset);

        [DllImport("libc", EntryPoint = "mprotect")]
        private static extern int Mprotect(nint address, nuint length, int protection);

        [DllImport("libc", EntryPoint = "munmap")]
        private static extern int Munmap(nint address, nuint length);
    }
}
