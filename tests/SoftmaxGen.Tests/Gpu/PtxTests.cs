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

namespace SoftmaxGen.Tests.Gpu;

/// <summary>
/// Every kernel of every layout of this assembly, as the launcher instantiates it for the class's element type and
/// operation, compiles to PTX for SM_70, SM_80 and SM_90 with ILGPU's PTX backend, on a machine with no GPU. The CPU accelerator runs code that the PTX backend rejects, so the
/// CPU-accelerator suite alone would not show it. The context is a plain one, without ILGPU.Algorithms.
/// </summary>
public sealed class PtxTests : IDisposable
{
    private static readonly (CudaArchitecture Architecture, CudaInstructionSet InstructionSet, string Version)[] Targets =
    [
        (CudaArchitecture.SM_70, CudaInstructionSet.ISA_60, ".version 6.0"),
        (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70, ".version 7.0"),
        (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, ".version 7.8"),
    ];

    private readonly Context _context = Context.Create(builder => builder.CPU());

    public static IEnumerable<object[]> Classes() =>
        typeof(Layouts).Assembly.GetTypes()
            .Where(type => Declaration(type) is not null)
            .Select(type => new object[] { type.FullName! });

    [Fact]
    public void EveryLayoutOfTheSuiteIsCovered()
    {
        Assert.Equal(Layouts.All.Select(target => target.BaseName).Distinct().Count(), Classes().Count());
    }

    [Theory, MemberData(nameof(Classes))]
    public void EveryKernelCompilesToPtxForSm70Sm80AndSm90(string className)
    {
        var type = typeof(Layouts).Assembly.GetType(className)!;
        var layout = LayoutOf(type);
        var (elementType, operation) = Declaration(type)!.Value;
        var (storage, accumulator, element, math) = ElementTypes(elementType);
        var launcher = typeof(GpuLauncher<,,,,,>).MakeGenericType(storage, accumulator, element, math, layout, operation);
        var kernels = ((IReadOnlyList<Delegate>)launcher.GetProperty("Kernels", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)
            .Select(kernel => kernel.Method)
            .ToList();
        // Every public kernel of GpuKernels is among them.
        Assert.Equal(
            typeof(GpuKernels).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(method => method.IsGenericMethodDefinition).Select(method => method.Name).Order(),
            kernels.Select(kernel => kernel.Name).Order());

        foreach (var (architecture, instructionSet, version) in Targets)
        {
            using var backend = new PTXBackend(_context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            foreach (var kernel in kernels)
            {
                bool implicitlyGrouped = kernel.GetParameters()[0].ParameterType == typeof(Index1D);
                var entry = implicitlyGrouped
                    ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
                    : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
                var compiled = (PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization());
                Assert.Contains(version, compiled.PTXAssembly);
                Assert.Contains(".entry", compiled.PTXAssembly);
            }
        }
    }

    /// <summary>The kernels of <see cref="GpuExpSuite"/> too, so that its CUDA run is not the first to compile them.</summary>
    [Fact]
    public void TheExpTestKernelsCompileToPtx()
    {
        using var backend = new PTXBackend(_context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, null);
        foreach (var name in new[] { nameof(GpuExpSuite.FloatExp), nameof(GpuExpSuite.DoubleExp) })
        {
            var kernel = typeof(GpuExpSuite).GetMethod(name, BindingFlags.NonPublic | BindingFlags.Static)!;
            var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(kernel), new KernelSpecialization());
            Assert.Contains(".entry", compiled.PTXAssembly);
        }
    }

    public void Dispose() => _context.Dispose();

    /// <summary>The element type and the operation of a [Softmax] or [LogSoftmax] class; null for any other type.</summary>
    private static (Type Element, Type Operation)? Declaration(Type type) =>
        type.GetCustomAttribute<SoftmaxAttribute>() is { } softmax ? (softmax.ElementType, typeof(Softmax))
        : type.GetCustomAttribute<LogSoftmaxAttribute>() is { } log ? (log.ElementType, typeof(LogSoftmax))
        : null;

    /// <summary>The layout struct the generator emitted for a class: its namespace mirrored under SoftmaxGen.Generated.</summary>
    private static Type LayoutOf(Type type)
    {
        string path = type.FullName!.Substring(type.Namespace is null ? 0 : type.Namespace.Length + 1).Replace('+', '_');
        string name = type.Namespace is null ? $"SoftmaxGen.Generated.{path}_Layout" : $"SoftmaxGen.Generated.{type.Namespace}.{path}_Layout";
        return type.Assembly.GetType(name, throwOnError: true)!;
    }

    private static (Type Storage, Type Accumulator, Type Element, Type Math) ElementTypes(Type elementType) =>
        elementType == typeof(float) ? (typeof(float), typeof(float), typeof(GpuSingle), typeof(GpuFloatMath))
        : elementType == typeof(double) ? (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath))
        : (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), typeof(GpuFloatMath));
}
