using System;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Samples.Attention;

/// <summary>
/// The same attention on an ILGPU accelerator, in float. Unfused: one simple kernel per matrix product (a thread per
/// output element), and the generated softmax launchers between them. Fused: the generated attention launchers.
/// Everything stays on the device until the results are read back.
/// </summary>
public sealed class IlgpuAttention
{
    private readonly Accelerator _accelerator;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize> _scores;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize> _output;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize> _gradientV;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize> _gradientP;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize> _gradientQ;
    private readonly Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize> _gradientK;

    public IlgpuAttention(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _scores = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize>(AttentionKernels.Scores);
        _output = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize>(AttentionKernels.Output);
        _gradientV = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize>(AttentionKernels.GradientV);
        _gradientP = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize>(AttentionKernels.GradientP);
        _gradientQ = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize>(AttentionKernels.GradientQ);
        _gradientK = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ProblemSize>(AttentionKernels.GradientK);
    }

    public string DeviceName => $"{_accelerator.AcceleratorType}: {_accelerator.Name}";

    /// <summary>
    /// The unfused path: S = Q Kᵀ, P = softmax(S / √d), O = P V, then dV, dP, dS, dQ, dK, with S, P, dP and dS stored on
    /// the device. The inputs are uploaded once; each timed call launches its kernels and waits for them (no transfers).
    /// Returns the results, read back after the last call, and what a forward and a backward call cost.
    /// </summary>
    public (AttentionForward<float> Forward, AttentionBackward<float> Backward, Cost ForwardCost, Cost BackwardCost) Unfused(
        ProblemSize shape, float[] q, float[] k, float[] v, float[] dO, bool causal, int runs)
    {
        using var qs = _accelerator.Allocate1D(q);
        using var ks = _accelerator.Allocate1D(k);
        using var vs = _accelerator.Allocate1D(v);
        using var dOs = _accelerator.Allocate1D(dO);
        using var s = _accelerator.Allocate1D<float>(shape.ScoreElements);
        using var p = _accelerator.Allocate1D<float>(shape.ScoreElements);
        using var o = _accelerator.Allocate1D<float>(shape.TokenElements);
        using var dV = _accelerator.Allocate1D<float>(shape.TokenElements);
        using var dP = _accelerator.Allocate1D<float>(shape.ScoreElements);
        using var dS = _accelerator.Allocate1D<float>(shape.ScoreElements);
        using var dQ = _accelerator.Allocate1D<float>(shape.TokenElements);
        using var dK = _accelerator.Allocate1D<float>(shape.TokenElements);

        // The scale 1/√d and the causal mask are applied inside the generated softmax; its pullback includes the scale.
        float scale = (float)shape.Scale;
        void Forward()
        {
            _scores(shape.ScoreElements, qs.View, ks.View, s.View, shape);
            if (causal)
            {
                CausalKeySoftmax.Forward(_accelerator, s.View, p.View, shape.ScoreShape, scale);
            }
            else
            {
                KeySoftmax.Forward(_accelerator, s.View, p.View, shape.ScoreShape, scale);
            }

            _output(shape.TokenElements, p.View, vs.View, o.View, shape);
            _accelerator.Synchronize();
        }

        void Backward()
        {
            _gradientV(shape.TokenElements, p.View, dOs.View, dV.View, shape);
            _gradientP(shape.ScoreElements, dOs.View, vs.View, dP.View, shape);
            if (causal)
            {
                CausalKeySoftmax.Backward(_accelerator, p.View, dP.View, dS.View, shape.ScoreShape, scale);
            }
            else
            {
                KeySoftmax.Backward(_accelerator, p.View, dP.View, dS.View, shape.ScoreShape, scale);
            }

            _gradientQ(shape.TokenElements, dS.View, ks.View, dQ.View, shape);
            _gradientK(shape.TokenElements, dS.View, qs.View, dK.View, shape);
            _accelerator.Synchronize();
        }

        var forwardCost = Measurement.Of(Forward, runs);
        var backwardCost = Measurement.Of(Backward, runs);
        return (
            new AttentionForward<float>(s.GetAsArray1D(), p.GetAsArray1D(), o.GetAsArray1D()),
            new AttentionBackward<float>(dQ.GetAsArray1D(), dK.GetAsArray1D(), dV.GetAsArray1D(), dP.GetAsArray1D(), dS.GetAsArray1D()),
            forwardCost,
            backwardCost);
    }

