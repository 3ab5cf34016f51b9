using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text;
using OxyPlot;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// The chart mode: effective bandwidth against slice length at a fixed total size (128 MiB of float, [N / L, L],
/// s1 = {1}), forward and backward, with the parallel copy of the same bytes drawn as the ceiling. Writes an SVG
/// (OxyPlot's exporter) and prints the numbers as Markdown.
/// </summary>
public static class Chart
{
    public static string Run(string path, int rounds, int minLength, int maxLength)
    {
        const int count = 32 << 20;
        var a = Kernels.Logits<float>(count, 1);
        var b = new float[count];
        var scratch = new float[count];
        var dB = Kernels.Logits<float>(count, 2);
        var dA = new float[count];
        var ad = Kernels.Logits<double>(count / 2, 1);
        var bd = new double[count / 2];
        var scratchd = new double[count / 2];

        var lengths = new List<int>();
        for (int length = minLength; length <= maxLength; length *= 2)
        {
            lengths.Add(length);
        }

        var copy = new List<double>();
        var forward = new List<double>();
        var backward = new List<double>();
        var forwardDouble = new List<double>();
        var composition = new List<double>();
        foreach (int length in lengths)
        {
            int[] shape = [count / length, length];
            int[] shapeDouble = [count / 2 / length, length];
            RowsFloat.Forward(a, b, shape);
            var cases = new[]
            {
                new Case("copy", "copy", 8.0 * count, () => Baselines.ParallelCopy(a, scratch)),
                new Case("fwd", "forward", 8.0 * count, () => RowsFloat.Forward(a, scratch, shape)),
                new Case("bwd", "backward", 12.0 * count, () => RowsFloat.Backward(b, dB, dA, shape)),
                new Case("fwdd", "forward double", 8.0 * count, () => RowsDouble.Forward(ad, scratchd, shapeDouble)),
                new Case("tp", "TensorPrimitives", 8.0 * count, () => Baselines.TensorPrimitivesForward(a, scratch, length)),
            };
            Case.MeasureAll(cases, rounds, message => Console.Error.WriteLine($"[L={length}] {message}"));
            copy.Add(cases[0].GigabytesPerSecond);
            forward.Add(cases[1].GigabytesPerSecond);
            backward.Add(cases[2].GigabytesPerSecond);
            forwardDouble.Add(cases[3].GigabytesPerSecond);
            composition.Add(cases[4].GigabytesPerSecond);
        }

        double ceiling = Median(copy);
        var model = new PlotModel
        {
            Title = "Softmax on 2 cores: effective bandwidth vs slice length",
            Subtitle = $"128 MiB tensors [N/L, L], s1 = {{1}}; {RatioTable.RuntimeInfo()}",
            Background = OxyColors.White,
            DefaultFont = "DejaVu Sans",
        };
        // Inside, above the curves (the axis leaves room for it): text that renders wider than OxyPlot measured it
        // then runs over the plot instead of out of the picture.
        model.Legends.Add(new Legend
        {
            LegendPlacement = LegendPlacement.Inside,
            LegendPosition = LegendPosition.TopLeft,
            LegendOrientation = LegendOrientation.Vertical,
            LegendBackground = OxyColor.FromAColor(230, OxyColors.White),
        });
        model.Axes.Add(new LogarithmicAxis { Position = AxisPosition.Bottom, Title = "slice length L (elements)", Base = 2, Minimum = minLength / 1.2, Maximum = maxLength * 1.2, MajorGridlineStyle = LineStyle.Dot, StringFormat = "0" });
        model.Axes.Add(new LinearAxis { Position = AxisPosition.Left, Title = "effective bandwidth (GB/s)", AxisTitleDistance = 12, Minimum = 0, Maximum = Math.Max(ceiling, forward.Concat(backward).Max()) * 1.6, MajorGridlineStyle = LineStyle.Dot });
        model.Series.Add(Line("parallel copy: the ceiling", lengths, copy, OxyColors.Black, LineStyle.Dash, MarkerType.None));
        model.Series.Add(Line("forward float (2·N·4 B)", lengths, forward, OxyColors.SteelBlue, LineStyle.Solid, MarkerType.Circle));
        model.Series.Add(Line("backward float, 1 cotangent (3·N·4 B)", lengths, backward, OxyColors.OrangeRed, LineStyle.Solid, MarkerType.Square));
        model.Series.Add(Line("forward double (2·N·8 B)", lengths, forwardDouble, OxyColors.SeaGreen, LineStyle.Solid, MarkerType.Diamond));
        model.Series.Add(Line("forward float, TensorPrimitives per row", lengths, composition, OxyColors.Gray, LineStyle.Solid, MarkerType.Triangle));

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var exporter = new SvgExporter { Width = 1000, Height = 620 };
        File.WriteAllText(path, PortableText(exporter.ExportToString(model)));

        var culture = CultureInfo.InvariantCulture;
        var table = new StringBuilder();
        table.AppendLine(culture, $"Load average: {RatioTable.LoadAverage()}; chart written to {path}");
        table.AppendLine();
        table.AppendLine("| L | rows | copy GB/s | forward float GB/s | backward float GB/s | forward double GB/s | TensorPrimitives float GB/s |");
        table.AppendLine("|---:|---:|---:|---:|---:|---:|---:|");
        for (int i = 0; i < lengths.Count; i++)
        {
            table.AppendLine(culture, $"| {lengths[i]} | {count / lengths[i]} | {copy[i]:F1} | {forward[i]:F1} | {backward[i]:F1} | {forwardDouble[i]:F1} | {composition[i]:F1} |");
        }

        return table.ToString();
    }

    /// <summary>
    /// OxyPlot places text with dominant-baseline, which some SVG renderers (librsvg, hence many previews) ignore:
    /// shift the text with dy instead, which every renderer honours, and name fonts found outside Windows. Clipping
    /// goes too: OxyPlot measures text with narrower metrics than most fonts render it, and would cut legend labels
    /// (the axes already enclose every point).
    /// </summary>
    private static string PortableText(string svg) => System.Text.RegularExpressions.Regex.Replace(svg, " clip-path=\"url\\(#clipPath\\d+\\)\"", "")
        .Replace("dominant-baseline=\"hanging\"", "dy=\"0.8em\"")
        .Replace("dominant-baseline=\"middle\"", "dy=\"0.35em\"")
        .Replace("dominant-baseline=\"central\"", "dy=\"0.35em\"")
        .Replace("font-family=\"Segoe UI\"", "font-family=\"DejaVu Sans, Segoe UI, Arial, sans-serif\"")
        .Replace("font-family=\"DejaVu Sans\"", "font-family=\"DejaVu Sans, Segoe UI, Arial, sans-serif\"");

    private static LineSeries Line(string title, List<int> x, List<double> y, OxyColor color, LineStyle style, MarkerType marker)
    {
        var series = new LineSeries { Title = title, Color = color, LineStyle = style, MarkerType = marker, MarkerFill = color, StrokeThickness = 2 };
        for (int i = 0; i < x.Count; i++)
        {
            series.Points.Add(new DataPoint(x[i], y[i]));
        }

        return series;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(value => value).ToArray();
        return sorted[sorted.Length / 2];
    }
}
