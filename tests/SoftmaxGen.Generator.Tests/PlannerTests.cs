using System.Linq;
using SoftmaxGen.Generator.Models;
using SoftmaxGen.Generator.Planning;
using Xunit;

namespace SoftmaxGen.Generator.Tests;

/// <summary>The plan stage alone: axes become alternating groups, and the groups decide the loop nest and whether block mode can apply.</summary>
public sealed class PlannerTests
{
    [Theory]
    [InlineData(1, new[] { 0 }, "R[0]", false, "", "", false)]
    [InlineData(2, new[] { 1 }, "B[0] R[1]", false, "0", "", false)]
    [InlineData(2, new[] { 0 }, "R[0] B[1]", true, "", "0", false)]
    [InlineData(4, new[] { 1 }, "B[0] R[1] B[2,3]", true, "0", "1", false)]
    [InlineData(5, new[] { 4, 2, 3 }, "B[0,1] R[2,3,4]", false, "0", "", false)]
    [InlineData(5, new[] { 0, 2, 4 }, "R[0] B[1] R[2] B[3] R[4]", false, "1,3", "0,2", true)]
    [InlineData(4, new[] { 0, 3 }, "R[0] B[1,2] R[3]", false, "1", "0", true)]
    [InlineData(6, new[] { 3, 1 }, "B[0] R[1] B[2] R[3] B[4,5]", true, "0,2", "1,3", false)]
    [InlineData(8, new[] { 7, 6, 5, 4, 3, 2, 1, 0 }, "R[0,1,2,3,4,5,6,7]", false, "", "", false)]
    [InlineData(8, new[] { 0, 2, 4, 6 }, "R[0] B[1] R[2] B[3] R[4] B[5] R[6] B[7]", true, "1,3,5", "0,2,4,6", false)]
    public void MergesAdjacentAxesOfOneKindAndChoosesTheLoopNest(int rank, int[] axes, string groups, bool lanesInner, string originGroups, string runGroups, bool blockCapable)
    {
        var spec = new SoftmaxSpec(FamilyOperation.Softmax, new TypeHierarchy("", EquatableArray<ContainingType>.Empty, "C"), rank, axes.ToEquatableArray(), ElementKind.Single, FamilyOptions.None);
        var plan = Planner.Plan(spec);

        string Describe(AxisGroup group) => (group.Kind == AxisKind.Batch ? "B[" : "R[") + string.Join(",", group.Axes) + "]";
        Assert.Equal(groups, string.Join(" ", plan.Groups.Select(Describe)));
        Assert.Equal(lanesInner, plan.LanesInner);
        Assert.Equal(originGroups, string.Join(",", plan.OriginGroups.Select(group => group.Index)));
        Assert.Equal(runGroups, string.Join(",", plan.RunGroups.Select(group => group.Index)));
        Assert.Equal(blockCapable, plan.BlockCapable);
        Assert.Equal(Enumerable.Range(0, plan.Groups.Count), plan.Groups.Select(group => group.Index));
        for (int i = 1; i < plan.Groups.Count; i++)
        {
            Assert.NotEqual(plan.Groups[i - 1].Kind, plan.Groups[i].Kind);
        }
    }

    [Fact]
    public void EqualSpecsGiveEqualPlans()
    {
        SoftmaxSpec Spec() => new(FamilyOperation.Softmax, new TypeHierarchy("N", EquatableArray<ContainingType>.Empty, "C"), 4, new[] { 0, 3 }.ToEquatableArray(), ElementKind.Double, FamilyOptions.None);
        Assert.Equal(Planner.Plan(Spec()), Planner.Plan(Spec()));
        Assert.Equal(Planner.Plan(Spec()).GetHashCode(), Planner.Plan(Spec()).GetHashCode());
    }

    /// <summary>
    /// Axes merge only where the options treat them alike: the same mask and bias membership, and never a causal axis;
    /// a group then maps to the mask and the bias as one axis would. Block mode is off with options.
    /// </summary>
    [Theory]
    [InlineData(4, new[] { 3 }, new[] { 0, 3 }, new[] { 1, 2, 3 }, 2, 3, "B[0] B[1] B[2] R[3]")]
    [InlineData(5, new[] { 3, 4 }, new[] { 4 }, new int[0], -1, -1, "B[0,1,2] R[3] R[4]")]
    [InlineData(4, new[] { 1 }, new[] { 0, 1 }, new int[0], -1, -1, "B[0] R[1] B[2,3]")]
    [InlineData(6, new[] { 1, 2, 3 }, new int[0], new[] { 2, 3 }, -1, -1, "B[0] R[1] R[2,3] B[4,5]")]
    [InlineData(5, new[] { 2, 3, 4 }, new int[0], new int[0], 1, 3, "B[0] B[1] R[2] R[3] R[4]")]
    public void OptionsSplitGroupsWhereTheyTreatAxesDifferently(int rank, int[] axes, int[] mask, int[] bias, int query, int key, string groups)
    {
        var options = new FamilyOptions(mask.ToEquatableArray(), bias.ToEquatableArray(), query, key);
        var spec = new SoftmaxSpec(FamilyOperation.Softmax, new TypeHierarchy("", EquatableArray<ContainingType>.Empty, "C"), rank, axes.ToEquatableArray(), ElementKind.Single, options);
        var plan = Planner.Plan(spec);

        string Describe(AxisGroup group) => (group.Kind == AxisKind.Batch ? "B[" : "R[") + string.Join(",", group.Axes) + "]";
        Assert.Equal(groups, string.Join(" ", plan.Groups.Select(Describe)));
        Assert.All(plan.Groups, group => Assert.All(group.Axes, axis => Assert.Equal(mask.Contains(axis), group.InMask)));
        Assert.All(plan.Groups, group => Assert.All(group.Axes, axis => Assert.Equal(bias.Contains(axis), group.InBias)));
        Assert.False(plan.BlockCapable);
    }
}
