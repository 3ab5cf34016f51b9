using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Text;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// The <c>options</c> mode: the forward with a scale, a mask, a bias and the causal mask beside the plain forward of the
/// same layout on the same arrays, in one process, each round timing the two in alternating order. Effective bandwidth
/// counts A, B and each option tensor once; the ratio to the plain forward's bandwidth is the price of the option (1:
/// its extra bytes move at the plain rate). For the causal mask, which moves no extra bytes, the ratio is the plain
/// forward's time over the causal one's (1: as fast). The plain forward has no scale; each option case carries one
/// (0.125, or 0.5), whose cost alone is the first row.
/// </summary>
public static class OptionsTable
{
    private sealed record Pair(string Label, Action Plain, Action Option, double PlainBytes, double OptionBytes, bool ByTime)
    {
        public List<double> PlainSeconds { get; } = [];

        public List<double> OptionSeconds { get; } = [];

        public List<double> Ratios { get; } = [];
    }

    public static string Run(int rounds, int threads)
    {
        var culture = CultureInfo.InvariantCulture;
        var output = new StringBuilder();
        SoftmaxGen.Runtime.CpuSoftmax.MaxDegreeOfParallelism = threads;
        output.AppendLine(culture, $"Machine: {Environment.ProcessorCount} cores, {threads} thread(s), {RatioTable.RuntimeInfo()}; load average before: {RatioTable.LoadAverage()}");
        output.AppendLine();

        var pairs = new List<Pair>();

        // Attention scores [batch, heads, query, key]: a padding mask over [batch, key] (batch b keeps its first
        // K - 64 b keys), a bias over [heads, query, key], scale 1/√64.
        int[] scores = [4, 16, 512, 512];
        int n = scores.Aggregate(1, (product, extent) => product * extent);
        var a = Kernels.Logits<float>(n, 1);
        var b = new float[n];
        var mask = Enumerable.Range(0, scores[0] * scores[3]).Select(i => i % scores[3] < scores[3] - 64 * (i / scores[3])).ToArray();
        var bias = Kernels.Logits<float>(scores[1] * scores[2] * scores[3], 2);
        double bytes = 2.0 * n * sizeof(float);
        Action plain = () => ScoresFloat.Forward(a, b, scores);
        pairs.Add(new("scale 0.125", plain, () => ScoresFloat.Forward(a, b, scores, 0.125f), bytes, bytes, false));
        pairs.Add(new("mask [batch, key]", plain, () => ScoresMaskedFloat.Forward(a, mask, b, scores, 0.125f), bytes, bytes + mask.Length, false));
        pairs.Add(new("bias [heads, query, key]", plain, () => ScoresBiasedFloat.Forward(a, bias, b, scores, 0.125f), bytes, bytes + 4.0 * bias.Length, false));
        pairs.Add(new("mask and bias", plain, () => ScoresAllFloat.Forward(a, mask, bias, b, scores, 0.125f), bytes, bytes + mask.Length + 4.0 * bias.Length, false));
        pairs.Add(new("causal (time)", plain, () => ScoresCausalFloat.Forward(a, b, scores, 0.125f), bytes, bytes, true));
        pairs.Add(new("mask, bias and causal (time)", plain, () => ScoresAllCausalFloat.Forward(a, mask, bias, b, scores, 0.125f), bytes, bytes, true));
        pairs.Add(new("log-softmax, causal (time)", () => LogScoresFloat.Forward(a, b, scores), () => LogScoresCausalFloat.Forward(a, b, scores, 0.125f), bytes, bytes, true));

        var aHalf = a.Select(value => (Half)value).ToArray();
        var bHalf = new Half[n];
        var biasHalf = bias.Select(value => (Half)value).ToArray();
        pairs.Add(new("Half, mask and bias", () => ScoresHalf.Forward(aHalf, bHalf, scores), () => ScoresAllHalf.Forward(aHalf, mask, biasHalf, bHalf, scores, 0.125f),
            2.0 * n * 2, 2.0 * n * 2 + mask.Length + 2.0 * bias.Length, false));

        // Rows [8192, 1024] with a mask of one entry per element (a byte per 4-byte logit).
        int[] rowShape = [8192, 1024];
        var rowA = Kernels.Logits<float>(rowShape[0] * rowShape[1], 3);
        var rowB = new float[rowA.Length];
        var rowMask = Enumerable.Range(0, rowA.Length).Select(i => i % 7 != 3).ToArray();
        pairs.Add(new("rows [8192, 1024], mask per element", () => RowsFloat.Forward(rowA, rowB, rowShape), () => RowsMaskedFloat.Forward(rowA, rowMask, rowB, rowShape, 0.5f),
            2.0 * rowA.Length * 4, 2.0 * rowA.Length * 4 + rowMask.Length, false));

        // Channels [32, 64, 3136], s1 = {1}: a mask over the channels and a bias over [channels, pixels].
        int[] channelShape = [32, 64, 3136];
        var channelA = Kernels.Logits<float>(channelShape[0] * channelShape[1] * channelShape[2], 4);
        var channelB = new float[channelA.Length];
        var channelMask = Enumerable.Range(0, channelShape[1]).Select(i => i % 9 != 4).ToArray();
        var channelBias = Kernels.Logits<float>(channelShape[1] * channelShape[2], 5);
        pairs.Add(new("channels [32, 64, 3136], mask [channel], bias [channel, pixel]",
            () => ChannelsFloat.Forward(channelA, channelB, channelShape),
            () => ChannelsOptionsFloat.Forward(channelA, channelMask, channelBias, channelB, channelShape, 0.5f),
            2.0 * channelA.Length * 4, 2.0 * channelA.Length * 4 + channelMask.Length + 4.0 * channelBias.Length, false));

        foreach (var pair in pairs)
        {
            // Past the JIT's first calls of both.
            for (int call = 0; call < 40; call++)
            {
                pair.Plain();
                pair.Option();
            }
        }

        for (int round = 0; round < rounds; round++)
        {
            // The first timing of a round runs slow (the last pair's arrays leave the caches): one untimed pair first.
            OrtComparison.Time(pairs[0].Plain);
            OrtComparison.Time(pairs[0].Option);
            foreach (var pair in pairs)
            {
                double plainSeconds, optionSeconds;
                if (round % 2 == 0)
                {
                    plainSeconds = OrtComparison.Time(pair.Plain);
                    optionSeconds = OrtComparison.Time(pair.Option);
                }
                else
                {
                    optionSeconds = OrtComparison.Time(pair.Option);
                    plainSeconds = OrtComparison.Time(pair.Plain);
                }

                pair.PlainSeconds.Add(plainSeconds);
                pair.OptionSeconds.Add(optionSeconds);
                pair.Ratios.Add(pair.ByTime ? plainSeconds / optionSeconds : pair.OptionBytes / optionSeconds / (pair.PlainBytes / plainSeconds));
            }
        }

        output.AppendLine(culture, $"Medians of {rounds} interleaved rounds. Attention scores: [{string.Join(", ", scores)}], s1 = {{3}}.");
        output.AppendLine();
        output.AppendLine("| case | ms | plain ms | GB/s | plain GB/s | ratio (median) | range over rounds |");
        output.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var pair in pairs)
        {
            double optionSeconds = OrtComparison.Median(pair.OptionSeconds);
            double plainSeconds = OrtComparison.Median(pair.PlainSeconds);
            output.AppendLine(culture,
                $"| {pair.Label} | {optionSeconds * 1e3:F2} | {plainSeconds * 1e3:F2} | {pair.OptionBytes / optionSeconds / 1e9:F1} | {pair.PlainBytes / plainSeconds / 1e9:F1} | {OrtComparison.Median(pair.Ratios):F2} | {pair.Ratios.Min():F2} – {pair.Ratios.Max():F2} |");
        }

        output.AppendLine();
        output.AppendLine(culture, $"Load average after: {RatioTable.LoadAverage()}");
        return output.ToString();
    }
}
