using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SoftmaxGen.Generator.Diagnostics;
using SoftmaxGen.Generator.Emitting;
using SoftmaxGen.Generator.Models;

namespace SoftmaxGen.Generator;

partial class SoftmaxGenerator
{
    /// <summary>The attention attribute's metadata name.</summary>
    public const string AttentionAttributeName = "SoftmaxGen.AttentionAttribute";

    /// <summary>[Attention] classes: parse, then emit; the head dimension needs no planning.</summary>
    private static void RegisterAttention(IncrementalGeneratorInitializationContext context)
    {
        var parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttentionAttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (syntaxContext, cancellationToken) => Parser.ParseAttention(syntaxContext, cancellationToken))
            .WithTrackingName(Steps.Parse);
        RegisterDiagnostics(context, parsed.Select(static (result, _) => result.Diagnostics));

        var sources = parsed
            .Where(static result => result.Spec is not null)
            .Select(static (result, cancellationToken) =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                return Emitter.EmitAttention(result.Spec!);
            })
            .WithTrackingName(Steps.Source);
        context.RegisterSourceOutput(sources, static (production, source) => production.AddSource(source.HintName, source.Text));
    }

    partial class Parser
    {
        public const int MaxHeadDim = 256;

        /// <summary>
        /// An [Attention] class becomes an <see cref="AttentionSpec"/> or diagnostics: the class rules (SMG0005, SMG0007),
        /// the head dimension (SMG0011), the element type (SMG0006), and no [Softmax] or [LogSoftmax] beside it (SMG0010).
        /// </summary>
        public static AttentionParseResult ParseAttention(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var nothing = new AttentionParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
            if (context.TargetSymbol is not INamedTypeSymbol symbol
                || context.TargetNode is not ClassDeclarationSyntax declaration
                || context.Attributes.IsEmpty)
            {
                return nothing;
            }

            var attribute = context.Attributes[0];
            if (attribute.AttributeConstructor is null
                || attribute.ConstructorArguments.Length != 1
                || attribute.ConstructorArguments[0].Value is not int headDim
                || attribute.NamedArguments.Any(argument => argument.Value.Kind == TypedConstantKind.Error))
            {
                return nothing; // the compiler reports an attribute it cannot bind
            }

            cancellationToken.ThrowIfCancellationRequested();
            var arguments = new AttributeArguments(attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax);
            var diagnostics = new List<DiagnosticInfo>();
            CheckType(symbol, declaration, "Attention", diagnostics);
            foreach (var other in symbol.GetAttributes())
            {
                string? name = other.AttributeClass?.ToDisplayString();
                if (name is AttributeName or LogAttributeName)
                {
                    diagnostics.Add(DiagnosticInfo.Create(
                        DiagnosticDescriptors.BothAttributes, arguments.Attribute, symbol.Name, name == AttributeName ? "Softmax" : "LogSoftmax", "Attention"));
                }
            }

            if (headDim is < 1 or > MaxHeadDim)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.HeadDimOutOfRange, arguments.Rank ?? arguments.Attribute, headDim.ToString()));
            }

            if (ElementType(attribute, arguments, diagnostics) is not { } element)
            {
                return nothing;
            }

            bool causal = attribute.NamedArguments.Any(named => named.Key == "Causal" && named.Value.Value is true);
            return diagnostics.Count > 0
                ? new AttentionParseResult(null, diagnostics.ToEquatableArray())
                : new AttentionParseResult(new AttentionSpec(Hierarchy(symbol, declaration), headDim, element, causal), EquatableArray<DiagnosticInfo>.Empty);
        }
    }
}
