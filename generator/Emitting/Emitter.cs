using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;
using Scriban;
using Scriban.Runtime;
using SoftmaxGen.Generator.Models;
using SoftmaxGen.Generator.Planning;

namespace SoftmaxGen.Generator.Emitting;

/// <summary>A generated file: its hint name and text.</summary>
internal sealed record GeneratedSource(string HintName, string Text);

/// <summary>
/// The emit stage: a plan becomes C# through the Scriban templates embedded from templates/. This class only turns
/// the plan into template values (names, expressions, loop headers); the templates hold the shape of the code.
/// </summary>
internal static partial class Emitter
{
    private const string Indent = "    ";

    /// <summary>The generator version written into <c>[GeneratedCode]</c>.</summary>
    public static readonly string Version = typeof(Emitter).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    private static readonly Lazy<Template> FileTemplate = new(() => Load("File.scriban"));
    private static readonly Lazy<Template> ClassTemplate = new(() => Load("Class.scriban"));
    private static readonly Lazy<Template> LayoutTemplate = new(() => Load("Layout.scriban"));

    public static GeneratedSource Emit(KernelPlan plan)
    {
        var spec = plan.Spec;
        var model = ClassModel(plan);
        return RenderFile(spec.Type, spec.AttributeName, (string)model["attribute"]!, model, ClassTemplate.Value, LayoutTemplate.Value);
    }

    /// <summary>
    /// The generated file of one annotated class: the class reopened in its namespace and containing types with the body
    /// <paramref name="classTemplate"/> renders, and beside it, under SoftmaxGen.Generated, what
    /// <paramref name="supportTemplate"/> renders (the layout, or the head dimension), both from <paramref name="model"/>.
    /// </summary>
    private static GeneratedSource RenderFile(TypeHierarchy type, string attributeName, string attribute, ScriptObject model, Template classTemplate, Template supportTemplate)
    {
        int outer = type.Namespace.Length > 0 ? 1 : 0;
        var containers = type.Containers.Select((container, level) => new ScriptObject
        {
            ["indent"] = Repeat(outer + level),
            ["declaration"] = container.Declaration,
            ["name"] = container.Name,
        }).ToList();

        var file = new ScriptObject
        {
            ["version"] = Version,
            ["attribute"] = attribute,
            ["full_name"] = FullName(type),
            ["namespace"] = type.Namespace,
            ["containers"] = containers,
            ["containers_closing"] = containers.AsEnumerable().Reverse().ToList(),
            ["class_body"] = IndentLines(Render(classTemplate, model).TrimEnd('\n'), outer + containers.Count),
            ["layout_namespace"] = LayoutNamespace(type),
            ["layout_body"] = IndentLines(Render(supportTemplate, model).TrimEnd('\n'), 1),
        };
        return new GeneratedSource(type.HintName(attributeName), Render(FileTemplate.Value, file));
    }

