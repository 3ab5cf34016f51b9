using System.Collections.Generic;
using System.Linq;
using SoftmaxGen.Generator.Models;

namespace SoftmaxGen.Generator.Planning;

/// <summary>The plan stage: a spec becomes its canonical layout.</summary>
internal static class Planner
{
    /// <summary>
    /// Marks each axis batch or reduced and merges runs of adjacent axes into groups: axes of the same kind that the
    /// options treat alike (both in the mask or both out of it, likewise for the bias; a causal axis stays alone), so
    /// that every group maps to the mask and the bias as one axis would.
    /// </summary>
    public static KernelPlan Plan(SoftmaxSpec spec)
    {
        var reduced = new HashSet<int>(spec.Axes);
        var options = spec.Options;
        var groups = new List<AxisGroup>();
        var axes = new List<int>();
        AxisGroup? Close(AxisKind kind, AxisRoles roles)
            => axes.Count == 0 ? null : new AxisGroup(groups.Count, kind, axes.ToEquatableArray(), roles);

        (AxisKind Kind, AxisRoles Roles)? current = null;
        for (int axis = 0; axis < spec.Rank; axis++)
        {
            var kind = reduced.Contains(axis) ? AxisKind.Reduced : AxisKind.Batch;
            var roles = (options.MaskAxes.Contains(axis) ? AxisRoles.Mask : AxisRoles.None)
                | (options.BiasAxes.Contains(axis) ? AxisRoles.Bias : AxisRoles.None)
                | (axis == options.CausalQuery ? AxisRoles.Query : AxisRoles.None)
                | (axis == options.CausalKey ? AxisRoles.Key : AxisRoles.None);
            bool causal = (roles & (AxisRoles.Query | AxisRoles.Key)) != 0;
            if (current is { } open && (open.Kind != kind || open.Roles != roles || causal))
            {
                groups.Add(Close(open.Kind, open.Roles)!);
                axes.Clear();
            }

            current = (kind, roles);
            axes.Add(axis);
        }

        groups.Add(Close(current!.Value.Kind, current.Value.Roles)!);
        return new KernelPlan(spec, groups.ToEquatableArray());
    }
}
