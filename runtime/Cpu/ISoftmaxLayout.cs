namespace SoftmaxGen.Runtime;

/// <summary>
/// A tensor layout as the generator's plan sees it, specialised for one <see cref="SoftmaxAttribute"/>:
/// the shape folded into alternating groups of batch (s2) and reduced (s1) axes. Each annotated class gets
/// its own implementation (a private struct named <c>Layout</c>); the CPU kernels in
/// <see cref="CpuSoftmax"/> take it as a generic argument, so its loops are compiled into them.
/// </summary>
/// <remarks>
/// A slice is the set of elements that share one batch index; softmax normalises each slice.
/// <list type="bullet">
/// <item>When the last axis is reduced (<see cref="LanesInner"/> false), a slice is one or more contiguous
/// runs of <see cref="InnerExtent"/> elements. <see cref="Origin"/> maps a slice number to its first element.</item>
/// <item>When the last axis is a batch axis (<see cref="LanesInner"/> true), <see cref="InnerExtent"/> slices
/// lie side by side: the kernels process them together, one lane each. <see cref="Origin"/> maps the number of
/// such a group of slices (the batch index without its last group) to the offset of its first lane.</item>
/// </list>
/// In both cases <see cref="ForEachRun"/> visits, for an origin, the offset of every run of the slice(s): the
/// walk over the reduced groups that are not contiguous with the last axis.
/// </remarks>
public interface ISoftmaxLayout
{
    /// <summary>True when the last axis is a batch axis, so that neighbouring elements belong to different slices.</summary>
    bool LanesInner { get; }

    /// <summary>
    /// True when the planner found a batch group just before the last (reduced) group and another reduced group further
    /// out: the short runs of neighbouring slices then lie side by side and can be processed together as rows.
    /// </summary>
    bool BlockCapable { get; }

    /// <summary>The number of slices: the product of the batch extents.</summary>
    int SliceCount { get; }

    /// <summary>The number of elements of one slice: the product of the reduced extents.</summary>
    int SliceLength { get; }

    /// <summary>The extent of the last group: the length of a contiguous run, or the number of lanes.</summary>
    int InnerExtent { get; }

    /// <summary>
    /// The extent of the innermost batch group (1 without batch axes). Consecutive slice numbers within it have origins
    /// <see cref="InnerExtent"/> apart when the last axis is reduced (their runs sit side by side), and 1 apart with lanes
    /// (where it equals <see cref="InnerExtent"/>).
    /// </summary>
    int InnerBatchExtent { get; }

    /// <summary>Whether the attribute names mask axes: <c>Forward</c> and <c>LogSumExp</c> then take a mask.</summary>
    bool HasMask { get; }

    /// <summary>Whether the attribute names bias axes: <c>Forward</c> and <c>LogSumExp</c> then take a bias.</summary>
    bool HasBias { get; }

    /// <summary>Whether the attribute names a causal query axis and key axis.</summary>
    bool HasCausal { get; }

    /// <summary>The mask's length: the product of the mask axes' extents (0 without a mask).</summary>
    int MaskLength { get; }

    /// <summary>The bias's length: the product of the bias axes' extents (0 without a bias).</summary>
    int BiasLength { get; }

    /// <summary>
    /// How far the mask's offset moves per element along a run of the last group: 1 when the last axis is a mask axis
    /// (the mask's own last axis), 0 when the mask is broadcast along it.
    /// </summary>
    int MaskRunStride { get; }

    /// <summary>How far the bias's offset moves per element along a run of the last group: 1 or 0, as for the mask.</summary>
    int BiasRunStride { get; }

    /// <summary>Which causal index, if any, moves along a run of the last group.</summary>
    CausalRun CausalRun { get; }

    /// <summary>K − Q, the key extent minus the query extent: key index k is excluded beyond query index q + K − Q.</summary>
    int CausalShift { get; }

    /// <summary>The offset of the first element of a slice (or, with lanes, of a group of adjacent slices).</summary>
    int Origin(int outer);

    /// <summary>
    /// The place of the element at <paramref name="offset"/> for the options: its offsets in the mask and the bias and
    /// its causal query and key indices (all 0 for what the layout does not have).
    /// </summary>
    ElementPlace Locate(int offset);

    /// <summary>Calls <paramref name="visitor"/> with the offset of every run that starts at <paramref name="origin"/>, in row-major order.</summary>
    void ForEachRun<TVisitor>(int origin, ref TVisitor visitor)
        where TVisitor : IRunVisitor, allows ref struct;
}

/// <summary>Receives the offsets of the runs of a slice from <see cref="ISoftmaxLayout.ForEachRun"/>.</summary>
public interface IRunVisitor
{
    /// <summary>Handles the run that starts at <paramref name="offset"/>.</summary>
    void Visit(int offset);
}

/// <summary>Which causal index moves along the contiguous runs of a layout's last group.</summary>
public enum CausalRun
{
    /// <summary>Neither: a run is all included or all excluded (or there is no causal mask).</summary>
    None,

    /// <summary>The key index (the last axis is the key axis): a run's included elements are a prefix.</summary>
    Key,

    /// <summary>The query index (the last axis is the query axis): a run's included elements are a suffix.</summary>
    Query,
}

/// <summary>Where an element sits for the options: its offsets in the mask and the bias, and its causal indices.</summary>
public readonly struct ElementPlace
{
    /// <summary>An element's place: offsets in the mask and the bias, indices along the causal query and key axes.</summary>
    public ElementPlace(int mask, int bias, int query, int key)
    {
        Mask = mask;
        Bias = bias;
        Query = query;
        Key = key;
    }

    /// <summary>The offset of the element's mask entry.</summary>
    public int Mask { get; }

    /// <summary>The offset of the element's bias entry.</summary>
    public int Bias { get; }

    /// <summary>The element's index along the causal query axis.</summary>
    public int Query { get; }

    /// <summary>The element's index along the causal key axis.</summary>
    public int Key { get; }
}
