using System;
using System.Numerics;
using System.Threading.Tasks;

namespace SoftmaxGen.Samples.Attention;

public delegate void SoftmaxForward<T>(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<int> shape, float scale = 1f);

public delegate void SoftmaxBackward<T>(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<int> shape, float scale = 1f);

/// <summary>Activations of one forward pass.</summary>
public sealed record AttentionForward<T>(T[] Scores, T[] Probabilities, T[] Output);

/// <summary>Gradients of one backward pass, with the intermediates the report shows.</summary>
public sealed record AttentionBackward<T>(T[] DQ, T[] DK, T[] DV, T[] DP, T[] DS);

/// <summary>
/// Scaled dot-product attention on the CPU, generic over float and double: plain batched matrix products around the
/// generated softmax, which applies the scale 1/√d and (for a causal class) the causal mask itself. Every (batch, head)
/// pair is independent and runs on its own thread.
/// </summary>
public sealed class CpuAttention<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly SoftmaxForward<T> _softmax;
    private readonly SoftmaxBackward<T> _softmaxBackward;

    public CpuAttention(SoftmaxForward<T> softmax, SoftmaxBackward<T> softmaxBackward)
    {
        _softmax = softmax;
        _softmaxBackward = softmaxBackward;
    }

    /// <summary>
    /// S = Q Kᵀ, P = softmax(S / √d) over the key axis (the scale, and the causal mask where the class has it, applied
    /// inside the generated softmax), O = P V.
    /// </summary>
    public AttentionForward<T> Forward(ProblemSize shape, T[] q, T[] k, T[] v)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        var s = new T[shape.ScoreElements];
        Parallel.For(0, shape.Pairs, pair =>
        {
            var qs = q.AsSpan(pair * n * d, n * d);
            var ks = k.AsSpan(pair * n * d, n * d);
            var ss = s.AsSpan(pair * n * n, n * n);
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    ss[i * n + j] = Dot(qs.Slice(i * d, d), ks.Slice(j * d, d));
                }
            }
        });

        var p = new T[s.Length];
        _softmax(s, p, shape.ScoreShape, (float)shape.Scale);

        var o = new T[shape.TokenElements];
        Parallel.For(0, shape.Pairs, pair => MultiplyAdd(p.AsSpan(pair * n * n, n * n), v.AsSpan(pair * n * d, n * d), o.AsSpan(pair * n * d, n * d), n, n, d, transposeLeft: false));
        return new AttentionForward<T>(s, p, o);
    }

    /// <summary>
    /// dV = Pᵀ dO, dP = dO Vᵀ, dS = P ∘ (dP - rowsum(dP ∘ P)) / √d by the generated backward (the pullback to S, the
    /// scale included), dQ = dS K, dK = dSᵀ Q.
    /// </summary>
    public AttentionBackward<T> Backward(ProblemSize shape, T[] q, T[] k, T[] v, AttentionForward<T> forward, T[] dO)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        var p = forward.Probabilities;
        var dV = new T[shape.TokenElements];
        var dP = new T[shape.ScoreElements];
        Parallel.For(0, shape.Pairs, pair =>
        {
            var dOs = dO.AsSpan(pair * n * d, n * d);
            var vs = v.AsSpan(pair * n * d, n * d);
            var dPs = dP.AsSpan(pair * n * n, n * n);
            MultiplyAdd(p.AsSpan(pair * n * n, n * n), dOs, dV.AsSpan(pair * n * d, n * d), n, n, d, transposeLeft: true);
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++)
                {
                    dPs[i * n + j] = Dot(dOs.Slice(i * d, d), vs.Slice(j * d, d));
                }
            }
        });

        var dS = new T[dP.Length];
        _softmaxBackward(p, dP, dS, shape.ScoreShape, (float)shape.Scale);

        var dQ = new T[shape.TokenElements];
        var dK = new T[shape.TokenElements];
        Parallel.For(0, shape.Pairs, pair =>
        {
            var dSs = dS.AsSpan(pair * n * n, n * n);
            MultiplyAdd(dSs, k.AsSpan(pair * n * d, n * d), dQ.AsSpan(pair * n * d, n * d), n, n, d, transposeLeft: false);
            MultiplyAdd(dSs, q.AsSpan(pair * n * d, n * d), dK.AsSpan(pair * n * d, n * d), n, n, d, transposeLeft: true);
        });
        return new AttentionBackward<T>(dQ, dK, dV, dP, dS);
    }

    private static T Dot(ReadOnlySpan<T> x, ReadOnlySpan<T> y)
    {
        T sum = T.Zero;
        for (int i = 0; i < x.Length; i++)
        {
            sum += x[i] * y[i];
        }

        return sum;
    }

    /// <summary>C += A B (or Aᵀ B), with A [rows × inner] (or [inner × rows]), B [inner × columns], C [rows × columns].</summary>
    private static void MultiplyAdd(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int rows, int inner, int columns, bool transposeLeft)
    {
        for (int i = 0; i < rows; i++)
        {
            var row = c.Slice(i * columns, columns);
            for (int m = 0; m < inner; m++)
            {
                T factor = transposeLeft ? a[m * rows + i] : a[i * inner + m];
                if (factor == T.Zero)
                {
                    continue; // masked probabilities: nothing to add
                }

                var source = b.Slice(m * columns, columns);
                for (int j = 0; j < columns; j++)
                {
                    row[j] += factor * source[j];
                }
            }
        }
    }
}
