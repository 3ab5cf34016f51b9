using System.Collections.Generic;
using System.Linq;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The numerical suite through every layout compiled into this assembly, with the widest vector kernels this machine
/// accelerates (<see cref="NumericsTestsOnVectorT"/> runs it again with the <c>Vector&lt;T&gt;</c> ones).
/// </summary>
public class NumericsTests
{
    /// <summary>Whether the CPU kernels take <c>Vector&lt;T&gt;</c> even where Vector512 is accelerated.</summary>
    protected virtual bool VectorOnly => false;

    public static IEnumerable<object[]> All => Layouts.Names();

    public static IEnumerable<object[]> Doubles => Layouts.NamesOf("Double");

    public static IEnumerable<object[]> Causal => Layouts.CausalNames();

    public static IEnumerable<object[]> Excluding => Layouts.ExcludingNames();

    [Theory, MemberData(nameof(All))]
    public void ForwardMatchesReference(string name) => KernelWidths.Run(VectorOnly, () => Checks.ForwardMatchesReference(Layouts.Get(name), seed: 11));

    [Theory, MemberData(nameof(All))]
    public void ForwardMatchesReferenceForLogitsOf1e4(string name) => KernelWidths.Run(VectorOnly, () => Checks.ForwardMatchesReference(Layouts.Get(name), seed: 12, scale: 1e4));

    [Theory, MemberData(nameof(All))]
    public void BackwardMatchesReferenceForOneCotangent(string name) => KernelWidths.Run(VectorOnly, () => Checks.BackwardMatchesReference(Layouts.Get(name), seed: 13, cotangents: 1));

    [Theory, MemberData(nameof(All))]
    public void BackwardMatchesReferenceForThreeCotangents(string name) => KernelWidths.Run(VectorOnly, () => Checks.BackwardMatchesReference(Layouts.Get(name), seed: 14, cotangents: 3));

    [Theory, MemberData(nameof(Doubles))]
    public void BackwardMatchesFiniteDifferences(string name) => KernelWidths.Run(VectorOnly, () => Checks.BackwardMatchesFiniteDifferences(Layouts.Get(name), seed: 15));

    [Theory, MemberData(nameof(All))]
    public void BackwardMatchesJacobianTranspose(string name) => KernelWidths.Run(VectorOnly, () => Checks.BackwardMatchesJacobianTranspose(Layouts.Get(name), seed: 16));

    [Theory, MemberData(nameof(All))]
    public void JacobianMatchesReference(string name) => KernelWidths.Run(VectorOnly, () => Checks.JacobianMatchesReference(Layouts.Get(name), seed: 17));

    [Theory, MemberData(nameof(All))]
    public void ShiftingASliceLeavesItUnchanged(string name) => KernelWidths.Run(VectorOnly, () => Checks.ShiftInvariant(Layouts.Get(name), seed: 18));

    [Theory, MemberData(nameof(All))]
    public void SlicesSumToOneAndPullbacksToZero(string name) => KernelWidths.Run(VectorOnly, () => Checks.SlicesSumToOneAndPullbacksToZero(Layouts.Get(name), seed: 19));

    [Theory, MemberData(nameof(All))]
    public void MaskedSlicesGiveZeros(string name) => KernelWidths.Run(VectorOnly, () => Checks.MaskedSlices(Layouts.Get(name), seed: 20));

    [Theory, MemberData(nameof(All))]
    public void NaNStaysInItsSlice(string name) => KernelWidths.Run(VectorOnly, () => Checks.NaNStaysInItsSlice(Layouts.Get(name), seed: 21, double.NaN));

    [Theory, MemberData(nameof(All))]
    public void PositiveInfinityStaysInItsSlice(string name) => KernelWidths.Run(VectorOnly, () => Checks.NaNStaysInItsSlice(Layouts.Get(name), seed: 22, double.PositiveInfinity));

    [Theory, MemberData(nameof(All))]
    public void InPlaceMatchesOutOfPlace(string name) => KernelWidths.Run(VectorOnly, () => Checks.InPlaceMatchesOutOfPlace(Layouts.Get(name), seed: 23));

    [Theory, MemberData(nameof(All))]
    public void EmptyTensorsAreNoOps(string name) => KernelWidths.Run(VectorOnly, () => Checks.EmptyTensors(Layouts.Get(name)));

    [Theory, MemberData(nameof(All))]
    public void LogSumExpMatchesReference(string name) => KernelWidths.Run(VectorOnly, () => Checks.LogSumExpMatchesReference(Layouts.Get(name), seed: 24));

    [Theory, MemberData(nameof(All))]
    public void LogSumExpMatchesReferenceForLogitsOf1e4(string name) => KernelWidths.Run(VectorOnly, () => Checks.LogSumExpMatchesReference(Layouts.Get(name), seed: 25, scale: 1e4));

    [Theory, MemberData(nameof(All))]
    public void LogSumExpOfSpecialSlices(string name) => KernelWidths.Run(VectorOnly, () => Checks.LogSumExpSpecialSlices(Layouts.Get(name), seed: 26));

    [Theory, MemberData(nameof(All))]
    public void AnyScaleMatchesReference(string name) => KernelWidths.Run(VectorOnly, () => Checks.AnyScaleMatchesReference(Layouts.Get(name), seed: 27));

    [Theory, MemberData(nameof(Causal))]
    public void CausalShapesMatchReference(string name) => KernelWidths.Run(VectorOnly, () => Checks.CausalShapesMatchReference(Layouts.Get(name), seed: 28));

    [Theory, MemberData(nameof(Excluding))]
    public void NaNWhereExcludedChangesNothing(string name) => KernelWidths.Run(VectorOnly, () => Checks.NaNWhereExcludedChangesNothing(Layouts.Get(name), seed: 29));

    [Theory, MemberData(nameof(All))]
    public void BadArgumentsAreRefused(string name) => KernelWidths.Run(VectorOnly, () => Checks.BadArgumentsAreRefused(Layouts.Get(name)));
}

/// <summary>
/// The numerical suite with the <c>Vector&lt;T&gt;</c> kernels, which AVX2 and ARM machines run (the same kernels as
/// <see cref="NumericsTests"/> where Vector512 is not accelerated).
/// </summary>
public sealed class NumericsTestsOnVectorT : NumericsTests
{
    protected override bool VectorOnly => true;
}
