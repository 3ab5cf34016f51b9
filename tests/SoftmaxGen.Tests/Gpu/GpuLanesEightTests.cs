using System;
using System.Linq;
using System.Reflection;
using System.Text.RegularExpressions;
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
/// The forward lanes kernel with eight adjacent slices a thread (<see cref="GpuKernels.ForwardLanesEight"/>): taken
/// where the lanes come in whole groups of eight and A and B start on 16-byte boundaries, for layouts without options;
/// its outputs are those of the element kernel bit for bit, and within the reference's bounds. Slices of 2 001 elements
/// are past the CPU accelerator's shared memory, so these shapes take the lanes strategy (not the cached one). The launch
/// counters are per process, hence the collection that runs alone.
/// </summary>
[Collection(nameof(GpuStrategyCollection))]
public sealed class GpuLanesEightTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    [Theory]
    [InlineData("Columns", new[] { 2001, 24 }, 1f)]
    [InlineData("Columns", new[] { 2001, 8 }, 0.5f)]
    [InlineData("LogColumns", new[] { 2001, 16 }, 1f)]
    [InlineData("ColumnsHalf", new[] { 2001, 16 }, 1f)]
    [InlineData("ColumnsDouble", new[] { 2001, 8 }, 2f)]
    [InlineData("Channels", new[] { 2, 2001, 4, 4 }, 1f)]
    public void AlignedLanesInGroupsOfEightTakeTheVectorKernelWithTheSameBits(string name, int[] shape, float scale)
    {
        var (vector, launches) = Forward(name, shape, scale, offset: 0);
        Assert.Equal(1, launches);
        // One element into the buffers: A and B no longer start on 16-byte boundaries, and the element kernel runs.
        var (element, fallback) = Forward(name, shape, scale, offset: 1);
        Assert.Equal(0, fallback);
        Assert.True(vector.AsSpan().SequenceEqual(element), $"{name}: the vector kernel's bits differ from the element kernel's");

        var target = Layouts.Get(name).WithScale(scale);
        var a = Logits(shape);
        Checks.AssertForwardClose(target, target.Round(a), vector, shape, $"{name} eight lanes a thread");
    }

    [Theory]
    [InlineData("Columns", new[] { 2001, 12 })] // lanes not a multiple of eight
    [InlineData("Channels", new[] { 2, 2001, 3, 3 })]
    [InlineData("MaskedChannels", new[] { 2, 2001, 1, 8 })] // options: the element kernel reads the mask per element
    public void OtherLanesTakeTheElementKernel(string name, int[] shape)
    {
        var strategy = EngineDiagnostics.Launched(GpuStrategy.Lanes);
        var (_, launches) = Forward(name, shape, 1f, offset: 0);
        Assert.Equal(0, launches);
        Assert.Equal(strategy + 1, EngineDiagnostics.Launched(GpuStrategy.Lanes));
    }

    /// <summary>
    /// The kernel's PTX moves 16 bytes per load and store for SM_70, SM_80 and SM_90: per run of the eight slices two
    /// loads of float, one of Half, four of double in each pass, and one pass of stores; nothing in local memory.
    /// </summary>
    [Theory]
    [InlineData("float", "v4.f32", 4, 2)]
    [InlineData("half", "v4.b32", 2, 1)]
    [InlineData("double", "v2.f64", 8, 4)]
    public void TheVectorKernelMoves16BytesAtATime(string element, string form, int loads, int stores)
    {
        using var context = Context.Create(builder => builder.CPU());
        foreach (var (architecture, instructionSet) in new[] { (CudaArchitecture.SM_70, CudaInstructionSet.ISA_60), (CudaArchitecture.SM_80, CudaInstructionSet.ISA_70), (CudaArchitecture.SM_90, CudaInstructionSet.ISA_78) })
        {
            using var backend = new PTXBackend(context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
            string ptx = Ptx(backend, element, nameof(GpuKernels.ForwardLanesEight));
            var load = new Regex(@"^\s*ld(\.global)?\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
            var store = new Regex(@"^\s*st(\.global)?\." + Regex.Escape(form) + @"\s", RegexOptions.Multiline);
            Assert.True(loads == load.Matches(ptx).Count, $"{element} {architecture}: {load.Matches(ptx).Count} 16-byte loads, not {loads}");
            Assert.True(stores == store.Matches(ptx).Count, $"{element} {architecture}: {store.Matches(ptx).Count} 16-byte stores, not {stores}");
            Assert.DoesNotContain(".local", ptx);

            string elementKernel = Ptx(backend, element, nameof(GpuKernels.ForwardLanes));
            Assert.DoesNotContain(".v4.", elementKernel);
            Assert.DoesNotContain(".v2.", elementKernel);
        }
    }

    private static double[] Logits(int[] shape) => TestData.Logits(new Random(shape.Sum()), TestData.Count(shape), 4);

    /// <summary>B of the class's GPU forward at the test logits, A and B placed <paramref name="offset"/> elements into their buffers; and how many vector lanes launches it made.</summary>
    private (double[] B, long Launches) Forward(string name, int[] shape, float scale, int offset)
    {
        var accelerator = fixture.Accelerator!;
        var a = Logits(shape);
        long before = EngineDiagnostics.LaneVectorLaunches;
        double[] b = name switch
        {
            "ColumnsHalf" => Run(accelerator, Array.ConvertAll(a, value => (System.Half)value), offset, (x, y) => ColumnsHalf.Forward(accelerator, x, y, shape, scale), value => (double)value),
            "ColumnsDouble" => Run(accelerator, a, offset, (x, y) => ColumnsDouble.Forward(accelerator, x, y, shape, scale), value => value),
            "MaskedChannels" => Run(accelerator, Array.ConvertAll(a, value => (float)value), offset, (x, y) =>
            {
                using var mask = accelerator.Allocate1D(Enumerable.Repeat((byte)1, shape[1] * shape[3]).ToArray());
                MaskedChannels.Forward(accelerator, x, mask.View, y, shape, scale);
                accelerator.Synchronize();
            }, value => (double)value),
            _ => Run(accelerator, Array.ConvertAll(a, value => (float)value), offset, (x, y) => Float(name)(accelerator, x, y, shape, scale), value => (double)value),
        };
        return (b, EngineDiagnostics.LaneVectorLaunches - before);
    }

    private static GpuForwardMethod<float> Float(string name) => name switch
    {
        "Columns" => Columns.Forward,
        "LogColumns" => LogColumns.Forward,
        _ => Channels.Forward,
    };

    private static double[] Run<T>(Accelerator accelerator, T[] a, int offset, Action<ArrayView<T>, ArrayView<T>> forward, Func<T, double> toDouble)
        where T : unmanaged
    {
        using var input = accelerator.Allocate1D<T>(a.Length + offset);
        using var output = accelerator.Allocate1D<T>(a.Length + offset);
        var x = input.View.SubView(offset, a.Length);
        var y = output.View.SubView(offset, a.Length);
        x.CopyFromCPU(a);
        forward(x, y);
        accelerator.Synchronize();
        return Array.ConvertAll(y.GetAsArray1D(), value => toDouble(value));
    }

    private static string Ptx(PTXBackend backend, string element, string kernelName)
    {
        var (storage, accumulator, type, math, layout) = element switch
        {
            "float" => (typeof(float), typeof(float), typeof(GpuSingle), typeof(GpuFloatMath), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.Columns_Layout)),
            "double" => (typeof(double), typeof(double), typeof(GpuDouble), typeof(GpuDoubleMath), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.ColumnsDouble_Layout)),
            _ => (typeof(ILGPU.Half), typeof(float), typeof(GpuHalf), typeof(GpuFloatMath), typeof(SoftmaxGen.Generated.SoftmaxGen.Tests.ColumnsHalf_Layout)),
        };
        var launcher = typeof(GpuLauncher<,,,,,>).MakeGenericType(storage, accumulator, type, math, layout, typeof(Softmax));
        var kernel = ((System.Collections.Generic.IReadOnlyList<Delegate>)launcher.GetProperty("Kernels", BindingFlags.NonPublic | BindingFlags.Static)!.GetValue(null)!)
            .Single(candidate => candidate.Method.Name == kernelName).Method;
        return ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(kernel), new KernelSpecialization())).PTXAssembly;
    }
}
