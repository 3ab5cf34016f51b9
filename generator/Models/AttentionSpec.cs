namespace SoftmaxGen.Generator.Models;

/// <summary>A valid <c>[Attention]</c> declaration, reduced to values.</summary>
/// <param name="Type">The annotated class.</param>
/// <param name="HeadDim">The head dimension, 1 to 256.</param>
/// <param name="Element">The element type.</param>
/// <param name="Causal">Whether later keys are excluded (aligned bottom-right).</param>
internal sealed record AttentionSpec(TypeHierarchy Type, int HeadDim, ElementKind Element, bool Causal);

/// <summary>What the attention parse stage gives: a spec, or the diagnostics that stop generation.</summary>
internal sealed record AttentionParseResult(AttentionSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
