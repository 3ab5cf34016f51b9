using SoftmaxGen;

/// <summary>A [Softmax] class in the global namespace.</summary>
[Softmax(2, 1)]
internal static partial class GlobalRows { }
