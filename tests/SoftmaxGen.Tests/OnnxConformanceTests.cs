using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using SoftmaxGen.Runtime;
using SoftmaxGen.Tests.Gpu;
using Xunit;

namespace SoftmaxGen.Tests;

/// <summary>
/// The ONNX backend conformance cases for Softmax and LogSoftmax (opset 13), as the ONNX project ships them: each
/// case's one-node model, its input and its expected output, copied from Debian's libonnx-testdata (see
/// OnnxConformance/COPYRIGHT). The model says the operation and the axis; the generated class with that operation and
/// s1 = {axis} computes the output, on the CPU and through its ILGPU launchers.
/// </summary>
public sealed class OnnxConformanceTests(CpuAcceleratorFixture fixture) : IClassFixture<CpuAcceleratorFixture>
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "OnnxConformance");

    public static IEnumerable<object[]> Cases() =>
        Directory.GetDirectories(Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal).Select(name => new object[] { name! });

    [Fact]
    public void EveryCaseOfBothOperatorsIsHere()
    {
        var names = Cases().Select(row => (string)row[0]).ToList();
        Assert.Equal(7, names.Count(name => name.StartsWith("test_softmax_", StringComparison.Ordinal)));
        Assert.Equal(7, names.Count(name => name.StartsWith("test_logsoftmax_", StringComparison.Ordinal)));
    }

    [Theory, MemberData(nameof(Cases))]
    public void TheCpuPathGivesTheExpectedOutput(string name)
    {
        var (target, input, expected) = Load(name, accelerator: null);
        AssertMatches(target, expected, target.Forward(input.Values, input.Shape).Value, name);
    }

    [SkippableTheory, MemberData(nameof(Cases))]
    public void TheIlgpuLaunchersGiveTheExpectedOutput(string name)
    {
        Skip.If(fixture.Accelerator is null, "no CPU accelerator");
        var (target, input, expected) = Load(name, fixture.Accelerator);
        AssertMatches(target, expected, target.Forward(input.Values, input.Shape).Value, name);
    }

    /// <summary>
    /// Within a few float roundings of the expected float32 values: relative for softmax's probabilities, absolute (in
    /// units of the value's size and 1) for log-probabilities.
    /// </summary>
    private static void AssertMatches(ITarget target, Tensor expected, double[] actual, string name)
    {
        Assert.Equal(expected.Values.Length, actual.Length);
        for (int i = 0; i < actual.Length; i++)
        {
            double e = expected.Values[i];
            double bound = target.Operation == SoftmaxOperation.Softmax ? 4e-7 * Math.Abs(e) + 1e-9 : 4e-7 * (Math.Abs(e) + 1);
            Assert.True(Math.Abs(actual[i] - e) <= bound, $"{name} through {target.Name}: [{i}] = {actual[i]:R}, expected {e:R}");
        }
    }

    private static (ITarget Target, Tensor Input, Tensor Expected) Load(string name, ILGPU.Runtime.Accelerator? accelerator)
    {
        string folder = Path.Combine(Folder, name);
        var (operation, axis) = OnnxModel.ReadSoftmaxNode(File.ReadAllBytes(Path.Combine(folder, "model.onnx")));
        var input = Tensor.Read(File.ReadAllBytes(Path.Combine(folder, "input_0.pb")));
        var expected = Tensor.Read(File.ReadAllBytes(Path.Combine(folder, "output_0.pb")));
        Assert.Equal(input.Shape, expected.Shape);

        int rank = input.Shape.Length;
        int reduced = (int)(((axis % rank) + rank) % rank);
        var target = Layouts.All.First(candidate =>
            candidate.Operation == operation && candidate.Rank == rank && candidate.Axes.SequenceEqual([reduced])
            && candidate.ElementName == nameof(Single) && candidate.Scale == 1);
        return (accelerator is null ? target : Layouts.GetGpu(target.Name, accelerator), input, expected);
    }

    /// <summary>A float32 TensorProto: its dims and its values as float64.</summary>
    private sealed record Tensor(int[] Shape, double[] Values)
    {
        private const int Float = 1;

        /// <summary>Reads dims (field 1), data_type (2), float_data (4) or raw_data (9, little-endian).</summary>
        public static Tensor Read(byte[] bytes)
        {
            var dims = new List<int>();
            var values = new List<double>();
            int type = 0;
            foreach (var field in Protobuf.Fields(bytes))
            {
                switch (field.Number)
                {
                    case 1 when field.Bytes is null:
                        dims.Add(checked((int)field.Varint));
                        break;
                    case 1:
                        dims.AddRange(Protobuf.PackedVarints(field.Bytes).Select(value => checked((int)value)));
                        break;
                    case 2:
                        type = (int)field.Varint;
                        break;
                    case 4 when field.Bytes is not null:
                        values.AddRange(Floats(field.Bytes));
                        break;
                    case 9:
                        values.AddRange(Floats(field.Bytes!));
                        break;
                }
            }

            Assert.Equal(Float, type);
            Assert.Equal(dims.Aggregate(1, (product, extent) => product * extent), values.Count);
            return new Tensor(dims.ToArray(), values.ToArray());
        }

        private static IEnumerable<double> Floats(byte[] bytes)
            => Enumerable.Range(0, bytes.Length / 4).Select(i => (double)BitConverter.ToSingle(bytes, 4 * i));
    }

    /// <summary>The one node of a Softmax or LogSoftmax model: ModelProto.graph (7) → GraphProto.node (1) → NodeProto.</summary>
    private static class OnnxModel
    {
        public static (SoftmaxOperation Operation, long Axis) ReadSoftmaxNode(byte[] model)
        {
            var graph = Protobuf.Fields(model).Single(field => field.Number == 7).Bytes!;
            var node = Protobuf.Fields(graph).Single(field => field.Number == 1).Bytes!;
            string? type = null;
            long axis = -1; // opset 13's default: the last axis
            foreach (var field in Protobuf.Fields(node))
            {
                if (field.Number == 4)
                {
                    type = System.Text.Encoding.UTF8.GetString(field.Bytes!);
                }
                else if (field.Number == 5)
                {
                    // AttributeProto: name (1), i (3).
                    var attribute = Protobuf.Fields(field.Bytes!).ToList();
                    if (System.Text.Encoding.UTF8.GetString(attribute.Single(part => part.Number == 1).Bytes!) == "axis")
                    {
                        axis = (long)attribute.Single(part => part.Number == 3).Varint;
                    }
                }
            }

            return (type switch
            {
                "Softmax" => SoftmaxOperation.Softmax,
                "LogSoftmax" => SoftmaxOperation.LogSoftmax,
                _ => throw new InvalidDataException($"the model's node is {type}, not Softmax or LogSoftmax"),
            }, axis);
        }
    }

    /// <summary>The protobuf wire format, as much of it as these files use.</summary>
    private static class Protobuf
    {
        public readonly record struct Field(int Number, ulong Varint, byte[]? Bytes);

        public static IEnumerable<Field> Fields(byte[] message)
        {
            int at = 0;
            while (at < message.Length)
            {
                ulong key = ReadVarint(message, ref at);
                int number = (int)(key >> 3);
                switch ((int)(key & 7))
                {
                    case 0:
                        yield return new Field(number, ReadVarint(message, ref at), null);
                        break;
                    case 1:
                        yield return new Field(number, BitConverter.ToUInt64(message, at), null);
                        at += 8;
                        break;
                    case 2:
                        int length = checked((int)ReadVarint(message, ref at));
                        yield return new Field(number, 0, message[at..(at + length)]);
                        at += length;
                        break;
                    case 5:
                        yield return new Field(number, BitConverter.ToUInt32(message, at), null);
                        at += 4;
                        break;
                    default:
                        throw new InvalidDataException($"wire type {key & 7} at byte {at}");
                }
            }
        }

        public static IEnumerable<ulong> PackedVarints(byte[] bytes)
        {
            int at = 0;
            while (at < bytes.Length)
            {
                yield return ReadVarint(bytes, ref at);
            }
        }

        private static ulong ReadVarint(byte[] bytes, ref int at)
        {
            ulong value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte next = bytes[at++];
                value |= (ulong)(next & 0x7F) << shift;
                if (next < 0x80)
                {
                    return value;
                }
            }
        }
    }
}
