using System;
using System.Linq;

namespace SoftmaxGen.Tests;

/// <summary>
/// The options a generated class was declared with (mask axes, bias axes, causal query and key axes), and the mask and
/// bias a target passes for a shape: drawn from the shape alone, so that every call with one shape sees the same ones.
/// The float64 view of what they do to the logits is written here plainly, from the contract.
/// </summary>
public sealed record TargetOptions(int[] MaskAxes, int[] BiasAxes, int CausalQuery = -1, int CausalKey = -1)
{
    public static readonly TargetOptions None = new([], []);

    public bool HasMask => MaskAxes.Length > 0;

    public bool HasBias => BiasAxes.Length > 0;

    public bool HasCausal => CausalQuery >= 0;

    public bool Any => HasMask || HasBias || HasCausal;

    /// <summary>
    /// The mask and bias for <paramref name="shape"/> (empty for what the class does not take, or a shape that is not a
    /// valid one of this rank, or that holds more than int.MaxValue elements): about one mask entry in four false, and
    /// the first row along the mask's last axis all false; bias entries on a 1/8 grid in [-2, 2] (every element type
    /// holds them, and adding them to a scaled logit of the suite is exact).
    /// </summary>
    public (bool[] Mask, double[] Bias) Data(int[] shape, int rank)
    {
        // Shapes the generated code refuses before it looks at the options (or options no array could hold) get none.
        if (shape.Length != rank || shape.Any(extent => extent < 0)
            || shape.Aggregate(1L, (product, extent) => Math.Min(product * extent, 1L << 40)) > int.MaxValue
            || new[] { MaskAxes, BiasAxes }.Any(axes => axes.Aggregate(1L, (product, axis) => product * shape[axis]) > 1 << 24))
        {
            return ([], []);
        }

        var random = new Random(shape.Aggregate(17, (hash, extent) => hash * 31 + extent));
        var mask = Enumerable.Range(0, Length(shape, MaskAxes)).Select(_ => random.Next(4) != 0).ToArray();
        if (HasMask && mask.Length > shape[MaskAxes[^1]])
        {
            // The first row along the mask's last axis excluded whole: where that axis is reduced, some slices have
            // nothing included.
            Array.Fill(mask, false, 0, shape[MaskAxes[^1]]);
        }

        var bias = Enumerable.Range(0, Length(shape, BiasAxes)).Select(_ => random.Next(-16, 17) / 8.0).ToArray();
        return (mask, bias);
    }

    /// <summary>An option's length: the product of its axes' extents (0 where the class takes none).</summary>
    public static int Length(int[] shape, int[] axes)
        => axes.Length == 0 ? 0 : (int)Math.Min(axes.Aggregate(1L, (product, axis) => product * shape[axis]), int.MaxValue);

    /// <summary>
    /// z = round(round(scale · A) + bias) per element (<paramref name="scaled"/> holds the first rounding, done by the
    /// target; <paramref name="round"/> is the compute type's), and −∞ where the mask entry is false or the key index
    /// exceeds query index + K − Q.
    /// </summary>
    public double[] Apply(double[] scaled, int[] shape, bool[] mask, double[] bias, Func<double, double> round)
    {
        if (!Any)
        {
            return scaled;
        }

        var z = (double[])scaled.Clone();
        var index = new int[shape.Length];
        for (int flat = 0; flat < z.Length; flat++)
        {
            int rest = flat;
            for (int axis = shape.Length - 1; axis >= 0; axis--)
            {
                index[axis] = rest % shape[axis];
                rest /= shape[axis];
            }

            if (HasBias)
            {
                z[flat] = round(z[flat] + bias[Offset(index, shape, BiasAxes)]);
            }

            bool excluded = (HasMask && !mask[Offset(index, shape, MaskAxes)])
                || (HasCausal && index[CausalKey] > index[CausalQuery] + (shape[CausalKey] - shape[CausalQuery]));
            if (excluded)
            {
                z[flat] = double.NegativeInfinity;
            }
        }

        return z;
    }

    /// <summary>Row-major offset of the element's indices along <paramref name="axes"/> (ascending).</summary>
    private static int Offset(int[] index, int[] shape, int[] axes)
    {
        int offset = 0;
        foreach (int axis in axes)
        {
            offset = offset * shape[axis] + index[axis];
        }

        return offset;
    }

    public override string ToString()
        => !Any ? "" : string.Join(", ", new[]
        {
            HasMask ? $"mask {{{string.Join(", ", MaskAxes)}}}" : null,
            HasBias ? $"bias {{{string.Join(", ", BiasAxes)}}}" : null,
            HasCausal ? $"causal {CausalQuery}→{CausalKey}" : null,
        }.Where(part => part is not null));
}