    /// <summary>
    /// The fused path: the generated launchers of <paramref name="fused"/>, which keep only O and the log-sum-exp (one
    /// float per query) between forward and backward. Timed like <see cref="Unfused"/>.
    /// </summary>
    public (FusedResult<float> Result, Cost ForwardCost, Cost BackwardCost) Fused(
        FusedAttentionClass fused, ProblemSize shape, float[] q, float[] k, float[] v, float[] dO, int runs)
    {
        using var qs = _accelerator.Allocate1D(q);
        using var ks = _accelerator.Allocate1D(k);
        using var vs = _accelerator.Allocate1D(v);
        using var dOs = _accelerator.Allocate1D(dO);
        using var o = _accelerator.Allocate1D<float>(shape.TokenElements);
        using var lse = _accelerator.Allocate1D<float>(shape.RowElements);
        using var dQ = _accelerator.Allocate1D<float>(shape.TokenElements);
        using var dK = _accelerator.Allocate1D<float>(shape.TokenElements);
        using var dV = _accelerator.Allocate1D<float>(shape.TokenElements);

        var attentionShape = shape.ToAttentionShape();
        float scale = (float)shape.Scale;
        var forwardCost = Measurement.Of(
            () =>
            {
                fused.DeviceForward(_accelerator, qs.View, ks.View, vs.View, o.View, lse.View, attentionShape, scale);
                _accelerator.Synchronize();
            },
            runs);
        var backwardCost = Measurement.Of(
            () =>
            {
                fused.DeviceBackward(_accelerator, qs.View, ks.View, vs.View, o.View, lse.View, dOs.View, dQ.View, dK.View, dV.View, attentionShape, scale);
                _accelerator.Synchronize();
            },
            runs);
        return (
            new FusedResult<float>(o.GetAsArray1D(), lse.GetAsArray1D(), dQ.GetAsArray1D(), dK.GetAsArray1D(), dV.GetAsArray1D()),
            forwardCost,
            backwardCost);
    }
}

/// <summary>The matrix products of attention, a thread per output element, for [batch·heads] independent pairs.</summary>
public static class AttentionKernels
{
    /// <summary>S[i, j] = Q[i] · K[j].</summary>
    public static void Scores(Index1D index, ArrayView<float> q, ArrayView<float> k, ArrayView<float> s, ProblemSize shape)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        int pair = index / (n * n), i = index / n % n, j = index % n;
        float sum = 0;
        for (int m = 0; m < d; m++)
        {
            sum += q[(pair * n + i) * d + m] * k[(pair * n + j) * d + m];
        }

        s[index] = sum;
    }

    /// <summary>O[i, c] = Σ_j P[i, j] V[j, c].</summary>
    public static void Output(Index1D index, ArrayView<float> p, ArrayView<float> v, ArrayView<float> o, ProblemSize shape)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        int pair = index / (n * d), i = index / d % n, c = index % d;
        float sum = 0;
        for (int j = 0; j < n; j++)
        {
            sum += p[(pair * n + i) * n + j] * v[(pair * n + j) * d + c];
        }

        o[index] = sum;
    }

    /// <summary>dV[j, c] = Σ_i P[i, j] dO[i, c].</summary>
    public static void GradientV(Index1D index, ArrayView<float> p, ArrayView<float> dO, ArrayView<float> dV, ProblemSize shape)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        int pair = index / (n * d), j = index / d % n, c = index % d;
        float sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += p[(pair * n + i) * n + j] * dO[(pair * n + i) * d + c];
        }

        dV[index] = sum;
    }

    /// <summary>dP[i, j] = dO[i] · V[j].</summary>
    public static void GradientP(Index1D index, ArrayView<float> dO, ArrayView<float> v, ArrayView<float> dP, ProblemSize shape)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        int pair = index / (n * n), i = index / n % n, j = index % n;
        float sum = 0;
        for (int m = 0; m < d; m++)
        {
            sum += dO[(pair * n + i) * d + m] * v[(pair * n + j) * d + m];
        }

        dP[index] = sum;
    }

    /// <summary>dQ[i, c] = Σ_j dS[i, j] K[j, c].</summary>
    public static void GradientQ(Index1D index, ArrayView<float> dS, ArrayView<float> k, ArrayView<float> dQ, ProblemSize shape)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        int pair = index / (n * d), i = index / d % n, c = index % d;
        float sum = 0;
        for (int j = 0; j < n; j++)
        {
            sum += dS[(pair * n + i) * n + j] * k[(pair * n + j) * d + c];
        }

        dQ[index] = sum;
    }

    /// <summary>dK[j, c] = Σ_i dS[i, j] Q[i, c].</summary>
    public static void GradientK(Index1D index, ArrayView<float> dS, ArrayView<float> q, ArrayView<float> dK, ProblemSize shape)
    {
        int n = shape.Sequence, d = shape.HeadDim;
        int pair = index / (n * d), j = index / d % n, c = index % d;
        float sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += dS[(pair * n + i) * n + j] * q[(pair * n + i) * d + c];
        }

        dK[index] = sum;
    }
}
