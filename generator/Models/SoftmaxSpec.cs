namespace SoftmaxGen.Generator.Models;

/// <summary>The element type named by <c>ElementType</c>.</summary>
internal enum ElementKind
{
    Single,
    Double,
    Half,
}

/// <summary>The operation of the family an attribute asks for.</summary>
internal enum FamilyOperation
{
    Softmax,
    LogSoftmax,
}

/// <summary>
/// The options that change the logits: a mask and a bias over sets of axes, and a causal mask between a query axis
/// (batch) and a key axis (reduced). Axis lists are ascending; -1 marks no causal mask.
/// </summary>
internal sealed record FamilyOptions(EquatableArray<int> MaskAxes, EquatableArray<int> BiasAxes, int CausalQuery, int CausalKey)
{
    public static readonly FamilyOptions None = new(EquatableArray<int>.Empty, EquatableArray<int>.Empty, -1, -1);

    public bool HasMask => MaskAxes.Count > 0;

    public bool HasBias => BiasAxes.Count > 0;

    public bool HasCausal => CausalQuery >= 0;

    public bool Any => HasMask || HasBias || HasCausal;
}

/// <summary>A type that encloses the annotated class, as the generated partial declaration must repeat it.</summary>
/// <param name="Declaration">The keywords that open it, e.g. <c>partial class</c> or <c>static partial class</c> or <c>partial record struct</c>.</param>
/// <param name="Name">Its name, escaped if it is a keyword.</param>
internal sealed record ContainingType(string Declaration, string Name);

/// <summary>Where the annotated class lives: everything the generated file needs to reopen it.</summary>
/// <param name="Namespace">The namespace, or the empty string for the global namespace.</param>
/// <param name="Containers">The enclosing types, outermost first.</param>
/// <param name="Name">The class name, escaped if it is a keyword.</param>
internal sealed record TypeHierarchy(string Namespace, EquatableArray<ContainingType> Containers, string Name)
{
    /// <summary>
    /// A file name for the generated source, unique per class and attribute: nesting is written with '+', and the
    /// attribute's name ends it.
    /// </summary>
    public string HintName(string attribute)
    {
        var path = new System.Text.StringBuilder();
        if (Namespace.Length > 0)
        {
            path.Append(Namespace).Append('.');
        }

        foreach (var container in Containers)
        {
            path.Append(container.Name).Append('+');
        }

        return path.Append(Name).Append('.').Append(attribute).Append(".g.cs").Replace("@", "").ToString();
    }
}

/// <summary>A valid <c>[Softmax]</c> or <c>[LogSoftmax]</c> declaration, reduced to values.</summary>
/// <param name="Operation">Which attribute: softmax or log-softmax.</param>
/// <param name="Type">The annotated class.</param>
/// <param name="Rank">The tensor rank, 1 to 8.</param>
/// <param name="Axes">The reduced axes s1 as written in the attribute (distinct, in range).</param>
/// <param name="Element">The element type.</param>
/// <param name="Options">The mask, bias and causal options (<see cref="FamilyOptions.None"/> for none).</param>
/// <param name="ApproximateGpuExp">Whether the GPU kernels use the approximate exp (float and Half only); the CPU path ignores it.</param>
internal sealed record SoftmaxSpec(FamilyOperation Operation, TypeHierarchy Type, int Rank, EquatableArray<int> Axes, ElementKind Element, FamilyOptions Options, bool ApproximateGpuExp = false)
{
    /// <summary>The attribute's name as written in code: <c>Softmax</c> or <c>LogSoftmax</c>.</summary>
    public string AttributeName => Operation == FamilyOperation.LogSoftmax ? "LogSoftmax" : "Softmax";
}
