using System;
using System.Collections.Generic;
using System.Linq;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;
using SoftmaxGen;

namespace SoftmaxGen.Tests.Fused;

public delegate void ForwardSpans<T>(ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, Span<T> o, Span<float> lse, AttentionShape shape, float scale);

public delegate void BackwardSpans<T>(
    ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> o, ReadOnlySpan<float> lse, ReadOnlySpan<T> dO,
    Span<T> dQ, Span<T> dK, Span<T> dV, AttentionShape shape, float scale);

public delegate void ForwardViews<T>(AcceleratorStream stream, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> o, ArrayView<float> lse, AttentionShape shape, float scale)
    where T : unmanaged;

public delegate void BackwardViews<T>(
    AcceleratorStream stream, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> o, ArrayView<float> lse, ArrayView<T> dO,
    ArrayView<T> dQ, ArrayView<T> dK, ArrayView<T> dV, AttentionShape shape, float scale)
    where T : unmanaged;

public delegate void ForwardOnAccelerator<T>(Accelerator accelerator, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> o, ArrayView<float> lse, AttentionShape shape, float scale)
    where T : unmanaged;

public delegate void BackwardOnAccelerator<T>(
    Accelerator accelerator, ArrayView<T> q, ArrayView<T> k, ArrayView<T> v, ArrayView<T> o, ArrayView<float> lse, ArrayView<T> dO,
    ArrayView<T> dQ, ArrayView<T> dK, ArrayView<T> dV, AttentionShape shape, float scale)
    where T : unmanaged;

/// <summary>One generated attention class, called with float64 data converted to its element type and back.</summary>
public abstract class AttentionKernel(string name, int headDim, bool causal)
{
    public string Name { get; } = name;

    public int HeadDim { get; } = headDim;

    public bool Causal { get; } = causal;

    public abstract Type Element { get; }

    /// <summary>The bounds against the float64 reference on the CPU and on an accelerator.</summary>
    public AttentionBounds CpuBounds => Element == typeof(float) ? AttentionBounds.Float : Element == typeof(double) ? AttentionBounds.DoubleCpu : AttentionBounds.Half;

    public AttentionBounds GpuBounds => Element == typeof(double) ? AttentionBounds.DoubleGpu : CpuBounds;

    public float Scale => 1 / MathF.Sqrt(HeadDim);

    /// <summary>Rounds a value to the element type.</summary>
    public abstract double Round(double value);

    public AttentionInputs Inputs(int seed, AttentionShape shape) => AttentionInputs.Random(seed, shape, HeadDim, Round);

    /// <summary>The span forward, then the span backward on its O and lse, every output poisoned with NaN first.</summary>
    public abstract AttentionOutputs RunCpu(AttentionInputs inputs, AttentionShape shape, float scale);

    /// <summary>The same through the accelerator overloads (default stream), waiting once at the end.</summary>
    public abstract AttentionOutputs RunAccelerator(Accelerator accelerator, AttentionInputs inputs, AttentionShape shape, float scale);

    public override string ToString() => Name;
}

public sealed class AttentionKernel<T>(
    string name, int headDim, bool causal,
    ForwardSpans<T> forward, BackwardSpans<T> backward,
    ForwardOnAccelerator<T> forwardOn, BackwardOnAccelerator<T> backwardOn,
    ForwardViews<T> forwardStream, BackwardViews<T> backwardStream)
    : AttentionKernel(name, headDim, causal)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public override Type Element => typeof(T);

    public ForwardSpans<T> Forward { get; } = forward;

    public BackwardSpans<T> Backward { get; } = backward;

    public ForwardViews<T> ForwardStream { get; } = forwardStream;

    public BackwardViews<T> BackwardStream { get; } = backwardStream;

    public override double Round(double value) => double.CreateTruncating(T.CreateTruncating(value));

    public static T[] To(double[] values) => Array.ConvertAll(values, value => T.CreateTruncating(value));

    public static double[] From(T[] values) => Array.ConvertAll(values, value => double.CreateTruncating(value));

    public static T[] Poisoned(int length) => Enumerable.Repeat(T.NaN, length).ToArray();

    public override AttentionOutputs RunCpu(AttentionInputs inputs, AttentionShape shape, float scale)
    {
        T[] q = To(inputs.Q), k = To(inputs.K), v = To(inputs.V), dO = To(inputs.DO);
        var o = Poisoned(q.Length);
        var lse = Enumerable.Repeat(float.NaN, shape.Batch * shape.Heads * shape.QueryLength).ToArray();
        Forward(q, k, v, o, lse, shape, scale);
        T[] dQ = Poisoned(q.Length), dK = Poisoned(k.Length), dV = Poisoned(v.Length);
        Backward(q, k, v, o, lse, dO, dQ, dK, dV, shape, scale);
        return new AttentionOutputs(From(o), lse, From(dQ), From(dK), From(dV));
    }

    public override AttentionOutputs RunAccelerator(Accelerator accelerator, AttentionInputs inputs, AttentionShape shape, float scale)
    {
        using var q = accelerator.Allocate1D(To(inputs.Q));
        using var k = accelerator.Allocate1D(To(inputs.K));
        using var v = accelerator.Allocate1D(To(inputs.V));
        using var dO = accelerator.Allocate1D(To(inputs.DO));
        using var o = accelerator.Allocate1D(Poisoned(inputs.Q.Length));
        using var lse = accelerator.Allocate1D(Enumerable.Repeat(float.NaN, shape.Batch * shape.Heads * shape.QueryLength).ToArray());
        using var dQ = accelerator.Allocate1D(Poisoned(inputs.Q.Length));
        using var dK = accelerator.Allocate1D(Poisoned(inputs.K.Length));
        using var dV = accelerator.Allocate1D(Poisoned(inputs.V.Length));
        forwardOn(accelerator, q.View, k.View, v.View, o.View, lse.View, shape, scale);
        backwardOn(accelerator, q.View, k.View, v.View, o.View, lse.View, dO.View, dQ.View, dK.View, dV.View, shape, scale);
        accelerator.Synchronize();
        return new AttentionOutputs(From(o.GetAsArray1D()), lse.GetAsArray1D(), From(dQ.GetAsArray1D()), From(dK.GetAsArray1D()), From(dV.GetAsArray1D()));
    }
}

