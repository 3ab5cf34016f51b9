using System;
using System.Diagnostics;
using System.Numerics;

namespace SoftmaxGen.Benchmarks;

/// <summary>
/// The profile mode: repeats one operation, so that instruction counts (perf stat, callgrind) or disassembly
/// (DOTNET_JitDisasm) can be taken of it alone. Prints the time per call.
/// </summary>
public static class Profile
{
    public static void Run(string operation, string type, string layout, int calls, int cotangents)
    {
        if (type == "double")
        {
            Run<double>(operation, layout, calls, cotangents);
        }
        else
        {
            Run<float>(operation, layout, calls, cotangents);
        }
    }

    private static void Run<T>(string operation, string layoutName, int calls, int cotangents)
        where T : unmanaged, IFloatingPointIeee754<T>, IExponentialFunctions<T>
    {
        int[] shape;
        Layout layout;
        if (layoutName.Contains('x'))
        {
            shape = Array.ConvertAll(layoutName.Split('x'), int.Parse);
            layout = shape.Length switch { 2 => Layout.Rows, 3 => Layout.Channels, _ => Layout.Scattered };
        }
        else
        {
            layout = Enum.Parse<Layout>(layoutName, ignoreCase: true);
            shape = Kernels.Shape<T>(layout);
        }

        int count = 1;
        foreach (int extent in shape)
        {
            count *= extent;
        }

        var a = Kernels.Logits<T>(count, 1);
        var b = new T[count];
        Kernels.Forward(layout, a, b, shape);
        var dB = Kernels.Logits<T>(count * cotangents, 2);
        var dA = new T[count * cotangents];
        var scratch = new T[count];
        Action action = operation switch
        {
            "forward" => () => Kernels.Forward(layout, a, scratch, shape),
            "backward" => () => Kernels.Backward(layout, b, dB, dA, shape),
            "logforward" when layout == Layout.Rows && a is float[] x && scratch is float[] y => () => LogRowsFloat.Forward(x, y, shape),
            "logforward" when layout == Layout.Channels && a is float[] x && scratch is float[] y => () => LogChannelsFloat.Forward(x, y, shape),
            "copy" => () => Baselines.ParallelCopy(a, scratch),
            "tp" => () => Baselines.TensorPrimitivesForward(a, scratch, shape[^1]),
            "floor" => () => Baselines.BackwardTrafficFloor(b, dB, dA, shape[^1]),
            "tpsoftmax" => () => Baselines.TensorPrimitivesSoftMaxRows(a, scratch, shape[^1]),
            _ => throw new ArgumentException($"unknown operation {operation}"),
        };

        string? threads = Environment.GetEnvironmentVariable("SOFTMAX_THREADS");
        if (threads is not null)
        {
            SoftmaxGen.Runtime.CpuSoftmax.MaxDegreeOfParallelism = int.Parse(threads, System.Globalization.CultureInfo.InvariantCulture);
        }

        for (int call = 0; call < Math.Min(calls, 50); call++)
        {
            action();
        }

        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var watch = Stopwatch.StartNew();
        for (int call = 0; call < calls; call++)
        {
            action();
        }

        process.Refresh();
        double cpuMicroseconds = (process.TotalProcessorTime - cpu).TotalMilliseconds * 1e3 / calls;
        Console.WriteLine($"{operation} {typeof(T).Name} [{string.Join(", ", shape)}] s3={cotangents}: {watch.Elapsed.TotalMilliseconds * 1e3 / calls:F2} µs per call (wall), {cpuMicroseconds:F2} µs CPU, over {calls} calls after {Math.Min(calls, 50)} warm-up calls");
    }
}
