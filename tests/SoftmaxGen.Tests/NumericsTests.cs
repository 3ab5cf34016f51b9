using System.Collections.Generic;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>The numerical suite through every layout compiled into this assembly.</summary>
public sealed class NumericsTests
{
    public static IEnumerable<object[]> All => Layouts.Names();

    public static IEnumerable<object[]> Doubles => Layouts.NamesOf("Double");

    [Theory, MemberData(nameof(All))]
    public void ForwardMatchesReference(string name) => Checks.ForwardMatchesReference(Layouts.Get(name), seed: 11);

    [Theory, MemberData(nameof(All))]
    public void ForwardMatchesReferenceForLogitsOf1e4(string name) => Checks.ForwardMatchesReference(Layouts.Get(name), seed: 12, scale: 1e4);

    [Theory, MemberData(nameof(All))]
    public void BackwardMatchesReferenceForOneCotangent(string name) => Checks.BackwardMatchesReference(Layouts.Get(name), seed: 13, cotangents: 1);

    [Theory, MemberData(nameof(All))]
    public void BackwardMatchesReferenceForThreeCotangents(string name) => Checks.BackwardMatchesReference(Layouts.Get(name), seed: 14, cotangents: 3);

    [Theory, MemberData(nameof(Doubles))]
    public void BackwardMatchesFiniteDifferences(string name) => Checks.BackwardMatchesFiniteDifferences(Layouts.Get(name), seed: 15);

    [Theory, MemberData(nameof(All))]
    public void BackwardMatchesJacobianTranspose(string name) => Checks.BackwardMatchesJacobianTranspose(Layouts.Get(name), seed: 16);

    [Theory, MemberData(nameof(All))]
    public void JacobianMatchesReference(string name) => Checks.JacobianMatchesReference(Layouts.Get(name), seed: 17);

    [Theory, MemberData(nameof(All))]
    public void ShiftingASliceLeavesItUnchanged(string name) => Checks.ShiftInvariant(Layouts.Get(name), seed: 18);

    [Theory, MemberData(nameof(All))]
    public void SlicesSumToOneAndPullbacksToZero(string name) => Checks.SlicesSumToOneAndPullbacksToZero(Layouts.Get(name), seed: 19);

    [Theory, MemberData(nameof(All))]
    public void MaskedSlicesGiveZeros(string name) => Checks.MaskedSlices(Layouts.Get(name), seed: 20);

    [Theory, MemberData(nameof(All))]
    public void NaNStaysInItsSlice(string name) => Checks.NaNStaysInItsSlice(Layouts.Get(name), seed: 21, double.NaN);

    [Theory, MemberData(nameof(All))]
    public void PositiveInfinityStaysInItsSlice(string name) => Checks.NaNStaysInItsSlice(Layouts.Get(name), seed: 22, double.PositiveInfinity);

    [Theory, MemberData(nameof(All))]
    public void InPlaceMatchesOutOfPlace(string name) => Checks.InPlaceMatchesOutOfPlace(Layouts.Get(name), seed: 23);

    [Theory, MemberData(nameof(All))]
    public void EmptyTensorsAreNoOps(string name) => Checks.EmptyTensors(Layouts.Get(name));

    [Theory, MemberData(nameof(All))]
    public void BadArgumentsAreRefused(string name) => Checks.BadArgumentsAreRefused(Layouts.Get(name));
}