/// <summary>Every attention class of the suite, by name.</summary>
public static class AttentionKernels
{
    public static readonly IReadOnlyDictionary<string, AttentionKernel> All = new AttentionKernel[]
    {
        Float("AttentionFloat1", AttentionFloat1.HeadDim, AttentionFloat1.Causal, AttentionFloat1.Forward, AttentionFloat1.Backward, AttentionFloat1.Forward, AttentionFloat1.Backward, AttentionFloat1.Forward, AttentionFloat1.Backward),
        Float("AttentionFloat7Causal", AttentionFloat7Causal.HeadDim, AttentionFloat7Causal.Causal, AttentionFloat7Causal.Forward, AttentionFloat7Causal.Backward, AttentionFloat7Causal.Forward, AttentionFloat7Causal.Backward, AttentionFloat7Causal.Forward, AttentionFloat7Causal.Backward),
        Float("AttentionFloat16", AttentionFloat16.HeadDim, AttentionFloat16.Causal, AttentionFloat16.Forward, AttentionFloat16.Backward, AttentionFloat16.Forward, AttentionFloat16.Backward, AttentionFloat16.Forward, AttentionFloat16.Backward),
        Float("AttentionFloat16Causal", AttentionFloat16Causal.HeadDim, AttentionFloat16Causal.Causal, AttentionFloat16Causal.Forward, AttentionFloat16Causal.Backward, AttentionFloat16Causal.Forward, AttentionFloat16Causal.Backward, AttentionFloat16Causal.Forward, AttentionFloat16Causal.Backward),
        Float("AttentionFloat64", AttentionFloat64.HeadDim, AttentionFloat64.Causal, AttentionFloat64.Forward, AttentionFloat64.Backward, AttentionFloat64.Forward, AttentionFloat64.Backward, AttentionFloat64.Forward, AttentionFloat64.Backward),
        Float("AttentionFloat64Causal", AttentionFloat64Causal.HeadDim, AttentionFloat64Causal.Causal, AttentionFloat64Causal.Forward, AttentionFloat64Causal.Backward, AttentionFloat64Causal.Forward, AttentionFloat64Causal.Backward, AttentionFloat64Causal.Forward, AttentionFloat64Causal.Backward),
        Float("AttentionFloat80Causal", AttentionFloat80Causal.HeadDim, AttentionFloat80Causal.Causal, AttentionFloat80Causal.Forward, AttentionFloat80Causal.Backward, AttentionFloat80Causal.Forward, AttentionFloat80Causal.Backward, AttentionFloat80Causal.Forward, AttentionFloat80Causal.Backward),
        Float("AttentionFloat128", AttentionFloat128.HeadDim, AttentionFloat128.Causal, AttentionFloat128.Forward, AttentionFloat128.Backward, AttentionFloat128.Forward, AttentionFloat128.Backward, AttentionFloat128.Forward, AttentionFloat128.Backward),
        Float("AttentionFloat256", AttentionFloat256.HeadDim, AttentionFloat256.Causal, AttentionFloat256.Forward, AttentionFloat256.Backward, AttentionFloat256.Forward, AttentionFloat256.Backward, AttentionFloat256.Forward, AttentionFloat256.Backward),
        Float("AttentionFloat256Causal", AttentionFloat256Causal.HeadDim, AttentionFloat256Causal.Causal, AttentionFloat256Causal.Forward, AttentionFloat256Causal.Backward, AttentionFloat256Causal.Forward, AttentionFloat256Causal.Backward, AttentionFloat256Causal.Forward, AttentionFloat256Causal.Backward),
        Double("AttentionDouble1", AttentionDouble1.HeadDim, AttentionDouble1.Causal, AttentionDouble1.Forward, AttentionDouble1.Backward, AttentionDouble1.Forward, AttentionDouble1.Backward, AttentionDouble1.Forward, AttentionDouble1.Backward),
        Double("AttentionDouble7", AttentionDouble7.HeadDim, AttentionDouble7.Causal, AttentionDouble7.Forward, AttentionDouble7.Backward, AttentionDouble7.Forward, AttentionDouble7.Backward, AttentionDouble7.Forward, AttentionDouble7.Backward),
        Double("AttentionDouble16Causal", AttentionDouble16Causal.HeadDim, AttentionDouble16Causal.Causal, AttentionDouble16Causal.Forward, AttentionDouble16Causal.Backward, AttentionDouble16Causal.Forward, AttentionDouble16Causal.Backward, AttentionDouble16Causal.Forward, AttentionDouble16Causal.Backward),
        Double("AttentionDouble64", AttentionDouble64.HeadDim, AttentionDouble64.Causal, AttentionDouble64.Forward, AttentionDouble64.Backward, AttentionDouble64.Forward, AttentionDouble64.Backward, AttentionDouble64.Forward, AttentionDouble64.Backward),
        Double("AttentionDouble128Causal", AttentionDouble128Causal.HeadDim, AttentionDouble128Causal.Causal, AttentionDouble128Causal.Forward, AttentionDouble128Causal.Backward, AttentionDouble128Causal.Forward, AttentionDouble128Causal.Backward, AttentionDouble128Causal.Forward, AttentionDouble128Causal.Backward),
        Half("AttentionHalf16", AttentionHalf16.HeadDim, AttentionHalf16.Causal, AttentionHalf16.Forward, AttentionHalf16.Backward, AttentionHalf16.Forward, AttentionHalf16.Backward, AttentionHalf16.Forward, AttentionHalf16.Backward),
        Half("AttentionHalf64Causal", AttentionHalf64Causal.HeadDim, AttentionHalf64Causal.Causal, AttentionHalf64Causal.Forward, AttentionHalf64Causal.Backward, AttentionHalf64Causal.Forward, AttentionHalf64Causal.Backward, AttentionHalf64Causal.Forward, AttentionHalf64Causal.Backward),
        Half("AttentionHalf80", AttentionHalf80.HeadDim, AttentionHalf80.Causal, AttentionHalf80.Forward, AttentionHalf80.Backward, AttentionHalf80.Forward, AttentionHalf80.Backward, AttentionHalf80.Forward, AttentionHalf80.Backward),
        Half("AttentionHalf256Causal", AttentionHalf256Causal.HeadDim, AttentionHalf256Causal.Causal, AttentionHalf256Causal.Forward, AttentionHalf256Causal.Backward, AttentionHalf256Causal.Forward, AttentionHalf256Causal.Backward, AttentionHalf256Causal.Forward, AttentionHalf256Causal.Backward),
    }.ToDictionary(kernel => kernel.Name);