    /// <summary>The values the class template needs; every expression is decided here, from the plan.</summary>
    private static ScriptObject ClassModel(KernelPlan plan)
    {
        var spec = plan.Spec;
        var groups = plan.Groups;
        int last = plan.Inner.Index;
        var origin = plan.OriginGroups;
        var runs = plan.RunGroups;

        string Extent(AxisGroup group) => "_extent" + group.Index;
        string Product(IEnumerable<AxisGroup> factors)
        {
            var names = factors.Select(Extent).ToList();
            return names.Count == 0 ? "1" : string.Join(" * ", names);
        }

        var strides = origin.Concat(runs).OrderBy(group => group.Index).Select(group => new ScriptObject
        {
            ["index"] = group.Index,
            ["value"] = Product(groups.Where(other => other.Index > group.Index)),
        }).ToList();

        var (originLines, originReturn) = Decompose("outer", origin);
        var (locateLines, locateReturn) = Locate(plan);
        var options = spec.Options;
        string maskAxes = string.Join(", ", options.MaskAxes);
        string biasAxes = string.Join(", ", options.BiasAxes);
        var (runOffsetLines, runOffsetReturn) = Decompose("run", runs);

        var runLoops = runs.Select((group, level) => new ScriptObject
        {
            ["index"] = group.Index,
            ["indent"] = Repeat(level),
        }).ToList();
        var closing = runLoops.AsEnumerable().Reverse().ToList();

        return new ScriptObject
        {
            ["version"] = Version,
            ["class_name"] = spec.Type.Name,
            ["attribute"] = AttributeText(spec),
            ["operation"] = spec.AttributeName,
            ["operation_name"] = spec.Operation == FamilyOperation.LogSoftmax ? "log-softmax" : "softmax",
            ["forward_formula"] = spec.Operation == FamilyOperation.LogSoftmax
                ? "B = z - max z - log Σ exp(z - max z)"
                : "B = exp(z - max z) / Σ exp(z - max z)",
            ["forward_special"] = spec.Operation == FamilyOperation.LogSoftmax
                ? "A slice whose entries are all -∞ gives -∞; a NaN or +∞ gives NaN in its own slice only."
                : "A slice whose entries are all -∞ gives zeros; a NaN or +∞ gives NaN in its own slice only.",
            ["backward_formula"] = spec.Operation == FamilyOperation.LogSoftmax
                ? "dA = scale · (dB - exp(B) · Σ_{s1} dB) where B > -∞, 0 where B = -∞"
                : "dA = scale · B ∘ (dB - Σ_{s1} dB ∘ B)",
            ["jacobian_formula"] = spec.Operation == FamilyOperation.LogSoftmax
                ? "∂B_p/∂A_q = scale · (δ_pq - exp(B_q)) when elements p and q share a slice and both are above -∞, and 0 otherwise"
                : "∂B_p/∂A_q = scale · B_p (δ_pq - B_q) when elements p and q share a slice, and 0 otherwise",
            ["batch_axes_list"] = string.Join(", ", plan.BatchAxes),
            ["full_name"] = FullName(spec.Type),
            ["layout_name"] = LayoutName(spec.Type),
            ["layout_namespace"] = LayoutNamespace(spec.Type),
            ["layout"] = $"global::{LayoutNamespace(spec.Type)}.{LayoutName(spec.Type)}",
            ["element"] = ElementName(spec.Element),
            ["element_name"] = spec.Element switch { ElementKind.Single => "float", ElementKind.Double => "double", _ => "System.Half" },
            ["rank"] = spec.Rank,
            ["reduced_axes"] = SetText(plan.SortedAxes),
            ["batch_axes"] = SetText(plan.BatchAxes),
            ["groups"] = groups.Select(group => new ScriptObject
            {
                ["index"] = group.Index,
                ["kind"] = group.KindName,
                ["set"] = group.SetName,
                ["axes"] = SetText(group.Axes),
                ["extent"] = string.Join(" * ", group.Axes.Select(axis => $"shape[{axis}]")),
            }).ToList(),
            ["strides"] = strides,
            ["strategy"] = plan.LanesInner
                ? $"The last axis is a batch axis: adjacent elements belong to adjacent slices, so the kernels run the g{last} slices side by side as lanes."
                : $"The last axis is reduced: every slice is made of contiguous runs of g{last}, which the kernels vectorise.",
            ["lanes_inner"] = plan.LanesInner ? "true" : "false",
            ["block_capable"] = plan.BlockCapable ? "true" : "false",
            ["slice_count"] = Product(plan.BatchGroups),
            ["slice_length"] = Product(plan.ReducedGroups),
            ["inner"] = last,
            ["inner_batch_extent"] = plan.BatchGroups.LastOrDefault() is { } innermost ? Extent(innermost) : "1",
            ["origin_comment"] = OriginComment(plan, origin),
            ["origin_lines"] = originLines,
            ["origin_return"] = originReturn,
            ["runs_comment"] = RunsComment(plan, runs),
            ["run_count"] = Product(runs),
            ["run_offset_comment"] = runs.Count == 0
                ? "Run number -> offset from the slice origin; there is one run, at 0."
                : $"Run number -> offset from the slice origin, for threads that share a slice; walks the reduced {Groups(runs)}" + (runs.Count > 1 ? ", the last fastest." : "."),
            ["run_offset_lines"] = runOffsetLines,
            ["run_offset_return"] = runOffsetReturn,
            ["run_loops"] = runLoops,
            ["run_loops_closing"] = closing,
            ["run_indent"] = Repeat(runs.Count),
            ["run_offset"] = string.Join(" + ", new[] { "origin" }.Concat(runs.Select(group => $"i{group.Index} * _stride{group.Index}"))),
            ["has_mask"] = options.HasMask ? "true" : "false",
            ["has_bias"] = options.HasBias ? "true" : "false",
            ["has_causal"] = options.HasCausal ? "true" : "false",
            ["approximate_gpu_exp"] = spec.ApproximateGpuExp ? "true" : "false",
            ["mask_length"] = options.HasMask ? Product(plan.MaskGroups) : "0",
            ["bias_length"] = options.HasBias ? Product(plan.BiasGroups) : "0",
            ["mask_run_stride"] = plan.Inner.InMask ? "1" : "0",
            ["bias_run_stride"] = plan.Inner.InBias ? "1" : "0",
            ["causal_run"] = plan.KeyGroup == plan.Inner && options.HasCausal ? "Key" : plan.QueryGroup == plan.Inner && options.HasCausal ? "Query" : "None",
            ["causal_shift"] = options.HasCausal ? $"{Extent(plan.KeyGroup!)} - {Extent(plan.QueryGroup!)}" : "0",
            ["locate_comment"] = options.Any
                ? "Element offset -> its offsets in the mask and the bias and its causal indices; reads the groups from the last outward."
                : "Element offset -> its place for the options; there are none.",
            ["locate_lines"] = locateLines,
            ["locate_return"] = locateReturn,
            ["options_summary"] = OptionsSummary(options),
            ["logits"] = "z = scale · A" + (options.HasBias ? " + bias" : "") + (options.HasMask || options.HasCausal ? " (-∞ where excluded)" : ""),
            ["excluded_special"] = options.HasMask || options.HasCausal
                ? (spec.Operation == FamilyOperation.LogSoftmax
                    ? " An excluded element gives -∞ whatever A holds there; a slice with nothing included gives -∞ throughout."
                    : " An excluded element gives 0 whatever A holds there; a slice with nothing included gives zeros.")
                : "",
            ["has_options"] = options.Any,
            ["mask"] = options.HasMask,
            ["bias"] = options.HasBias,
            ["mask_axes"] = SetText(options.MaskAxes),
            ["bias_axes"] = SetText(options.BiasAxes),
            ["mask_param"] = options.HasMask ? ", global::System.ReadOnlySpan<bool> mask" : "",
            ["bias_param"] = options.HasBias ? $", global::System.ReadOnlySpan<{ElementName(spec.Element)}> bias" : "",
            ["gpu_mask_param"] = options.HasMask ? ", global::ILGPU.ArrayView<byte> mask" : "",
            ["gpu_bias_param"] = options.HasBias ? $", global::ILGPU.ArrayView<{ElementName(spec.Element)}> bias" : "",
            ["mask_arg"] = options.HasMask ? "mask" : "default",
            ["bias_arg"] = options.HasBias ? "bias" : "default",
            ["tensor_mask_param"] = options.HasMask ? ", in global::System.Numerics.Tensors.ReadOnlyTensorSpan<bool> mask" : "",
            ["tensor_bias_param"] = options.HasBias ? $", in global::System.Numerics.Tensors.ReadOnlyTensorSpan<{ElementName(spec.Element)}> bias" : "",
            ["mask_pass"] = options.HasMask ? ", mask" : "",
            ["bias_pass"] = options.HasBias ? ", bias" : "",
            ["mask_axes_list"] = maskAxes,
            ["bias_axes_list"] = biasAxes,
        };
    }

