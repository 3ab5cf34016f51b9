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

    /// <summary>The offset of the first element of a slice (or, with lanes, of a group of adjacent slices).</summary>
    int Origin(int outer);

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
