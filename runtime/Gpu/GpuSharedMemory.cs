using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Shared memory past 48 KB a group, on CUDA devices. A kernel may ask for more dynamic shared memory than 48 KB only
/// after its <c>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES</c> has been raised (<c>cuFuncSetAttribute</c>), up to
/// the device's opt-in maximum (<c>CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN</c>: about 227 KB on an H100
/// or H200); ILGPU does neither. <see cref="OptInLimit"/> gives that maximum (0 for any other accelerator, and where
/// the driver offers no <c>cuFuncSetAttribute</c>), and <see cref="Raise"/> raises a loaded kernel's limit to it, once
/// per loaded kernel, before its first launch past 48 KB. The driver library is looked up the first time a CUDA accelerator asks.
/// </summary>
internal static unsafe class GpuSharedMemory
{
    /// <summary><c>CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN</c> (ILGPU's <see cref="DeviceAttributeKind"/> stops before it).</summary>
    private const int MaxSharedMemoryPerBlockOptIn = 97;

    /// <summary><c>CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES</c>.</summary>
    private const int MaxDynamicSharedSizeBytes = 8;

    private static readonly ConditionalWeakTable<Accelerator, StrongBox<int>> Limits = new();

    /// <summary>Whether each loaded kernel's limit was raised (<see cref="Raise"/>).</summary>
    private static readonly ConditionalWeakTable<CudaKernel, StrongBox<bool>> Raised = new();

    /// <summary><c>cuFuncSetAttribute</c> in the driver library ILGPU uses, or 0 where it has none.</summary>
    private static readonly Lazy<nint> SetFunctionAttribute = new(Resolve);

    /// <summary>Bytes of shared memory a group of a kernel that opted in may use on the accelerator; 0 where none may.</summary>
    public static int OptInLimit(Accelerator accelerator) =>
        accelerator is CudaAccelerator cuda ? Limits.GetValue(accelerator, _ => new StrongBox<int>(Query(cuda))).Value : 0;

    /// <summary>
    /// Lets the kernel behind <paramref name="launcher"/> ask for up to the opt-in maximum less the reductions' scratch
    /// (<see cref="GpuKernels.ScratchLength"/> accumulators of <paramref name="accumulatorSize"/> bytes), the most that
    /// <see cref="GpuLaunch.Choose(GpuDevice, bool, int, int, int, bool)"/> asks for, once per loaded kernel, and says
    /// whether it may: false where the driver refuses (the launch then takes the streamed kernel,
    /// <see cref="GpuLaunch.OptedIn"/>), on any other accelerator, and where the maximum is not above 48 KB.
    /// </summary>
    public static bool Raise(Accelerator accelerator, Delegate launcher, int accumulatorSize)
    {
        int limit = OptInLimit(accelerator);
        if (limit <= GpuLaunch.SharedBudget || launcher.Target is not CudaKernel kernel)
        {
            return false;
        }

        return Raised.GetValue(kernel, _ =>
        {
            using var binding = accelerator.BindScoped();
            int bytes = limit - GpuKernels.ScratchLength * accumulatorSize;
            int error = ((delegate* unmanaged<nint, int, int, int>)SetFunctionAttribute.Value)(kernel.FunctionPtr, MaxDynamicSharedSizeBytes, bytes);
            return new StrongBox<bool>(error == 0);
        }).Value;
    }

    private static int Query(CudaAccelerator cuda)
    {
        if (SetFunctionAttribute.Value == 0)
        {
            return 0;
        }

        try
        {
            return CudaAPI.CurrentAPI.GetDeviceAttribute((DeviceAttributeKind)MaxSharedMemoryPerBlockOptIn, cuda.DeviceId);
        }
        catch (CudaException)
        {
            return 0; // a driver that does not know the attribute
        }
    }

    private static nint Resolve()
    {
        // The name ILGPU's own bindings load, through ILGPU's assembly (whose resolver finds the library under WSL too).
        string name = OperatingSystem.IsWindows() ? "nvcuda" : "cuda";
        if ((NativeLibrary.TryLoad(name, typeof(CudaAccelerator).Assembly, null, out nint library) || NativeLibrary.TryLoad("libcuda.so.1", out library))
            && NativeLibrary.TryGetExport(library, "cuFuncSetAttribute", out nint address))
        {
            return address;
        }

        return 0;
    }
}