    /// <summary>
    /// Code that turns a linear index over <paramref name="groups"/> (row-major, the last group fastest) into an offset:
    /// one division with remainder per group but the outermost, which takes what is left.
    /// </summary>
    private static (List<string> Lines, string Return) Decompose(string variable, IReadOnlyList<AxisGroup> groups)
    {
        var lines = new List<string>();
        if (groups.Count == 0)
        {
            return (lines, "0");
        }

        var terms = new List<string>();
        for (int i = groups.Count - 1; i > 0; i--)
        {
            var group = groups[i];
            lines.Add($"{variable} = _divide{group.Index}.Divide({variable}, out int i{group.Index});");
            terms.Insert(0, $"i{group.Index} * _stride{group.Index}");
        }

        terms.Insert(0, $"{variable} * _stride{groups[0].Index}");
        return (lines, string.Join(" + ", terms));
    }

    /// <summary>
    /// The body of the layout's <c>Locate</c>: the index of every group from the last out to the outermost one an option
    /// needs (one division with remainder each), then the mask's and the bias's offsets (row-major over their groups)
    /// and the causal indices.
    /// </summary>
    private static (List<string> Lines, string Return) Locate(KernelPlan plan)
    {
        var options = plan.Spec.Options;
        var lines = new List<string>();
        if (!options.Any)
        {
            return (lines, "default");
        }

        var needed = plan.Groups.Where(group => group.Roles != AxisRoles.None).ToList();
        int outermost = needed.Min(group => group.Index);
        var groups = plan.Groups;
        lines.Add("int rest = offset;");
        for (int index = groups.Count - 1; index >= outermost; index--)
        {
            if (index == 0)
            {
                lines.Add("int i0 = rest;");
                break;
            }

            lines.Add(index > outermost
                ? $"rest = _divide{index}.Divide(rest, out int i{index});"
                : $"int i{index} = _divide{index}.Remainder(rest);");
        }

        string RowMajor(IReadOnlyList<AxisGroup> spanned)
        {
            if (spanned.Count == 0)
            {
                return "0";
            }

            string expression = "i" + spanned[0].Index;
            foreach (var group in spanned.Skip(1))
            {
                expression = $"{(expression.Contains(" ") ? "(" + expression + ")" : expression)} * _extent{group.Index} + i{group.Index}";
            }

            return expression;
        }

        string mask = RowMajor(plan.MaskGroups.ToList());
        string bias = RowMajor(plan.BiasGroups.ToList());
        string query = plan.QueryGroup is { } q ? "i" + q.Index : "0";
        string key = plan.KeyGroup is { } k ? "i" + k.Index : "0";
        return (lines, $"new global::SoftmaxGen.Runtime.ElementPlace({mask}, {bias}, {query}, {key})");
    }

