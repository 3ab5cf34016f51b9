using SoftmaxGen;

namespace SoftmaxGen.Benchmarks;

// The benchmarked layouts, compiled by the generator exactly as a user's project gets them.

/// <summary>[rows, length], s1 = {1}: the last axis reduced (float).</summary>
[Softmax(2, 1)]
public static partial class RowsFloat { }

/// <summary>[rows, length], s1 = {1}: the last axis reduced (double).</summary>
[Softmax(2, 1, ElementType = typeof(double))]
public static partial class RowsDouble { }

/// <summary>[rows, length], s1 = {1}: the last axis reduced (Half, computed in float).</summary>
[Softmax(2, 1, ElementType = typeof(System.Half))]
public static partial class RowsHalf { }

/// <summary>[batch, channels, pixels], s1 = {1}: the last axis a batch axis, slices side by side as lanes (float).</summary>
[Softmax(3, 1)]
public static partial class ChannelsFloat { }

/// <summary>[batch, channels, pixels], s1 = {1} (double).</summary>
[Softmax(3, 1, ElementType = typeof(double))]
public static partial class ChannelsDouble { }

/// <summary>[batch, channels, pixels], s1 = {1} (Half, computed in float).</summary>
[Softmax(3, 1, ElementType = typeof(System.Half))]
public static partial class ChannelsHalf { }

/// <summary>[a, b, c, d], s1 = {1, 3}: a slice is b runs of d elements, strided (float).</summary>
[Softmax(4, 1, 3)]
public static partial class ScatteredFloat { }

/// <summary>[a, b, c, d], s1 = {1, 3} (double).</summary>
[Softmax(4, 1, 3, ElementType = typeof(double))]
public static partial class ScatteredDouble { }

/// <summary>[a, b, c, d], s1 = {1, 3} (Half, computed in float).</summary>
[Softmax(4, 1, 3, ElementType = typeof(System.Half))]
public static partial class ScatteredHalf { }

/// <summary>[rows, length], s1 = {1}: log-softmax over the last axis (float).</summary>
[LogSoftmax(2, 1)]
public static partial class LogRowsFloat { }

/// <summary>[rows, length], s1 = {1}: log-softmax (double).</summary>
[LogSoftmax(2, 1, ElementType = typeof(double))]
public static partial class LogRowsDouble { }

/// <summary>[rows, length], s1 = {1}: log-softmax (Half, computed in float).</summary>
[LogSoftmax(2, 1, ElementType = typeof(System.Half))]
public static partial class LogRowsHalf { }

/// <summary>[batch, channels, pixels], s1 = {1}: log-softmax with the slices side by side as lanes (float).</summary>
[LogSoftmax(3, 1)]
public static partial class LogChannelsFloat { }

/// <summary>Attention scores [batch, heads, query, key], s1 = {3}, no options (float).</summary>
[Softmax(4, 3)]
public static partial class ScoresFloat { }

/// <summary>Attention scores with a padding mask over [batch, key].</summary>
[Softmax(4, 3, MaskAxes = new[] { 0, 3 })]
public static partial class ScoresMaskedFloat { }

/// <summary>Attention scores with a bias over [heads, query, key] (relative positions).</summary>
[Softmax(4, 3, BiasAxes = new[] { 1, 2, 3 })]
public static partial class ScoresBiasedFloat { }

/// <summary>Attention scores with the causal mask.</summary>
[Softmax(4, 3, CausalQueryAxis = 2, CausalKeyAxis = 3)]
public static partial class ScoresCausalFloat { }

/// <summary>Attention scores with a padding mask and a bias.</summary>
[Softmax(4, 3, MaskAxes = new[] { 0, 3 }, BiasAxes = new[] { 1, 2, 3 })]
public static partial class ScoresAllFloat { }

/// <summary>Attention scores with every option: padding mask, bias, causal.</summary>
[Softmax(4, 3, MaskAxes = new[] { 0, 3 }, BiasAxes = new[] { 1, 2, 3 }, CausalQueryAxis = 2, CausalKeyAxis = 3)]
public static partial class ScoresAllCausalFloat { }

/// <summary>Attention scores, no options (Half, computed in float).</summary>
[Softmax(4, 3, ElementType = typeof(System.Half))]
public static partial class ScoresHalf { }

/// <summary>Attention scores with a padding mask and a bias (Half, computed in float).</summary>
[Softmax(4, 3, MaskAxes = new[] { 0, 3 }, BiasAxes = new[] { 1, 2, 3 }, ElementType = typeof(System.Half))]
public static partial class ScoresAllHalf { }

/// <summary>Log-softmax attention scores with the causal mask.</summary>
[LogSoftmax(4, 3, CausalQueryAxis = 2, CausalKeyAxis = 3)]
public static partial class LogScoresCausalFloat { }

/// <summary>Log-softmax attention scores, no options.</summary>
[LogSoftmax(4, 3)]
public static partial class LogScoresFloat { }

/// <summary>[rows, length], s1 = {1}, with a mask of one entry per element (float).</summary>
[Softmax(2, 1, MaskAxes = new[] { 0, 1 })]
public static partial class RowsMaskedFloat { }

/// <summary>[batch, channels, pixels], s1 = {1}, with a mask over the channels and a bias over [channels, pixels] (float).</summary>
[Softmax(3, 1, MaskAxes = new[] { 1 }, BiasAxes = new[] { 1, 2 })]
public static partial class ChannelsOptionsFloat { }
