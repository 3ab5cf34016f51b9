using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using SoftmaxGen.Runtime;

namespace SoftmaxGen.GpuBenchmark;

/// <summary>
/// The row layout's kernels, and the channel layout's lanes kernels, compiled to PTX for SM_90 with no device (ILGPU's
/// PTX backend), and for each innermost loop that moves data to or from device memory: its PTX instructions, the
/// elements its loads and stores move per iteration, and instructions per element moved. Loops are the strongly
/// connected parts of the control-flow graph of PTX blocks; an innermost one contains no smaller loop that moves device
/// memory. The warp kernels' slice loops hold their shuffle reductions as loops that move nothing: those count once,
/// though they run log2 of the lanes per slice times (5 on a 32-wide warp). Loads and stores of shared, local or
/// parameter memory are instructions but not moves.
/// </summary>
public static class PtxReport
{
    private static readonly Regex Move = new(@"^(?<op>ld|st)(?<space>\.global)?(\.v(?<width>\d))?\.(?<type>[a-z])(?<bits>\d+)\s");

    public static void Run(TextWriter output)
    {
        using var context = Context.Create(builder => builder.CPU());
        output.WriteLine("PTX for SM_90 (ILGPU default optimisation level); innermost loops that move device memory");
        output.WriteLine("| element | kernel | loop | instructions | elements loaded | elements stored | instructions / element |");
        output.WriteLine("|---|---|---:|---:|---:|---:|---:|");
        Report<float, float, GpuSingle, GpuFloatMath<GpuExp>, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.RowSoftmax_Layout>(context, "float", 4, output);
        Report<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.RowSoftmaxHalf_Layout>(context, "half", 2, output, WithStoredCache(AllKernels));
        Report<double, double, GpuDouble, GpuDoubleMath, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.RowSoftmaxDouble_Layout>(context, "double", 8, output);
        // The kernels that take an exp again with the approximate one (ApproximateGpuExp: ex2.approx); the backward computes none.
        Report<float, float, GpuSingle, GpuFloatMath<GpuApproximateExp<CudaExp2>>, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.RowSoftmax_Layout>(context, "float approx exp", 4, output, ForwardKernels);
        Report<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuApproximateExp<CudaExp2>>, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.RowSoftmaxHalf_Layout>(context, "half approx exp", 2, output, WithStoredCache(ForwardKernels));
        // The lanes kernels (the last axis a batch axis), with the channel layout.
        Report<float, float, GpuSingle, GpuFloatMath<GpuExp>, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.ChannelSoftmax_Layout>(context, "float", 4, output, LanesKernels);
        Report<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.ChannelSoftmaxHalf_Layout>(context, "half", 2, output, LanesKernels);
        Report<double, double, GpuDouble, GpuDoubleMath, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.ChannelSoftmaxDouble_Layout>(context, "double", 8, output, LanesKernels);
        // Slices of several runs (s1 = {1, 3}): a warp per slice in shared memory against a group per slice.
        Report<float, float, GpuSingle, GpuFloatMath<GpuExp>, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.ScatteredSoftmax_Layout>(context, "float s1 = {1, 3}", 4, output, ScatteredKernels);
        Report<ILGPU.Half, float, GpuHalf, GpuFloatMath<GpuExp>, SoftmaxGen.Generated.SoftmaxGen.GpuBenchmark.ScatteredSoftmaxHalf_Layout>(context, "half s1 = {1, 3}", 2, output, ScatteredKernels);
    }

    private static readonly string[] ScatteredKernels =
        ["ForwardSlicesWarpCached", "ForwardSlicesCached", "BackwardSlicesWarpCached", "BackwardSlicesCached"];

    /// <summary>The kernels that take an exp: the forward kernels and log-sum-exp (register rows, online rows, the element kernel).</summary>
    private static readonly string[] ForwardKernels =
        ["ForwardRowsWarp", "ForwardSlicesWarp", "ForwardRowsCached", "ForwardSlicesCached", "ForwardRowsOnline", "ForwardSlicesOnline",
         "LogSumExpRowsWarp", "LogSumExpRowsOnline", "LogSumExpSlices"];

    private static readonly string[] AllKernels =
        [.. ForwardKernels, "BackwardRowsWarp", "BackwardSlicesWarp", "BackwardRows", "BackwardSlicesCached", "BackwardSlicesGlobal"];

    /// <summary>
    /// The kernels, with the Half row kernel that keeps A as stored (rows too long for a cache of floats) after the one
    /// that keeps floats; float and double never take it.
    /// </summary>
    private static string[] WithStoredCache(string[] names) =>
        [.. names.SelectMany(name => name == "ForwardRowsCached" ? new[] { name, "ForwardRowsCachedAsStored" } : [name])];

    private static readonly string[] LanesKernels =
        ["ForwardLanesSplit", "ForwardLanesEight", "ForwardLanes", "ForwardLanesCached", "BackwardLanesEight", "BackwardLanes", "BackwardLanesCached", "LogSumExpLanesEight", "LogSumExpLanes"];

