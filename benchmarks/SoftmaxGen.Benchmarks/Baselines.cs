using System;
using System.Numerics;
using System.Numerics.Tensors;
using System.Threading.Tasks;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// What the generated kernels are measured against: a parallel copy of the same bytes (the memory ceiling), the
/// per-row TensorPrimitives composition, TensorPrimitives.SoftMax row by row, and a plain scalar loop. Every
/// baseline works on [rows, length] row-major data (the last axis reduced).
/// </summary>
public static class Baselines
{
    /// <summary>The chunks a parallel copy is split into: a few per core, so that a slow core is helped.</summary>
    private static int Chunks(long bytes) => bytes < (1 << 20) ? 1 : Environment.ProcessorCount * 4;

    /// <summary>destination = source, chunks copied in parallel with Span.CopyTo (memmove).</summary>
    public static void ParallelCopy<T>(T[] source, T[] destination)
    {
        int chunks = Chunks((long)source.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        if (chunks == 1)
        {
            source.AsSpan().CopyTo(destination);
            return;
        }

        Parallel.For(0, chunks, chunk =>
        {
            int first = (int)((long)source.Length * chunk / chunks);
            int end = (int)((long)source.Length * (chunk + 1) / chunks);
            source.AsSpan(first, end - first).CopyTo(destination.AsSpan(first, end - first));
        });
    }

    /// <summary>Rows split over the cores in a few contiguous ranges per core (as the kernels do).</summary>
    public static void ForRows(int rows, Action<int, int> body)
    {
        int ranges = Math.Min(rows, Environment.ProcessorCount * 4);
        Parallel.For(0, ranges, range => body(rows * range / ranges, rows * (range + 1) / ranges));
    }

    /// <summary>Forward by composing TensorPrimitives per row: Max, Subtract, Exp, Sum, Multiply; rows in parallel.</summary>
    public static void TensorPrimitivesForward<T>(T[] a, T[] b, int length)
        where T : unmanaged, IExponentialFunctions<T>, IFloatingPointIeee754<T>
    {
        ForRows(a.Length / length, (first, end) =>
        {
            for (int row = first; row < end; row++)
            {
                var x = a.AsSpan(row * length, length);
                var y = b.AsSpan(row * length, length);
                T max = TensorPrimitives.Max<T>(x);
                TensorPrimitives.Subtract(x, max, y);
                TensorPrimitives.Exp<T>(y, y);
                T sum = TensorPrimitives.Sum<T>(y);
                TensorPrimitives.Multiply(y, T.One / sum, y);
            }
        });
    }

    /// <summary>Backward by composing TensorPrimitives per row and cotangent: Dot, Subtract, Multiply; rows in parallel.</summary>
    public static void TensorPrimitivesBackward<T>(T[] b, T[] dB, T[] dA, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = b.Length;
        int cotangents = dB.Length / count;
        ForRows(count / length, (first, end) =>
        {
            for (int row = first; row < end; row++)
            {
                var y = b.AsSpan(row * length, length);
                for (int k = 0; k < cotangents; k++)
                {
                    var dy = dB.AsSpan(k * count + row * length, length);
                    var dx = dA.AsSpan(k * count + row * length, length);
                    T dot = TensorPrimitives.Dot<T>(y, dy);
                    TensorPrimitives.Subtract(dy, dot, dx);
                    TensorPrimitives.Multiply<T>(dx, y, dx);
                }
            }
        });
    }

    /// <summary>
    /// A reference stream that moves the bytes of the backward pass with one multiply per element: rows in chunks of
    /// 128 KiB of B, each cotangent in turn over the chunk (the order of the per-cotangent kernel; the rows kernel goes
    /// row by row, all cotangents per row, and can be faster), dA_k = B ∘ dB_k written with non-temporal stores where
    /// AVX-512 has them. Its time for 4 cotangents over its time for 1 is what the memory system gives that traffic in
    /// this order, whatever the arithmetic.
    /// </summary>
    public static unsafe void BackwardTrafficFloor<T>(T[] b, T[] dB, T[] dA, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = b.Length;
        int cotangents = dB.Length / count;
        int chunk = Math.Max(1, 128 * 1024 / (length * sizeof(T)));
        ForRows(count / length, (first, end) =>
        {
            fixed (T* pb = b, pdB = dB, pdA = dA)
            {
                for (int start = first; start < end; start += chunk)
                {
                    int stop = Math.Min(end, start + chunk);
                    for (int k = 0; k < cotangents; k++)
                    {
                        for (int row = start; row < stop; row++)
                        {
                            long offset = (long)row * length;
                            MultiplyStream(pb + offset, pdB + (long)k * count + offset, pdA + (long)k * count + offset, length);
                        }
                    }
                }

                if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
                {
                    System.Runtime.Intrinsics.X86.Sse.StoreFence();
                }
            }
        });
    }

    private static unsafe void MultiplyStream<T>(T* x, T* y, T* z, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            for (; i < length && ((nuint)(z + i) & 63) != 0; i++)
            {
                z[i] = x[i] * y[i];
            }

            int width = System.Runtime.Intrinsics.Vector512<T>.Count;
            for (; i + width <= length; i += width)
            {
                System.Runtime.Intrinsics.Vector512.StoreAlignedNonTemporal(System.Runtime.Intrinsics.Vector512.Load(x + i) * System.Runtime.Intrinsics.Vector512.Load(y + i), z + i);
            }
        }

        for (; i < length; i++)
        {
            z[i] = x[i] * y[i];
        }
    }

    /// <summary>TensorPrimitives.SoftMax called row by row on the calling thread.</summary>
    public static void TensorPrimitivesSoftMaxRows<T>(T[] a, T[] b, int length)
        where T : unmanaged, IExponentialFunctions<T>
    {
        for (int start = 0; start < a.Length; start += length)
        {
            TensorPrimitives.SoftMax<T>(a.AsSpan(start, length), b.AsSpan(start, length));
        }
    }

    /// <summary>The textbook scalar loop (max, exp and sum, scale) per row; rows in parallel.</summary>
    public static void ScalarForward<T>(T[] a, T[] b, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ForRows(a.Length / length, (first, end) =>
        {
            for (int row = first; row < end; row++)
            {
                int start = row * length;
                T max = T.NegativeInfinity;
                for (int i = start; i < start + length; i++)
                {
                    max = T.Max(max, a[i]);
                }

                T sum = T.Zero;
                for (int i = start; i < start + length; i++)
                {
                    T e = T.Exp(a[i] - max);
                    b[i] = e;
                    sum += e;
                }

                T scale = T.One / sum;
                for (int i = start; i < start + length; i++)
                {
                    b[i] *= scale;
                }
            }
        });
    }

    /// <summary>The textbook scalar backward per row and cotangent; rows in parallel.</summary>
    public static void ScalarBackward<T>(T[] b, T[] dB, T[] dA, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = b.Length;
        int cotangents = dB.Length / count;
        ForRows(count / length, (first, end) =>
        {
            for (int row = first; row < end; row++)
            {
                int start = row * length;
                for (int k = 0; k < cotangents; k++)
                {
                    int offset = k * count;
                    T dot = T.Zero;
                    for (int i = start; i < start + length; i++)
                    {
                        dot += b[i] * dB[offset + i];
                    }

                    for (int i = start; i < start + length; i++)
                    {
                        dA[offset + i] = b[i] * (dB[offset + i] - dot);
                    }
                }
            }
        });
    }
}
