using Microsoft.CodeAnalysis;

namespace SoftmaxGen.Generator.Diagnostics;

/// <summary>Every diagnostic SoftmaxGen reports. IDs are stable; docs/diagnostics.md explains each one.</summary>
internal static class DiagnosticDescriptors
{
    private const string Category = "SoftmaxGen";
    private const string HelpBase = "https://github.com/softmaxgen/softmaxgen/blob/main/docs/diagnostics.md#";

    public static readonly DiagnosticDescriptor RankOutOfRange = Create(
        "SMG0001",
        "Rank outside 1..8",
        "The rank {0} is outside 1..8: SoftmaxGen generates code for tensors of rank 1 to 8");

    public static readonly DiagnosticDescriptor AxisOutOfRange = Create(
        "SMG0002",
        "Axis outside the tensor",
        "Axis {0} is outside [0, {1}) for a tensor of rank {1}");

    public static readonly DiagnosticDescriptor DuplicateAxis = Create(
        "SMG0003",
        "Axis listed twice",
        "Axis {0} is listed more than once");

    public static readonly DiagnosticDescriptor NoAxes = Create(
        "SMG0004",
        "No axes to reduce",
        "[{1}] on '{0}' names no axes to reduce: list at least one axis after the rank");

    public static readonly DiagnosticDescriptor NotStaticPartial = Create(
        "SMG0005",
        "Type cannot receive generated members",
        "'{0}' must be declared {1} so that SoftmaxGen can add the generated members to it");

    public static readonly DiagnosticDescriptor UnsupportedElementType = Create(
        "SMG0006",
        "Element type not supported",
        "ElementType '{0}' is not supported: use float, double or System.Half");

    public static readonly DiagnosticDescriptor GenericType = Create(
        "SMG0007",
        "Generic type",
        "'{0}' is generic: a [{1}] class and the types that contain it must not be generic");

    public static readonly DiagnosticDescriptor OptionAxis = Create(
        "SMG0008",
        "Mask or bias axis invalid",
        "{0} lists axis {1}, which {2}");

    public static readonly DiagnosticDescriptor CausalAxes = Create(
        "SMG0009",
        "Causal axes invalid",
        "{0}");

    public static readonly DiagnosticDescriptor BothAttributes = Create(
        "SMG0010",
        "Two SoftmaxGen attributes on one class",
        "'{0}' has both [{1}] and [{2}]: their generated members would share names; put each on its own class");

    public static readonly DiagnosticDescriptor HeadDimOutOfRange = Create(
        "SMG0011",
        "Head dimension outside 1..256",
        "The head dimension {0} is outside 1..256: [Attention] generates kernels for heads of 1 to 256 elements");

    public static readonly DiagnosticDescriptor ApproximateExpDouble = Create(
        "SMG0012",
        "Approximate GPU exp with double elements",
        "ApproximateGpuExp applies to float and Half elements only: a double softmax keeps its exp on the GPU; remove the option or use float data");

    private static DiagnosticDescriptor Create(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true, helpLinkUri: HelpBase + id.ToLowerInvariant());
}