    private static void Report<TStorage, TAccumulator, TElement, TMath, TLayout>(Context context, string name, int elementBytes, TextWriter output, string[]? names = null)
        where TStorage : unmanaged
        where TAccumulator : unmanaged
        where TElement : struct, IGpuVectorElement<TStorage, TAccumulator>
        where TMath : struct, IGpuMath<TAccumulator>
        where TLayout : struct, IGpuSoftmaxLayout
    {
        names ??= AllKernels;
        var kernels = GpuLauncher<TStorage, TAccumulator, TElement, TMath, TLayout, Softmax>.Kernels;
        using var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, null);
        foreach (var kernelName in names)
        {
            var kernel = kernels.Single(candidate => candidate.Method.Name == kernelName).Method;
            // The thread-per-slice kernels take their index as a first parameter (implicitly grouped); the others a group configuration.
            var entry = kernel.GetParameters()[0].ParameterType == typeof(Index1D)
                ? EntryPointDescription.FromImplicitlyGroupedKernel(kernel)
                : EntryPointDescription.FromExplicitlyGroupedKernel(kernel);
            string ptx = ((PTXCompiledKernel)backend.Compile(entry, new KernelSpecialization())).PTXAssembly;
            int number = 0;
            foreach (var loop in InnermostLoops(Blocks(ptx)))
            {
                var (instructions, loaded, stored) = Count(loop, elementBytes);
                if (loaded + stored > 0)
                {
                    output.WriteLine($"| {name} | {kernelName} | {++number} | {instructions} | {loaded} | {stored} | {(double)instructions / (loaded + stored):F2} |");
                }
            }
        }
    }

    /// <summary>A loop's instructions and the elements its device-memory loads and stores move.</summary>
    private static (int Instructions, int Loaded, int Stored) Count(List<Block> loop, int elementBytes)
    {
        int loaded = 0, stored = 0, instructions = 0;
        foreach (var line in loop.SelectMany(block => block.Instructions))
        {
            instructions++;
            var move = Move.Match(line);
            if (move.Success)
            {
                int width = move.Groups["width"].Success ? int.Parse(move.Groups["width"].Value) : 1;
                int elements = width * int.Parse(move.Groups["bits"].Value) / 8 / elementBytes;
                if (move.Groups["op"].Value == "ld") loaded += elements; else stored += elements;
            }
        }

        return (instructions, loaded, stored);
    }

    private sealed class Block(string label)
    {
        public string Label { get; } = label;

        public List<string> Instructions { get; } = [];

        public List<string> Successors { get; } = [];
    }

    /// <summary>The entry's basic blocks: a label or an unconditional branch ends one; a block without a final branch falls through.</summary>
    private static List<Block> Blocks(string ptx)
    {
        var blocks = new List<Block>();
        var current = new Block("entry");
        bool ended = false;
        foreach (var raw in ptx.Split('\n'))
        {
            string line = raw.Trim();
            var label = Regex.Match(line, @"^([A-Za-z_$][\w$]*):$");
            if (label.Success)
            {
                if (!ended) current.Successors.Add(label.Groups[1].Value);
                blocks.Add(current);
                current = new Block(label.Groups[1].Value);
                ended = false;
                continue;
            }

            if (!line.EndsWith(';') || line.StartsWith('.') || line.StartsWith("//")) continue;
            if (ended)
            {
                blocks.Add(current); // code after an unconditional branch without a label of its own: unreachable here
                current = new Block($"after {blocks.Count}");
                ended = false;
            }

            current.Instructions.Add(line);
            var branch = Regex.Match(line, @"^(@!?%\w+\s+)?bra(\.uni)?\s+([\w$]+);");
            if (branch.Success)
            {
                current.Successors.Add(branch.Groups[3].Value);
                ended = !branch.Groups[1].Success;
            }
            else if (line.StartsWith("ret") || line.StartsWith("exit"))
            {
                ended = true;
            }
        }

        blocks.Add(current);
        return blocks;
    }

    /// <summary>The loops (strongly connected sets of blocks with a cycle) that contain no smaller loop moving device memory.</summary>
    private static IEnumerable<List<Block>> InnermostLoops(List<Block> blocks)
    {
        foreach (var component in Components(blocks))
        {
            bool cyclic = component.Count > 1 || component[0].Successors.Contains(component[0].Label);
            if (!cyclic) continue;
            // Without its header (the block entered from outside) a nest leaves its inner loops as components.
            var members = component.Select(block => block.Label).ToHashSet();
            var header = component.FirstOrDefault(block => blocks.Any(other => !members.Contains(other.Label) && other.Successors.Contains(block.Label))) ?? component[0];
            var inner = InnermostLoops(component.Where(block => block != header).ToList()).Where(loop => Count(loop, 1) is { Loaded: > 0 } or { Stored: > 0 }).ToList();
            if (inner.Count == 0)
            {
                yield return component;
            }
            else
            {
                foreach (var loop in inner) yield return loop;
            }
        }
    }

    /// <summary>Tarjan's strongly connected components of the blocks, edges to blocks outside the list ignored.</summary>
    private static List<List<Block>> Components(List<Block> blocks)
    {
        var byLabel = blocks.ToDictionary(block => block.Label);
        var index = new Dictionary<Block, int>();
        var low = new Dictionary<Block, int>();
        var stack = new Stack<Block>();
        var onStack = new HashSet<Block>();
        var components = new List<List<Block>>();
        int next = 0;

        void Visit(Block block)
        {
            index[block] = low[block] = next++;
            stack.Push(block);
            onStack.Add(block);
            foreach (var label in block.Successors)
            {
                if (!byLabel.TryGetValue(label, out var successor)) continue;
                if (!index.ContainsKey(successor))
                {
                    Visit(successor);
                    low[block] = Math.Min(low[block], low[successor]);
                }
                else if (onStack.Contains(successor))
                {
                    low[block] = Math.Min(low[block], index[successor]);
                }
            }

            if (low[block] == index[block])
            {
                var component = new List<Block>();
                Block member;
                do
                {
                    member = stack.Pop();
                    onStack.Remove(member);
                    component.Add(member);
                }
                while (member != block);
                components.Add(component);
            }
        }

        foreach (var block in blocks)
        {
            if (!index.ContainsKey(block)) Visit(block);
        }

        return components;
    }
}