    public static AttentionKernel Get(string name) => All[name];

    public static AttentionKernel<T> Get<T>(string name)
        where T : unmanaged, IFloatingPointIeee754<T>
        => (AttentionKernel<T>)All[name];

    private static AttentionKernel Float(
        string name, int d, bool causal, ForwardSpans<float> f, BackwardSpans<float> b, ForwardOnAccelerator<float> fa, BackwardOnAccelerator<float> ba, ForwardViews<float> fs, BackwardViews<float> bs)
        => new AttentionKernel<float>(name, d, causal, f, b, fa, ba, fs, bs);

    private static AttentionKernel Double(
        string name, int d, bool causal, ForwardSpans<double> f, BackwardSpans<double> b, ForwardOnAccelerator<double> fa, BackwardOnAccelerator<double> ba, ForwardViews<double> fs, BackwardViews<double> bs)
        => new AttentionKernel<double>(name, d, causal, f, b, fa, ba, fs, bs);

    private static AttentionKernel Half(
        string name, int d, bool causal, ForwardSpans<System.Half> f, BackwardSpans<System.Half> b, ForwardOnAccelerator<System.Half> fa, BackwardOnAccelerator<System.Half> ba, ForwardViews<System.Half> fs, BackwardViews<System.Half> bs)
        => new AttentionKernel<System.Half>(name, d, causal, f, b, fa, ba, fs, bs);
}
