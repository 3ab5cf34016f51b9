using System;
using System.Linq;
using BenchmarkDotNet.Running;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project benchmarks/SoftmaxGen.Benchmarks -- MODE</c>, docs/benchmarks.md says what each
/// prints: <c>ort</c> (SoftmaxGen beside ONNX Runtime), <c>attention</c> (fused attention beside ONNX Runtime's attention
/// operators and the unfused path), <c>ratios</c> (the CPU goal table), <c>options</c> (the scale, mask, bias and causal
/// mask beside the plain forward), <c>cold</c> (a fresh
/// process's first calls), <c>chart</c> (bandwidth against slice length), <c>profile</c> (one operation repeated, for
/// profilers) and <c>bdn</c> (the BenchmarkDotNet suite).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "ratios";
        switch (mode)
        {
            case "ratios":
                Console.WriteLine(RatioTable.Run(Option(args, "--rounds", 11), !args.Contains("--float-only")));
                return 0;
            case "chart":
                Console.WriteLine(Chart.Run(
                    OptionText(args, "--out", "docs/benchmarks-bandwidth.svg"),
                    Option(args, "--rounds", 7),
                    Option(args, "--min", 128),
                    Option(args, "--max", 262144)));
                return 0;
            case "profile":
                // profile OPERATION TYPE LAYOUT|SHAPE CALLS [COTANGENTS], e.g. profile forward float rows 100 or profile forward float 3x100 100000
                Profile.Run(args[1], args[2], args[3], int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture), args.Length > 5 ? int.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture) : 1);
                return 0;
            case "ort":
                Console.WriteLine(OrtComparison.Run(Option(args, "--rounds", 15), Option(args, "--threads", Environment.ProcessorCount)));
                return 0;
            case "attention":
                Console.WriteLine(AttentionComparison.Run(Option(args, "--rounds", 7), Option(args, "--threads", Environment.ProcessorCount)));
                return 0;
            case "options":
                Console.WriteLine(OptionsTable.Run(Option(args, "--rounds", 11), Option(args, "--threads", Environment.ProcessorCount)));
                return 0;
            case "cold":
                Console.WriteLine(Cold.Run(Option(args, "--repeats", 3)));
                return 0;
            case "cold-child":
                return Cold.ChildMain(args[1], args[2], args[3], args[4]);
            case "bdn":
                BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args.Skip(1).ToArray());
                return 0;
            default:
                Console.Error.WriteLine("usage: ratios [--rounds N] [--float-only] | ort [--rounds N] [--threads N] | attention [--rounds N] [--threads N] | options [--rounds N] [--threads N] | cold [--repeats N] | profile OPERATION TYPE LAYOUT|SHAPE CALLS [COTANGENTS] | chart [--out PATH] [--rounds N] [--min L] [--max L] | bdn [BenchmarkDotNet arguments]");
                return 2;
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }

    private static string OptionText(string[] args, string name, string fallback)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : fallback;
    }
}
