using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using SoftmaxGen.Runtime;
using Xunit;

namespace SoftmaxGen.Tests.Fused;

/// <summary>
/// Every attention kernel, as <c>GpuAttentionLauncher</c> instantiates it for float, double and Half and several head
/// dimensions, compiles to PTX for SM_70, SM_80 and SM_90 with ILGPU's PTX backend, on a machine with no GPU (as
/// <see cref="Gpu.PtxTests"/> does for the softmax kernels). The context is a plain one, without ILGPU.Algorithms.
/// </summary>
public sealed class AttentionPtxTests : IDisposable
{
    private static readonly (CudaArchitecture Architecture, CudaInstructionSet InstructionSet, string Version)[] Targets =
    [
        (CudaArchitecture.SM_70, CudaInstructionSet.ISA_60, ".version 6.0"),
        (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70, ".version 7.0"),
        (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, ".version 7.8"),
    ];

    private readonly Context _context = Context.Create(builder => builder.CPU());

    public static TheoryData<string> Classes() => new(
        nameof(AttentionFloat1), nameof(AttentionFloat64), nameof(AttentionFloat256),
        nameof(AttentionDouble7), nameof(AttentionDouble128Causal),
        nameof(AttentionHalf16), nameof(AttentionHalf80));

    [Theory]
    [MemberData(nameof(Classes))]
    public void EveryAttentionKernelCompilesToPtxForSm70Sm80AndSm90(string className)
    {
        var kernel = AttentionKernels.Get(className);
        var head = typeof(AttentionPtxTests).Assembly.GetType($"SoftmaxGen.Generated.SoftmaxGen.Tests.Fused.{className}_Head", throwOnError: true)!;
        Assert.Equal(kernel.HeadDim, ((IAttentionHead)Activator.CreateInstance(head)!).Dim);
        var (storage, accumulator, element, math) =
            kernel.Element == typeof(float) ? (typeof(float), typeof(float), typeof(GpuSingle), typeof(GpuFloatMath<GpuExp>))
            : kernel.Element == typeof(double) ? (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath))
            : (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), typeof(GpuFloatMath<GpuExp>));
        var launcher = typeof(GpuAttentionLauncher<,,,,>).MakeGenericType(storage, accumulator, element, math, head);
        var kernels = ((IReadOnlyList<Delegate>)launcher.GetProperty("Kernels", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)
            .Select(kernel => kernel.Method)
            .ToList();
        // Every public kernel of GpuAttentionKernels is among them, instantiated for this head.
        Assert.Equal(
            typeof(GpuAttentionKernels).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(method => method.IsGenericMethodDefinition).Select(method => method.Name).Order(),
            kernels.Select(method => method.Name).Order());
        Assert.All(kernels, method => Assert.Equal(head, method.GetGenericArguments().Last()));

        foreach (var (architecture, instructionSet, version) in Targets)
        {
            using var backend = new PTXBackend(_context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            foreach (var method in kernels)
            {
                bool implicitlyGrouped = method.GetParameters()[0].ParameterType == typeof(Index1D);
                var entry = implicitlyGrouped
                    ? EntryPointDescription.FromImplicitlyGroupedKernel(method)
                    : EntryPointDescription.FromExplicitlyGroupedKernel(method);
                var compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization());
                Assert.Contains(version, compiled.PTXAssembly);
                Assert.Contains(".entry", compiled.PTXAssembly);
            }
        }
    }

    public void Dispose() => _context.Dispose();
}
