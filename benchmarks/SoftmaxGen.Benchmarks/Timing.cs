using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;

namespace SoftmaxGen.Benchmarks;

/// <summary>One thing to time: an action and the bytes it must move at least (for effective bandwidth).</summary>
public sealed class Case(string key, string label, double bytes, Action run)
{
    private readonly List<double> _samples = [];
    private int _inner = 1;

    public string Key { get; } = key;

    public string Label { get; } = label;

    public double Bytes { get; } = bytes;

    /// <summary>Median seconds per call.</summary>
    public double Seconds => Median(_samples);

    /// <summary>Effective bandwidth in GB/s (10^9 bytes).</summary>
    public double GigabytesPerSecond => Bytes / Seconds / 1e9;

    /// <summary>Runs until the JIT has settled (tier-1 code, at least 40 calls and 0.25 s), then picks how many calls make a sample of about 10 ms.</summary>
    public void WarmUp()
    {
        var watch = Stopwatch.StartNew();
        int calls = 0;
        while (calls < 40 || watch.Elapsed.TotalSeconds < 0.25)
        {
            run();
            calls++;
        }

        double perCall = watch.Elapsed.TotalSeconds / calls;
        _inner = Math.Max(1, (int)Math.Ceiling(0.01 / perCall));
    }

    /// <summary>Takes one sample.</summary>
    public void Sample()
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < _inner; i++)
        {
            run();
        }

        _samples.Add(Stopwatch.GetElapsedTime(start).TotalSeconds / _inner);
    }

    /// <summary>Warms every case up, then samples them round-robin, so that a disturbance spreads over all of them.</summary>
    public static void MeasureAll(IReadOnlyList<Case> cases, int rounds, Action<string>? progress = null)
    {
        foreach (var item in cases)
        {
            progress?.Invoke($"warming up {item.Key}");
            item.WarmUp();
        }

        for (int round = 0; round < rounds; round++)
        {
            progress?.Invoke($"round {round + 1}/{rounds}");
            foreach (var item in cases)
            {
                item.Sample();
            }
        }
    }

    private static double Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = values.OrderBy(value => value).ToArray();
        int middle = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
    }
}
