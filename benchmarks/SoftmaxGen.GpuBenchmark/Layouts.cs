using SoftmaxGen;

namespace SoftmaxGen.GpuBenchmark;

/// <summary>Rows: the last axis reduced.</summary>
[Softmax(2, 1)]
public static partial class RowSoftmax { }

/// <summary>NCHW channel softmax: s1 = {1}, the last axis a batch axis.</summary>
[Softmax(4, 1)]
public static partial class ChannelSoftmax { }

/// <summary>Two reduced axes apart: s1 = {1, 3}, as in the CPU benchmarks' scattered case.</summary>
[Softmax(4, 1, 3)]
public static partial class ScatteredSoftmax { }

/// <summary>Rows of doubles.</summary>
[Softmax(2, 1, ElementType = typeof(double))]
public static partial class RowSoftmaxDouble { }

/// <summary>NCHW channel softmax of doubles.</summary>
[Softmax(4, 1, ElementType = typeof(double))]
public static partial class ChannelSoftmaxDouble { }

/// <summary>s1 = {1, 3} of doubles.</summary>
[Softmax(4, 1, 3, ElementType = typeof(double))]
public static partial class ScatteredSoftmaxDouble { }

/// <summary>Rows of halves (computed in float).</summary>
[Softmax(2, 1, ElementType = typeof(System.Half))]
public static partial class RowSoftmaxHalf { }

/// <summary>NCHW channel softmax of halves.</summary>
[Softmax(4, 1, ElementType = typeof(System.Half))]
public static partial class ChannelSoftmaxHalf { }

/// <summary>s1 = {1, 3} of halves.</summary>
[Softmax(4, 1, 3, ElementType = typeof(System.Half))]
public static partial class ScatteredSoftmaxHalf { }
