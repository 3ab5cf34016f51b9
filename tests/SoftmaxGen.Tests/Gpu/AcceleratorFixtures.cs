using System;
using System.Linq;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace SoftmaxGen.Tests.Gpu;

/// <summary>An ILGPU context and accelerator for one backend, or none where the backend has no device here.</summary>
public abstract class AcceleratorFixture : IDisposable
{
    private readonly Context _context;

    protected AcceleratorFixture(Func<Context, Accelerator?> create, Action<Context.Builder> configure)
    {
        _context = Context.Create(configure);
        Accelerator = create(_context);
    }

    /// <summary>The accelerator, or null where this machine has no device of the kind.</summary>
    public Accelerator? Accelerator { get; }

    public void Dispose()
    {
        Accelerator?.Dispose();
        _context.Dispose();
    }
}

/// <summary>
/// ILGPU's CPU accelerator: runs every kernel (warps of 4, at most 16 threads a group), slowly. The context is the plain
/// one a user would build: no ILGPU.Algorithms, which the kernels must not need.
/// </summary>
public sealed class CpuAcceleratorFixture : AcceleratorFixture
{
    public CpuAcceleratorFixture()
        : base(context => context.CreateCPUAccelerator(0), builder => builder.CPU())
    {
    }
}

/// <summary>The first CUDA device, where there is one.</summary>
public sealed class CudaFixture : AcceleratorFixture
{
    public CudaFixture()
        : base(context => context.GetCudaDevices().Count > 0 ? context.CreateCudaAccelerator(0) : null, builder => builder.Cuda())
    {
    }
}
