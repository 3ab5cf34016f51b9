using System.Collections.Generic;
using System.Linq;
using SoftmaxGen.Generator.Models;

namespace SoftmaxGen.Generator.Planning;

/// <summary>Whether the axes of a group are batch axes (s2) or reduced axes (s1).</summary>
internal enum AxisKind
{
    Batch,
    Reduced,
}

/// <summary>What the options make of an axis: spanned by the mask, by the bias, the causal query or key axis.</summary>
[System.Flags]
internal enum AxisRoles
{
    None = 0,
    Mask = 1,
    Bias = 2,
    Query = 4,
    Key = 8,
}

/// <summary>Adjacent axes of one kind and the same roles, merged: in a dense row-major tensor they behave as one axis.</summary>
/// <param name="Index">The group's position, outermost 0.</param>
/// <param name="Kind">Batch or reduced.</param>
/// <param name="Axes">The original axes it merges, ascending and adjacent.</param>
/// <param name="Roles">What the options make of its axes (all alike).</param>
internal sealed record AxisGroup(int Index, AxisKind Kind, EquatableArray<int> Axes, AxisRoles Roles)
{
    public bool InMask => (Roles & AxisRoles.Mask) != 0;

    public bool InBias => (Roles & AxisRoles.Bias) != 0;

    public string SetName => Kind == AxisKind.Batch ? "s2" : "s1";

    public string KindName => Kind == AxisKind.Batch ? "batch" : "reduced";
}

/// <summary>
/// The canonical layout of a <see cref="SoftmaxSpec"/> and the loop nest chosen for it. Without options every layout
/// becomes an alternation of batch and reduced groups; with options, adjacent groups of one kind stay apart where
/// their option roles differ. The last group decides the strategy.
/// </summary>
/// <param name="Spec">The declaration it plans.</param>
/// <param name="Groups">The groups, outermost first; neighbours differ in kind or in roles.</param>
internal sealed record KernelPlan(SoftmaxSpec Spec, EquatableArray<AxisGroup> Groups)
{
    public AxisGroup Inner => Groups[Groups.Count - 1];

    /// <summary>
    /// True when the last group is a batch group: adjacent elements then belong to adjacent slices, which the
    /// kernels process together as lanes. False when it is reduced: each slice is made of contiguous runs.
    /// </summary>
    public bool LanesInner => Inner.Kind == AxisKind.Batch;

    /// <summary>
    /// True when the slices of the innermost batch group can be processed together in rows (block mode): the last
    /// group is reduced, a batch group lies just before it, and another reduced group further out gives each slice
    /// several runs. Not with options: a row of a block crosses the slices' runs, along which a mask or a bias would
    /// not advance evenly.
    /// </summary>
    public bool BlockCapable => !LanesInner && Groups.Count >= 3 && Groups[Groups.Count - 2].Kind == AxisKind.Batch && !Spec.Options.Any;

    public IEnumerable<AxisGroup> BatchGroups => Groups.Where(group => group.Kind == AxisKind.Batch);

    public IEnumerable<AxisGroup> ReducedGroups => Groups.Where(group => group.Kind == AxisKind.Reduced);

    /// <summary>The batch groups that locate a slice (or, with lanes, a tile of adjacent slices): all but the lanes.</summary>
    public IReadOnlyList<AxisGroup> OriginGroups => BatchGroups.Where(group => group != Inner).ToList();

    /// <summary>The reduced groups walked to visit the runs of one slice: all but the contiguous last one.</summary>
    public IReadOnlyList<AxisGroup> RunGroups => ReducedGroups.Where(group => group != Inner).ToList();

    public IEnumerable<int> SortedAxes => Spec.Axes.OrderBy(axis => axis);

    public IEnumerable<int> BatchAxes => Enumerable.Range(0, Spec.Rank).Except(Spec.Axes);

    public IEnumerable<AxisGroup> MaskGroups => Groups.Where(group => group.InMask);

    public IEnumerable<AxisGroup> BiasGroups => Groups.Where(group => group.InBias);

    public AxisGroup? QueryGroup => Groups.FirstOrDefault(group => (group.Roles & AxisRoles.Query) != 0);

    public AxisGroup? KeyGroup => Groups.FirstOrDefault(group => (group.Roles & AxisRoles.Key) != 0);
}
