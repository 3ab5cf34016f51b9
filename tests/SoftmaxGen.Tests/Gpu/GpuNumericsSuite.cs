using System.Collections.Generic;
using System.Linq;
using ILGPU.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// The numerical suite of the CPU path, run again through the generated ILGPU launchers. One abstract suite, one
/// subclass per backend (as ILGPU's own tests do): the CPU accelerator here, CUDA where a device exists.
/// Sizes are small because the CPU accelerator simulates every thread.
/// </summary>
public abstract class GpuNumericsSuite
{
    private readonly AcceleratorFixture _fixture;

    protected GpuNumericsSuite(AcceleratorFixture fixture) => _fixture = fixture;

    public static IEnumerable<object[]> All => Layouts.Names();

    public static IEnumerable<object[]> Doubles => Layouts.NamesOf("Double");

    public static IEnumerable<object[]> Causal => Layouts.CausalNames();

    public static IEnumerable<object[]> Excluding => Layouts.ExcludingNames();

    [SkippableTheory, MemberData(nameof(All))]
    public void ForwardMatchesReference(string name) => Checks.ForwardMatchesReference(Target(name), seed: 31, maxElements: 1500);

    [SkippableTheory, MemberData(nameof(All))]
    public void ForwardMatchesReferenceForLogitsOf1e4(string name) => Checks.ForwardMatchesReference(Target(name), seed: 32, maxElements: 600, scale: 1e4);

    [SkippableTheory, MemberData(nameof(All))]
    public void BackwardMatchesReferenceForThreeCotangents(string name) => Checks.BackwardMatchesReference(Target(name), seed: 33, cotangents: 3, maxElements: 1500);

    [SkippableTheory, MemberData(nameof(Doubles))]
    public void BackwardMatchesFiniteDifferences(string name) => Checks.BackwardMatchesFiniteDifferences(Target(name), seed: 34);

    [SkippableTheory, MemberData(nameof(All))]
    public void BackwardMatchesJacobianTranspose(string name) => Checks.BackwardMatchesJacobianTranspose(Target(name), seed: 35);

    [SkippableTheory, MemberData(nameof(All))]
    public void JacobianMatchesReference(string name) => Checks.JacobianMatchesReference(Target(name), seed: 42);

    [SkippableTheory, MemberData(nameof(All))]
    public void ShiftingASliceLeavesItUnchanged(string name) => Checks.ShiftInvariant(Target(name), seed: 36);

    [SkippableTheory, MemberData(nameof(All))]
    public void SlicesSumToOneAndPullbacksToZero(string name) => Checks.SlicesSumToOneAndPullbacksToZero(Target(name), seed: 37);

    [SkippableTheory, MemberData(nameof(All))]
    public void MaskedSlicesGiveZeros(string name) => Checks.MaskedSlices(Target(name), seed: 38);

    [SkippableTheory, MemberData(nameof(All))]
    public void NaNStaysInItsSlice(string name) => Checks.NaNStaysInItsSlice(Target(name), seed: 39, double.NaN);

    [SkippableTheory, MemberData(nameof(All))]
    public void PositiveInfinityStaysInItsSlice(string name) => Checks.NaNStaysInItsSlice(Target(name), seed: 40, double.PositiveInfinity);

    [SkippableTheory, MemberData(nameof(All))]
    public void InPlaceMatchesOutOfPlace(string name) => Checks.InPlaceMatchesOutOfPlace(Target(name), seed: 41);

    [SkippableTheory, MemberData(nameof(All))]
    public void EmptyTensorsAreNoOps(string name) => Checks.EmptyTensors(Target(name));

    [SkippableTheory, MemberData(nameof(All))]
    public void LogSumExpMatchesReference(string name) => Checks.LogSumExpMatchesReference(Target(name), seed: 43, maxElements: 1500);

    [SkippableTheory, MemberData(nameof(All))]
    public void LogSumExpOfSpecialSlices(string name) => Checks.LogSumExpSpecialSlices(Target(name), seed: 44);

    [SkippableTheory, MemberData(nameof(All))]
    public void AnyScaleMatchesReference(string name) => Checks.AnyScaleMatchesReference(Target(name), seed: 45, maxElements: 600);

    [SkippableTheory, MemberData(nameof(Causal))]
    public void CausalShapesMatchReference(string name) => Checks.CausalShapesMatchReference(Target(name), seed: 46);

    [SkippableTheory, MemberData(nameof(Excluding))]
    public void NaNWhereExcludedChangesNothing(string name) => Checks.NaNWhereExcludedChangesNothing(Target(name), seed: 47);

    [SkippableTheory, MemberData(nameof(All))]
    public void BadArgumentsAreRefused(string name) => Checks.BadArgumentsAreRefused(Target(name));

    protected Accelerator Accelerator
    {
        get
        {
            Skip.If(_fixture.Accelerator is null, "no device of this kind on this machine");
            return _fixture.Accelerator!;
        }
    }

    protected ITarget Target(string name) => Layouts.GetGpu(name, Accelerator);
}

public sealed class CpuAcceleratorNumerics(CpuAcceleratorFixture fixture) : GpuNumericsSuite(fixture), IClassFixture<CpuAcceleratorFixture>
{
}

public sealed class CudaNumerics(CudaFixture fixture) : GpuNumericsSuite(fixture), IClassFixture<CudaFixture>
{
}
