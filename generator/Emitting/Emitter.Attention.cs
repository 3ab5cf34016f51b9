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
        string headName = SupportName(spec.Type, "Head");
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

        return RenderFile(spec.Type, "Attention", attribute, model, AttentionTemplate.Value, AttentionHeadTemplate.Value);
    }
}
