using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Text;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// The <c>cold</c> mode: how fast the first calls of a fresh process are. For every layout, element type, size and
/// direction, a new process makes 30 calls and times each; calls 2–30 (the first compiles the kernels) are compared with
/// the same calls in a process started with <c>DOTNET_TieredCompilation=0</c>, where everything is fully optimised from
/// the start. A ratio near 1 means a user's first batches run at full speed.
/// </summary>
public static class Cold
{
    private const int Calls = 30;

    private static readonly string[] Layouts = ["rows", "channels", "scattered"];
    private static readonly string[] Elements = ["float", "double", "half"];
    private static readonly string[] Sizes = ["small", "large"];
    private static readonly string[] Directions = ["forward", "backward"];

    public static string Run(int repeats)
    {
        var culture = CultureInfo.InvariantCulture;
        var output = new StringBuilder();
        output.AppendLine(culture, $"Machine: {Environment.ProcessorCount} cores, {RatioTable.RuntimeInfo()}");
        output.AppendLine();
        output.AppendLine(culture, $"Median of calls 2–{Calls} in a fresh process (default tiered JIT) and with DOTNET_TieredCompilation=0; each the median over {repeats} processes.");
        output.AppendLine();
        output.AppendLine("| layout | shape | element | direction | fresh µs | optimised µs | fresh / optimised |");
        output.AppendLine("|---|---|---|---|---:|---:|---:|");
        double worst = 0;
        foreach (string layout in Layouts)
        {
            foreach (string element in Elements)
            {
                foreach (string size in Sizes)
                {
                    foreach (string direction in Directions)
                    {
                        var fresh = new List<double>();
                        var optimised = new List<double>();
                        for (int repeat = 0; repeat < repeats; repeat++)
                        {
                            fresh.Add(Child(layout, element, size, direction, tiered: true));
                            optimised.Add(Child(layout, element, size, direction, tiered: false));
                        }

                        double ratio = Median(fresh) / Median(optimised);
                        worst = Math.Max(worst, ratio);
                        output.AppendLine(culture,
                            $"| {layout} | [{string.Join(", ", Shape(layout, element, size))}] | {element} | {direction} | {Median(fresh):F1} | {Median(optimised):F1} | {ratio:F2} |");
                    }
                }
            }
        }

        output.AppendLine();
        output.AppendLine(culture, $"Largest ratio: {worst:F2}");
        return output.ToString();
    }

    /// <summary>Runs one case in a new process; returns the median of its calls 2–30 in microseconds.</summary>
    private static double Child(string layout, string element, string size, string direction, bool tiered)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "cold-child", layout, element, size, direction })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("DOTNET_TieredCompilation");
        if (!tiered)
        {
            start.Environment["DOTNET_TieredCompilation"] = "0";
        }

        using var process = Process.Start(start)!;
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"cold-child {layout} {element} {size} {direction} exited with {process.ExitCode}");
        }

        var times = text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(value => double.Parse(value, CultureInfo.InvariantCulture)).ToArray();
        return Median(times.Skip(1));
    }

    /// <summary>The child: 30 calls of one case, each timed; prints the times in microseconds.</summary>
    public static int ChildMain(string layout, string element, string size, string direction)
    {
        int[] shape = Shape(layout, element, size);
        Action call = element switch
        {
            "float" => Prepare<float>(layout, shape, direction),
            "double" => Prepare<double>(layout, shape, direction),
            _ => Prepare<Half>(layout, shape, direction),
        };

        var times = new double[Calls];
        for (int i = 0; i < Calls; i++)
        {
            long begin = Stopwatch.GetTimestamp();
            call();
            times[i] = Stopwatch.GetElapsedTime(begin).TotalMicroseconds;
        }

        Console.WriteLine(string.Join(' ', times.Select(time => time.ToString("F2", CultureInfo.InvariantCulture))));
        return 0;
    }

    private static int[] Shape(string layout, string element, string size)
    {
        bool large = size == "large";
        int scale = element == "double" ? 2 : 1;
        return layout switch
        {
            "rows" => large ? [8192 / scale, 1024] : [64, 1024],
            "channels" => large ? [32 / scale, 64, 3136] : [2, 64, 512],
            _ => large ? [32 / scale, 32, 256, 32] : [2, 8, 64, 32],
        };
    }

    private static Action Prepare<T>(string layout, int[] shape, string direction)
        where T : unmanaged
    {
        int count = shape.Aggregate(1, (product, extent) => product * extent);
        var random = new Random(count);
        var a = new T[count];
        var b = new T[count];
        var dB = new T[count];
        var dA = new T[count];
        for (int i = 0; i < count; i++)
        {
            a[i] = From<T>((random.NextDouble() * 8) - 4);
            dB[i] = From<T>((random.NextDouble() * 2) - 1);
        }

        var (forward, backward) = Methods<T>(layout);
        forward(a, b, shape);
        return direction == "forward" ? () => forward(a, b, shape) : () => backward(b, dB, dA, shape);
    }

    private delegate void Forward<T>(ReadOnlySpan<T> a, Span<T> b, ReadOnlySpan<int> shape, float scale = 1f);

    private delegate void Backward<T>(ReadOnlySpan<T> b, ReadOnlySpan<T> dB, Span<T> dA, ReadOnlySpan<int> shape, float scale = 1f);

    private static (Forward<T> Forward, Backward<T> Backward) Methods<T>(string layout)
    {
        object methods = (typeof(T).Name, layout) switch
        {
            ("Single", "rows") => (new Forward<float>(RowsFloat.Forward), new Backward<float>(RowsFloat.Backward)),
            ("Single", "channels") => (new Forward<float>(ChannelsFloat.Forward), new Backward<float>(ChannelsFloat.Backward)),
            ("Single", _) => (new Forward<float>(ScatteredFloat.Forward), new Backward<float>(ScatteredFloat.Backward)),
            ("Double", "rows") => (new Forward<double>(RowsDouble.Forward), new Backward<double>(RowsDouble.Backward)),
            ("Double", "channels") => (new Forward<double>(ChannelsDouble.Forward), new Backward<double>(ChannelsDouble.Backward)),
            ("Double", _) => (new Forward<double>(ScatteredDouble.Forward), new Backward<double>(ScatteredDouble.Backward)),
            (_, "rows") => (new Forward<Half>(RowsHalf.Forward), new Backward<Half>(RowsHalf.Backward)),
            (_, "channels") => (new Forward<Half>(ChannelsHalf.Forward), new Backward<Half>(ChannelsHalf.Backward)),
            _ => (new Forward<Half>(ScatteredHalf.Forward), new Backward<Half>(ScatteredHalf.Backward)),
        };
        return ((Forward<T>, Backward<T>))methods;
    }

    private static T From<T>(double value) => typeof(T) == typeof(float) ? (T)(object)(float)value
        : typeof(T) == typeof(double) ? (T)(object)value
        : (T)(object)(Half)value;

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.OrderBy(value => value).ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
