namespace SoftmaxGen.Runtime;

/// <summary>
/// The head dimension of a generated attention class, as a constant: the generated struct returns a literal, so the
/// JIT (CPU) and ILGPU (GPU) compile the kernels with the tile sizes fixed for it.
/// </summary>
public interface IAttentionHead
{
    /// <summary>The head dimension, 1 to 256.</summary>
    int Dim { get; }
}
