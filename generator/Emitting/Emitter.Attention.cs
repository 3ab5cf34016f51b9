using System;
using System.Linq;
using Scriban;
using Scriban.Runtime;
using SoftmaxGen.Generator.Models;

namespace SoftmaxGen.Generator.Emitting;

partial class Emitter
{
    private static readonly Lazy<Template> AttentionTemplate = new(() => Load("Attention.scriban"));
    private static readonly Lazy<Template> AttentionHeadTemplate = new(() => Load("AttentionHead.scriban"));

    /// <summary>An [Attention] class: its members, and beside it the head-dimension constant the kernels take.</summary>
    public static GeneratedSource EmitAttention(AttentionSpec spec)
    {
        int outer = spec.Type.Namespace.Length > 0 ? 1 : 0;
        var containers = spec.Type.Containers.Select((container, level) => new ScriptObject
        {
            ["indent"] = Repeat(outer + level),
            ["declaration"] = container.Declaration,
            ["name"] = container.Name,
        }).ToList();

        string headName = string.Join("_", spec.Type.Containers.Select(container => container.Name.TrimStart('@')).Append(spec.Type.Name.TrimStart('@'))) + "_Head";
        string attribute = "[Attention(" + spec.HeadDim
            + (spec.Element == ElementKind.Single ? "" : ", ElementType = typeof(" + (spec.Element == ElementKind.Double ? "double" : "System.Half") + ")")
            + (spec.Causal ? ", Causal = true" : "") + ")]";
        var model = new ScriptObject
        {
            ["version"] = Version,
            ["class_name"] = spec.Type.Name,
            ["full_name"] = FullName(spec.Type),
            ["attribute"] = attribute,
            ["head_dim"] = spec.HeadDim,
            ["head_name"] = headName,
            ["head"] = $"global::{LayoutNamespace(spec.Type)}.{headName}",
            ["element"] = ElementName(spec.Element),
            ["element_name"] = spec.Element switch { ElementKind.Single => "float", ElementKind.Double => "double", _ => "System.Half, computed in float" },
            ["causal"] = spec.Causal,
            ["causal_literal"] = spec.Causal ? "true" : "false",
        };

        var file = new ScriptObject
        {
            ["version"] = Version,
            ["attribute"] = attribute,
            ["full_name"] = FullName(spec.Type),
            ["namespace"] = spec.Type.Namespace,
            ["containers"] = containers,
            ["containers_closing"] = containers.AsEnumerable().Reverse().ToList(),
            ["class_body"] = IndentLines(Render(AttentionTemplate.Value, model).TrimEnd('\n'), outer + containers.Count),
            ["layout_namespace"] = LayoutNamespace(spec.Type),
            ["layout_body"] = IndentLines(Render(AttentionHeadTemplate.Value, model).TrimEnd('\n'), 1),
        };
        return new GeneratedSource(spec.Type.HintName("Attention"), Render(FileTemplate.Value, file));
    }
}
