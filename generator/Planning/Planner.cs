using System.Collections.Generic;
using System.Linq;
using SoftmaxGen.Generator.Models;

namespace SoftmaxGen.Generator.Planning;

/// <summary>The plan stage: a spec becomes its canonical layout.</summary>
internal static class Planner
{
    /// <summary>Marks each axis batch or reduced and merges runs of adjacent axes of the same kind into groups.</summary>
    public static KernelPlan Plan(SoftmaxSpec spec)
    {
        var reduced = new HashSet<int>(spec.Axes);
        var groups = new List<AxisGroup>();
        var axes = new List<int>();
        AxisKind? kind = null;
        for (int axis = 0; axis < spec.Rank; axis++)
        {
            var axisKind = reduced.Contains(axis) ? AxisKind.Reduced : AxisKind.Batch;
            if (kind is { } current && current != axisKind)
            {
                groups.Add(new AxisGroup(groups.Count, current, axes.ToEquatableArray()));
                axes.Clear();
            }

            kind = axisKind;
            axes.Add(axis);
        }

        groups.Add(new AxisGroup(groups.Count, kind!.Value, axes.ToEquatableArray()));
        return new KernelPlan(spec, groups.ToEquatableArray());
    }
}
