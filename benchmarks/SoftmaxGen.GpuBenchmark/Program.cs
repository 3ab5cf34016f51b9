using System;
using System.Linq;

namespace SoftmaxGen.GpuBenchmark;

public static class Program
{
    private const string Usage = """
        SoftmaxGen GPU benchmark: forward and backward softmax as effective bandwidth against a device-to-device copy.

        usage: SoftmaxGen.GpuBenchmark [--ptx] [--device best|cuda|cpu] [--type float|double|half] [--elements N] [--slices L1,L2,...] [--repeat R]

          --ptx       no device: compile the row and lanes kernels to PTX for SM_90 and print the instructions per element
                      moved of each innermost loop that reads or writes device memory
          --device    best (default): CUDA if present, else ILGPU's CPU accelerator (a slow simulation)
          --type      the element type (default float; half is computed in float)
          --elements  elements per tensor, at most 268435456 (default 67108864 = 256 MiB of float; use ~65536 on the
                      CPU accelerator; the scattered case takes at least 1024)
          --slices    slice lengths of the row layout (default 128,512,2048,8192,32768,131072,262144)
          --repeat    timed runs per case, median reported (default 20)
        """;

    private static string Device(string name) =>
        name is "best" or "cuda" or "cpu" ? name : throw new ArgumentException($"--device takes best, cuda or cpu, not '{name}'");

    private static string Type(string name) =>
        name is "float" or "double" or "half" ? name : throw new ArgumentException($"--type takes float, double or half, not '{name}'");

    /// <summary>The four-cotangent case holds 4 × elements in one array: at most 2^28 elements a tensor (1 GiB of float, 4 GiB for that array).</summary>
    private static long Elements(long count) =>
        count is >= 1 and <= 1L << 28 ? count : throw new ArgumentException($"--elements takes 1 to {1L << 28}, not {count}");

    public static int Main(string[] args)
    {
        var options = new BenchmarkOptions();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                options = args[i] switch
                {
                    "--help" or "-h" => throw new OperationCanceledException(),
                    "--ptx" => options with { Ptx = true },
                    "--device" => options with { Device = Device(Value()) },
                    "--type" => options with { Type = Type(Value()) },
                    "--elements" => options with { Elements = Elements(long.Parse(Value())) },
                    "--slices" => options with { SliceLengths = Value().Split(',').Select(int.Parse).ToArray() },
                    "--repeat" => options with { Repetitions = int.Parse(Value()) },
                    _ => throw new ArgumentException($"unknown option {args[i]}"),
                };
            }
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine(Usage);
            return 0;
        }
        catch (Exception exception) when (exception is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"error: {exception.Message}\n\n{Usage}");
            return 2;
        }

        if (options.Ptx)
        {
            PtxReport.Run(Console.Out);
            return 0;
        }

        try
        {
            Benchmark.Run(options, Console.Out);
            return 0;
        }
        catch (InvalidOperationException exception)
        {
            Console.Error.WriteLine($"error: {exception.Message}");
            return 1;
        }
    }
}
