using System;
using System.Runtime.CompilerServices;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Division of a non-negative <see cref="int"/> by a divisor fixed when a layout is made: a 64-bit multiply and a shift
/// instead of a hardware divide, which the generated layouts do several times per run (to place a run's mask and bias
/// entries and causal indices) and once per slice. The multiplier is ⌈2^(32+l) / d⌉ with l = ⌈log₂ d⌉ (Granlund and
/// Montgomery's round-up method): it has at most 33 bits, so its product with a dividend below 2^31 fits in 64 bits,
/// and the quotient is exact for every such dividend. Integer arithmetic only, so ILGPU compiles it into the GPU
/// kernels too.
/// </summary>
public readonly struct Divisor
{
    private readonly ulong _multiplier;
    private readonly int _shift;
    private readonly int _value;

    /// <summary>Prepares division by <paramref name="value"/> (0 is allowed for an empty extent, and never divided by).</summary>
    public Divisor(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        _value = value;
        int log = 0;
        while ((1L << log) < value)
        {
            log++;
        }

        _shift = 32 + log;
        _multiplier = value == 0 ? 0 : ((1UL << _shift) - 1) / (ulong)value + 1;
    }

    /// <summary>⌊<paramref name="dividend"/> / d⌋, with the remainder; the dividend must not be negative.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Divide(int dividend, out int remainder)
    {
        int quotient = (int)(((ulong)(uint)dividend * _multiplier) >> _shift);
        remainder = dividend - (quotient * _value);
        return quotient;
    }

    /// <summary><paramref name="dividend"/> mod d; the dividend must not be negative.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Remainder(int dividend) => dividend - ((int)(((ulong)(uint)dividend * _multiplier) >> _shift) * _value);
}
