using SoftmaxGen;

namespace SoftmaxGen.GpuBenchmark;

/// <summary>Rows: the last axis reduced.</summary>
[Softmax(2, 1)]
public static partial class RowSoftmax { }

/// <summary>NCHW channel softmax: s1 = {1}, the last axis a batch axis.</summary>
[Softmax(4, 1)]
public static partial class ChannelSoftmax { }

/// <summary>Two reduced axes apart: s1 = {1, 3}, as in the CPU issue's scattered case.</summary>
[Softmax(4, 1, 3)]
public static partial class ScatteredSoftmax { }
