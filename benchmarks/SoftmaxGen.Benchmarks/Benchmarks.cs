using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace SoftmaxGen.Benchmarks;

/// <summary>A short job: BenchmarkDotNet's defaults take far too long for 128 MiB tensors.</summary>
public sealed class ShortConfig : ManualConfig
{
    public ShortConfig()
    {
        AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(7).WithId("Short"));
        WithOptions(ConfigOptions.DisableLogFile);
    }
}

/// <summary>[32768, 1024] (float) or [16384, 1024] (double), s1 = {1}: the copy ceiling, the generated class and the baselines.</summary>
[Config(typeof(ShortConfig))]
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class LastAxis<T>
    where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IExponentialFunctions<T>
{
    private T[] _a = [];
    private T[] _b = [];
    private T[] _scratch = [];
    private T[] _dB1 = [];
    private T[] _dA1 = [];
    private T[] _dB4 = [];
    private T[] _dA4 = [];
    private int[] _shape = [];

    [GlobalSetup]
    public void Setup()
    {
        _shape = Kernels.Shape<T>(Layout.Rows);
        int count = _shape[0] * _shape[1];
        _a = Kernels.Logits<T>(count, 1);
        _b = new T[count];
        Kernels.Forward(Layout.Rows, _a, _b, _shape);
        _scratch = new T[count];
        _dB1 = Kernels.Logits<T>(count, 2);
        _dA1 = new T[count];
        _dB4 = Kernels.Logits<T>(4 * count, 3);
        _dA4 = new T[4 * count];
    }

    [Benchmark(Baseline = true, Description = "parallel copy")]
    public void Copy() => Baselines.ParallelCopy(_a, _scratch);

    [Benchmark(Description = "forward")]
    public void Forward() => Kernels.Forward(Layout.Rows, _a, _scratch, _shape);

    [Benchmark(Description = "forward, TensorPrimitives per row")]
    public void ForwardTensorPrimitives() => Baselines.TensorPrimitivesForward(_a, _scratch, _shape[1]);

    [Benchmark(Description = "forward, scalar loop")]
    public void ForwardScalar() => Baselines.ScalarForward(_a, _scratch, _shape[1]);

    [Benchmark(Description = "backward s3=1")]
    public void Backward1() => Kernels.Backward(Layout.Rows, _b, _dB1, _dA1, _shape);

    [Benchmark(Description = "backward s3=1, TensorPrimitives per row")]
    public void Backward1TensorPrimitives() => Baselines.TensorPrimitivesBackward(_b, _dB1, _dA1, _shape[1]);

    [Benchmark(Description = "backward s3=1, scalar loop")]
    public void Backward1Scalar() => Baselines.ScalarBackward(_b, _dB1, _dA1, _shape[1]);

    [Benchmark(Description = "backward s3=4")]
    public void Backward4() => Kernels.Backward(Layout.Rows, _b, _dB4, _dA4, _shape);

    [Benchmark(Description = "backward s3=4, TensorPrimitives per row")]
    public void Backward4TensorPrimitives() => Baselines.TensorPrimitivesBackward(_b, _dB4, _dA4, _shape[1]);

    [Benchmark(Description = "backward s3=4, scalar loop")]
    public void Backward4Scalar() => Baselines.ScalarBackward(_b, _dB4, _dA4, _shape[1]);
}

/// <summary>The same element count in the three benchmarked layouts: rows, channels, scattered.</summary>
[Config(typeof(ShortConfig))]
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class Layouts<T>
    where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
{
    private T[] _a = [];
    private T[] _b = [];
    private T[] _scratch = [];
    private T[] _dB = [];
    private T[] _dA = [];
    private int[] _shape = [];

    [Params(Layout.Rows, Layout.Channels, Layout.Scattered)]
    public Layout Layout { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _shape = Kernels.Shape<T>(Layout);
        int count = 1;
        foreach (int extent in _shape)
        {
            count *= extent;
        }

        _a = Kernels.Logits<T>(count, 1);
        _b = new T[count];
        Kernels.Forward(Layout, _a, _b, _shape);
        _scratch = new T[count];
        _dB = Kernels.Logits<T>(count, 2);
        _dA = new T[count];
    }

    [Benchmark(Description = "forward")]
    public void Forward() => Kernels.Forward(Layout, _a, _scratch, _shape);

    [Benchmark(Description = "backward s3=1")]
    public void Backward() => Kernels.Backward(Layout, _b, _dB, _dA, _shape);
}

/// <summary>Short slices and tiny tensors: the generated class against TensorPrimitives.SoftMax row by row.</summary>
[Config(typeof(ShortConfig))]
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class SmallSlices<T>
    where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>, System.Numerics.IExponentialFunctions<T>
{
    private T[] _a = [];
    private T[] _b = [];
    private int[] _shape = [];

    [Params("65536x128", "3x100")]
    public string Shape { get; set; } = "3x100";

    [GlobalSetup]
    public void Setup()
    {
        _shape = System.Array.ConvertAll(Shape.Split('x'), int.Parse);
        _a = Kernels.Logits<T>(_shape[0] * _shape[1], 1);
        _b = new T[_a.Length];
    }

    [Benchmark(Baseline = true, Description = "TensorPrimitives.SoftMax row by row")]
    public void TensorPrimitivesSoftMax() => Baselines.TensorPrimitivesSoftMaxRows(_a, _b, _shape[1]);

    [Benchmark(Description = "forward")]
    public void Forward() => Kernels.Forward(Layout.Rows, _a, _b, _shape);
}
