namespace SoftmaxGen.Runtime;

/// <summary>
/// What the GPU kernels need of a generated layout on top of <see cref="ISoftmaxLayout"/>: random access to the runs
/// of a slice, so that many threads can work on one slice at once. The generated struct is a kernel parameter; its
/// methods are compiled into the kernels by ILGPU.
/// </summary>
public interface IGpuSoftmaxLayout : ISoftmaxLayout
{
    /// <summary>The number of runs of a slice (with lanes: of a row of lanes): the product of the walked reduced extents.</summary>
    int RunCount { get; }

    /// <summary>The offset of run <paramref name="run"/> from its slice's origin; run 0 is at offset 0.</summary>
    int RunOffset(int run);

    /// <summary>
    /// Whether the attribute asked for the approximate exp on the GPU (<c>ApproximateGpuExp = true</c>): the launchers
    /// then compute exp with CUDA's <c>ex2.approx</c> (about 2 ulp) for float and Half elements. The CPU path ignores it.
    /// </summary>
    bool ApproximateGpuExp { get; }
}
