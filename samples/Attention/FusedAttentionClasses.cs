using SoftmaxGen;

namespace SoftmaxGen.Samples.Attention;

// Fused scaled dot-product attention, generated for each head dimension the sample runs it with. The head dimension is
// a compile-time constant of each class; FusedAttention picks the class for a problem at run time.

/// <summary>Fused attention for heads of 8 elements.</summary>
[Attention(8)]
public static partial class Attention8 { }

/// <summary>Fused causal attention for heads of 8 elements.</summary>
[Attention(8, Causal = true)]
public static partial class CausalAttention8 { }

/// <summary>Fused attention for heads of 16 elements.</summary>
[Attention(16)]
public static partial class Attention16 { }

/// <summary>Fused causal attention for heads of 16 elements.</summary>
[Attention(16, Causal = true)]
public static partial class CausalAttention16 { }

/// <summary>Fused attention for heads of 32 elements.</summary>
[Attention(32)]
public static partial class Attention32 { }

/// <summary>Fused causal attention for heads of 32 elements.</summary>
[Attention(32, Causal = true)]
public static partial class CausalAttention32 { }

/// <summary>Fused attention for heads of 64 elements (the sample's default head dimension).</summary>
[Attention(64)]
public static partial class Attention64 { }

/// <summary>Fused causal attention for heads of 64 elements.</summary>
[Attention(64, Causal = true)]
public static partial class CausalAttention64 { }

/// <summary>Fused attention for heads of 128 elements.</summary>
[Attention(128)]
public static partial class Attention128 { }

/// <summary>Fused causal attention for heads of 128 elements.</summary>
[Attention(128, Causal = true)]
public static partial class CausalAttention128 { }

/// <summary>Fused attention in double for the gradient check's heads of 4 elements.</summary>
[Attention(4, ElementType = typeof(double))]
public static partial class AttentionDouble4 { }

/// <summary>Fused causal attention in double for the gradient check's heads of 4 elements.</summary>
[Attention(4, ElementType = typeof(double), Causal = true)]
public static partial class CausalAttentionDouble4 { }
