using System;

namespace SoftmaxGen.Samples.Attention;

public static class Program
{
    public const string Usage = """
        SoftmaxGen attention sample: scaled dot-product attention, forward and backward, two ways: unfused (matrix
        products around a generated softmax, storing the seq × seq scores) and fused (generated [Attention] classes,
        storing nothing of that size); timed, with the memory each allocates, and checked against each other.

        usage: dotnet run --project samples/Attention -- [options]

          --batch N       batch size (default 2)
          --heads N       attention heads (default 4)
          --seq N         sequence length: queries and keys (default 128)
          --dim N         head dimension (default 64); the fused path runs for 8, 16, 32, 64 and 128
          --causal        mask keys after the query (entries above the diagonal of S become -∞)
          --device D      cpu, ilgpu, or both (default: both, and compare them); ilgpu is CUDA when present,
                          else ILGPU's CPU accelerator
          --seed N        random seed (default 2026)
          --help          this text

        Exit code: 0 when every check passes, 1 when one fails, 2 for bad options.
        """;

    public static int Main(string[] args)
    {
        AttentionOptions options;
        try
        {
            options = Parse(args);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine(Usage);
            return 0;
        }
        catch (ArgumentException exception)
        {
            Console.Error.WriteLine($"error: {exception.Message}");
            Console.Error.WriteLine("run with --help for the options");
            return 2;
        }

        return AttentionSample.Run(options, Console.Out);
    }

    /// <summary>Reads the command line; throws <see cref="ArgumentException"/> with a message for the user on anything wrong.</summary>
    public static AttentionOptions Parse(string[] args)
    {
        var options = new AttentionOptions();
        var shape = options.Shape;
        for (int i = 0; i < args.Length; i++)
        {
            string option = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{option} needs a value");
            int Positive(int max)
            {
                string text = Value();
                return int.TryParse(text, out int value) && value >= 1 && value <= max
                    ? value
                    : throw new ArgumentException($"{option} takes a whole number from 1 to {max}, not '{text}'");
            }

            switch (option)
            {
                case "--help" or "-h":
                    throw new OperationCanceledException();
                case "--batch":
                    shape = shape with { Batch = Positive(64) };
                    break;
                case "--heads":
                    shape = shape with { Heads = Positive(64) };
                    break;
                case "--seq":
                    shape = shape with { Sequence = Positive(4096) };
                    break;
                case "--dim":
                    shape = shape with { HeadDim = Positive(1024) };
                    break;
                case "--causal":
                    options = options with { Causal = true };
                    break;
                case "--device":
                    string device = Value();
                    options = options with
                    {
                        Device = device switch
                        {
                            "cpu" => DeviceChoice.Cpu,
                            "ilgpu" => DeviceChoice.Ilgpu,
                            "both" => DeviceChoice.Both,
                            _ => throw new ArgumentException($"--device takes cpu, ilgpu or both, not '{device}'"),
                        },
                    };
                    break;
                case "--seed":
                    string seed = Value();
                    options = options with { Seed = int.TryParse(seed, out int value) ? value : throw new ArgumentException($"--seed takes a whole number, not '{seed}'") };
                    break;
                default:
                    throw new ArgumentException($"unknown option '{option}'");
            }
        }

        if ((long)shape.Pairs * shape.Sequence * shape.Sequence > int.MaxValue / 4)
        {
            throw new ArgumentException($"the scores of {shape} would hold {(long)shape.Pairs * shape.Sequence * shape.Sequence} elements; make the problem smaller");
        }

        return options with { Shape = shape };
    }
}
