using System;
using SoftmaxGen;

namespace SoftmaxGen.Tests.Fused;

// The attention classes the suites call: head dimensions 1, 7, 16, 64, 80, 128 and 256, causal and not, in float,
// double and Half. 80 and 256 cross the CPU's padding and its query tile of 32 (head dimensions above 128).

[Attention(1)]
public static partial class AttentionFloat1 { }

[Attention(7, Causal = true)]
public static partial class AttentionFloat7Causal { }

[Attention(16)]
public static partial class AttentionFloat16 { }

[Attention(16, Causal = true)]
public static partial class AttentionFloat16Causal { }

[Attention(64)]
public static partial class AttentionFloat64 { }

[Attention(64, Causal = true)]
public static partial class AttentionFloat64Causal { }

[Attention(80, Causal = true)]
public static partial class AttentionFloat80Causal { }

[Attention(128)]
public static partial class AttentionFloat128 { }

[Attention(256)]
public static partial class AttentionFloat256 { }

[Attention(256, Causal = true)]
public static partial class AttentionFloat256Causal { }

[Attention(1, ElementType = typeof(double))]
public static partial class AttentionDouble1 { }

[Attention(7, ElementType = typeof(double))]
public static partial class AttentionDouble7 { }

[Attention(16, Causal = true, ElementType = typeof(double))]
public static partial class AttentionDouble16Causal { }

[Attention(64, ElementType = typeof(double))]
public static partial class AttentionDouble64 { }

[Attention(128, Causal = true, ElementType = typeof(double))]
public static partial class AttentionDouble128Causal { }

[Attention(16, ElementType = typeof(Half))]
public static partial class AttentionHalf16 { }

[Attention(64, Causal = true, ElementType = typeof(Half))]
public static partial class AttentionHalf64Causal { }

[Attention(80, ElementType = typeof(Half))]
public static partial class AttentionHalf80 { }

[Attention(256, Causal = true, ElementType = typeof(Half))]
public static partial class AttentionHalf256Causal { }
