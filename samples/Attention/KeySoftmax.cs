using SoftmaxGen;

namespace SoftmaxGen.Samples.Attention;

/// <summary>P = softmax(S) over the key axis of scores S[batch, heads, query, key]: axis 3 is s1, the rest are s2.</summary>
[Softmax(4, 3)]
public static partial class KeySoftmax { }

/// <summary>The same layout in double, for the gradient check.</summary>
[Softmax(4, 3, ElementType = typeof(double))]
public static partial class KeySoftmaxDouble { }
