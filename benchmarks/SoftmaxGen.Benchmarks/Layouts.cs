using SoftmaxGen;

namespace SoftmaxGen.Benchmarks;

// The benchmarked layouts, compiled by the generator exactly as a user's project gets them.

/// <summary>[rows, length], s1 = {1}: the last axis reduced (float).</summary>
[Softmax(2, 1)]
public static partial class RowsFloat { }

/// <summary>[rows, length], s1 = {1}: the last axis reduced (double).</summary>
[Softmax(2, 1, ElementType = typeof(double))]
public static partial class RowsDouble { }

/// <summary>[rows, length], s1 = {1}: the last axis reduced (Half, computed in float).</summary>
[Softmax(2, 1, ElementType = typeof(System.Half))]
public static partial class RowsHalf { }

/// <summary>[batch, channels, pixels], s1 = {1}: the last axis a batch axis, slices side by side as lanes (float).</summary>
[Softmax(3, 1)]
public static partial class ChannelsFloat { }

/// <summary>[batch, channels, pixels], s1 = {1} (double).</summary>
[Softmax(3, 1, ElementType = typeof(double))]
public static partial class ChannelsDouble { }

/// <summary>[batch, channels, pixels], s1 = {1} (Half, computed in float).</summary>
[Softmax(3, 1, ElementType = typeof(System.Half))]
public static partial class ChannelsHalf { }

/// <summary>[a, b, c, d], s1 = {1, 3}: a slice is b runs of d elements, strided (float).</summary>
[Softmax(4, 1, 3)]
public static partial class ScatteredFloat { }

/// <summary>[a, b, c, d], s1 = {1, 3} (double).</summary>
[Softmax(4, 1, 3, ElementType = typeof(double))]
public static partial class ScatteredDouble { }

/// <summary>[a, b, c, d], s1 = {1, 3} (Half, computed in float).</summary>
[Softmax(4, 1, 3, ElementType = typeof(System.Half))]
public static partial class ScatteredHalf { }

/// <summary>[rows, length], s1 = {1}: log-softmax over the last axis (float).</summary>
[LogSoftmax(2, 1)]
public static partial class LogRowsFloat { }

/// <summary>[rows, length], s1 = {1}: log-softmax (double).</summary>
[LogSoftmax(2, 1, ElementType = typeof(double))]
public static partial class LogRowsDouble { }

/// <summary>[rows, length], s1 = {1}: log-softmax (Half, computed in float).</summary>
[LogSoftmax(2, 1, ElementType = typeof(System.Half))]
public static partial class LogRowsHalf { }

/// <summary>[batch, channels, pixels], s1 = {1}: log-softmax with the slices side by side as lanes (float).</summary>
[LogSoftmax(3, 1)]
public static partial class LogChannelsFloat { }
