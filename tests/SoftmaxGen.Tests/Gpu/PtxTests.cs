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
        var kernels = KernelsOf(layout, elementType, operation);
        // Every public kernel of GpuKernels is among them.
        Assert.Equal(
            typeof(GpuKernels).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(method => method.IsGenericMethodDefinition).Select(method => method.Name).Order(),
            kernels.Select(kernel => kernel.Name).Order());

        foreach (var (architecture, instructionSet, version) in Targets)
        {
            using var backend = new PTXBackend(_context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            foreach (var kernel in kernels)
            {
                string ptx = Ptx(backend, kernel);
                Assert.Contains(version, ptx);
                Assert.Contains(".entry", ptx);
            }
        }
    }

    /// <summary>
    /// The approximate exp reaches the PTX: with ApproximateGpuExp every forward and log-sum-exp kernel (the ones that
    /// compute exp for softmax; log-softmax's backward and Jacobian too) holds <c>ex2.approx</c>, and without it no kernel
    /// does, for float and Half, for SM_70, SM_80 and SM_90.
    /// </summary>
    [Theory]
    [InlineData(typeof(FastRows), typeof(Rows))]
    [InlineData(typeof(FastColumnsHalf), typeof(ColumnsHalf))]
    [InlineData(typeof(LogFastKeys), typeof(LogKeys))]
    public void TheApproximateExpKernelsAndOnlyThoseUseEx2Approx(Type fast, Type plain)
    {
        foreach (var (architecture, instructionSet, _) in Targets)
        {
            using var backend = new PTXBackend(_context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            foreach (var (type, approximate) in new[] { (fast, true), (plain, false) })
            {
                var (elementType, operation) = Declaration(type)!.Value;
                foreach (var kernel in KernelsOf(LayoutOf(type), elementType, operation))
                {
                    bool computesExp = kernel.Name.StartsWith("Forward", StringComparison.Ordinal)
                        || kernel.Name.StartsWith("LogSumExp", StringComparison.Ordinal)
                        || operation == typeof(LogSoftmax);
                    string ptx = Ptx(backend, kernel);
                    Assert.True(
                        ptx.Contains("ex2.approx", StringComparison.Ordinal) == (approximate && computesExp),
                        $"{type.Name} {kernel.Name} on {architecture}: ex2.approx {(approximate && computesExp ? "missing" : "present")}");
                }
            }
        }
    }

    /// <summary>The kernels of <see cref="GpuExpSuite"/> too, so that its CUDA run is not the first to compile them.</summary>
    [Fact]
    public void TheExpTestKernelsCompileToPtx()
    {
        using var backend = new PTXBackend(_context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, null);
        foreach (var name in new[] { nameof(GpuExpSuite.FloatExp), nameof(GpuExpSuite.DoubleExp), nameof(GpuExpSuite.CudaFastFloatExp), nameof(GpuExpSuite.PortableFastFloatExp) })
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

    /// <summary>
    /// The kernels of the launcher that <see cref="GpuSoftmax"/> picks for a layout on a CUDA device: its element types,
    /// and for float and Half the arithmetic its ApproximateGpuExp constant selects.
    /// </summary>
    private static List<MethodInfo> KernelsOf(Type layout, Type elementType, Type operation)
    {
        bool approximate = ((IGpuSoftmaxLayout)Activator.CreateInstance(layout)!).ApproximateGpuExp;
        var (storage, accumulator, element, math) = ElementTypes(elementType, approximate);
        var launcher = typeof(GpuLauncher<,,,,,>).MakeGenericType(storage, accumulator, element, math, layout, operation);
        return ((IReadOnlyList<Delegate>)launcher.GetProperty("Kernels", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)
            .Select(kernel => kernel.Method)
            .ToList();
    }

    private static string Ptx(PTXBackend backend, MethodInfo kernel)
    {
        bool implicitlyGrouped = kernel.GetParameters()[0].ParameterType == typeof(Index1D);
        var entry = implicitlyGrouped
            ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
            : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
        return ((PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization())).PTXAssembly;
    }

    private static (Type Storage, Type Accumulator, Type Element, Type Math) ElementTypes(Type elementType, bool approximateExp)
    {
        var floatMath = approximateExp ? typeof(GpuFloatMath<GpuApproximateExp<CudaExp2>>) : typeof(GpuFloatMath<GpuExp>);
        return elementType == typeof(float) ? (typeof(float), typeof(float), typeof(GpuSingle), floatMath)
            : elementType == typeof(double) ? (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath))
            : (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), floatMath);
    }
}