    /// <summary>One sentence on the options for the class comment, or nothing.</summary>
    private static string OptionsSummary(FamilyOptions options)
    {
        var parts = new List<string>();
        if (options.HasMask)
        {
            parts.Add($"a mask over the axes {SetText(options.MaskAxes)} excludes elements");
        }

        if (options.HasBias)
        {
            parts.Add($"a bias over the axes {SetText(options.BiasAxes)} is added to the scaled logits");
        }

        if (options.HasCausal)
        {
            parts.Add($"the causal mask excludes key index k > q + (K - Q) (query axis {options.CausalQuery}, key axis {options.CausalKey})");
        }

        return parts.Count == 0 ? "" : " Options: " + string.Join("; ", parts) + ".";
    }

    private static string FullName(TypeHierarchy type) => string.Join(".", new[] { type.Namespace }
        .Concat(type.Containers.Select(container => container.Name))
        .Append(type.Name)
        .Where(part => part.Length > 0));

    /// <summary>
    /// Where the layout struct goes: the class's namespace mirrored under SoftmaxGen.Generated, named after the class
    /// and its containers, so that two classes never share one.
    /// </summary>
    private static string LayoutNamespace(TypeHierarchy type) =>
        type.Namespace.Length > 0 ? "SoftmaxGen.Generated." + type.Namespace : "SoftmaxGen.Generated";

    private static string LayoutName(TypeHierarchy type) => SupportName(type, "Layout");

    /// <summary>The name of a struct generated beside the class: its containers' names and its own, then the kind.</summary>
    private static string SupportName(TypeHierarchy type, string kind) =>
        string.Join("_", type.Containers.Select(container => container.Name.TrimStart('@')).Append(type.Name.TrimStart('@'))) + "_" + kind;

