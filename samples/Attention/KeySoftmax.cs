using SoftmaxGen;

namespace SoftmaxGen.Samples.Attention;

/// <summary>P = softmax(scale · S) over the key axis of scores S[batch, heads, query, key]: axis 3 is s1, the rest are s2.</summary>
[Softmax(4, 3)]
public static partial class KeySoftmax { }

/// <summary>The same with the causal mask: key k is excluded for query q when k &gt; q (in the softmax, no separate pass).</summary>
[Softmax(4, 3, CausalQueryAxis = 2, CausalKeyAxis = 3)]
public static partial class CausalKeySoftmax { }

/// <summary>The plain layout in double, for the gradient check.</summary>
[Softmax(4, 3, ElementType = typeof(double))]
public static partial class KeySoftmaxDouble { }

/// <summary>The causal layout in double, for the gradient check.</summary>
[Softmax(4, 3, CausalQueryAxis = 2, CausalKeyAxis = 3, ElementType = typeof(double))]
public static partial class CausalKeySoftmaxDouble { }