    private static string OriginComment(KernelPlan plan, IReadOnlyList<AxisGroup> origin)
    {
        string walk = origin.Count == 0
            ? (plan.LanesInner ? "the lanes are the only batch group, so it is 0" : "there is no batch axis: one slice, at 0")
            : origin.Count == 1
                ? $"walks the batch group g{origin[0].Index}"
                : "walks the batch groups " + GroupList(origin) + ", the last fastest";
        return plan.LanesInner
            ? $"Index of a row of g{plan.Inner.Index} adjacent slices -> offset of its first lane; {walk}."
            : $"Slice number -> offset of its first element; {walk}.";
    }

    private static string RunsComment(KernelPlan plan, IReadOnlyList<AxisGroup> runs)
    {
        if (plan.LanesInner)
        {
            return $"Visits the runs of a row of lanes: one per index of the reduced {Groups(runs)}; a run holds one element of each slice.";
        }

        return runs.Count == 0
            ? $"Visits the runs of a slice: just one, g{plan.Inner.Index}, contiguous."
            : $"Visits the runs of a slice: one per index of the reduced {Groups(runs)}; each run is g{plan.Inner.Index}, contiguous.";
    }

    private static string Groups(IReadOnlyList<AxisGroup> groups) => (groups.Count == 1 ? "group " : "groups ") + GroupList(groups);

    private static string GroupList(IEnumerable<AxisGroup> groups) => string.Join(", ", groups.Select(group => "g" + group.Index));

    private static string ElementName(ElementKind element) => element switch
    {
        ElementKind.Single => "float",
        ElementKind.Double => "double",
        _ => "global::System.Half",
    };

    /// <summary>The attribute as a user would write it, normalised: the file header and the class summary quote it.</summary>
    private static string AttributeText(SoftmaxSpec spec)
    {
        var text = new StringBuilder("[").Append(spec.AttributeName).Append('(').Append(spec.Rank);
        foreach (int axis in spec.Axes)
        {
            text.Append(", ").Append(axis);
        }

        if (spec.Element != ElementKind.Single)
        {
            text.Append(", ElementType = typeof(").Append(spec.Element == ElementKind.Double ? "double" : "System.Half").Append(')');
        }

        var options = spec.Options;
        if (options.HasMask)
        {
            text.Append(", MaskAxes = new[] { ").Append(string.Join(", ", options.MaskAxes)).Append(" }");
        }

        if (options.HasBias)
        {
            text.Append(", BiasAxes = new[] { ").Append(string.Join(", ", options.BiasAxes)).Append(" }");
        }

        if (options.HasCausal)
        {
            text.Append(", CausalQueryAxis = ").Append(options.CausalQuery).Append(", CausalKeyAxis = ").Append(options.CausalKey);
        }

        if (spec.ApproximateGpuExp)
        {
            text.Append(", ApproximateGpuExp = true");
        }

        return text.Append(")]").ToString();
    }

    private static string SetText(IEnumerable<int> axes)
    {
        var list = axes.ToList();
        return list.Count == 0 ? "{}" : "{" + string.Join(", ", list) + "}";
    }

    private static string Repeat(int level) => string.Concat(Enumerable.Repeat(Indent, level));

    private static string IndentLines(string text, int depth)
    {
        string prefix = Repeat(depth);
        var lines = text.Replace("\r\n", "\n").Split('\n');
        return string.Join("\n", lines.Select(line => line.Length == 0 ? line : prefix + line));
    }

    private static string Render(Template template, ScriptObject model)
    {
        var context = new TemplateContext { StrictVariables = true, NewLine = "\n" };
        context.PushGlobal(model);
        return template.Render(context);
    }

    private static Template Load(string name)
    {
        using var stream = typeof(Emitter).Assembly.GetManifestResourceStream("SoftmaxGen.Templates." + name)
            ?? throw new InvalidOperationException($"The template {name} is not embedded in the generator.");
        using var reader = new StreamReader(stream);
        var template = Template.Parse(reader.ReadToEnd(), name);
        if (template.HasErrors)
        {
            throw new InvalidOperationException($"The template {name} does not parse: {string.Join("; ", template.Messages)}");
        }

        return template;
    }
}
