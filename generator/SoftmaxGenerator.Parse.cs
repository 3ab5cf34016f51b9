using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SoftmaxGen.Generator.Diagnostics;
using SoftmaxGen.Generator.Models;

namespace SoftmaxGen.Generator;

partial class SoftmaxGenerator
{
    /// <summary>The parse stage: an annotated class symbol becomes a <see cref="SoftmaxSpec"/> or diagnostics, never both.</summary>
    internal static partial class Parser
    {
        public const int MaxRank = 8;

        private static readonly SymbolDisplayFormat NamespaceFormat = new(
            globalNamespaceStyle: SymbolDisplayGlobalNamespaceStyle.Omitted,
            typeQualificationStyle: SymbolDisplayTypeQualificationStyle.NameAndContainingTypesAndNamespaces,
            miscellaneousOptions: SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers);

        private static readonly ParseResult Nothing = new(null, EquatableArray<DiagnosticInfo>.Empty);

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, FamilyOperation operation, CancellationToken cancellationToken)
        {
            if (context.TargetSymbol is not INamedTypeSymbol symbol
                || context.TargetNode is not ClassDeclarationSyntax declaration
                || context.Attributes.IsEmpty)
            {
                return Nothing;
            }

            var attribute = context.Attributes[0];

            // An attribute the compiler could not bind already carries the compiler's own error: adding ours would only
            // repeat it, and its arguments cannot be trusted. Every prefix of a valid attribute line ends up here.
            if (attribute.AttributeConstructor is null
                || attribute.ConstructorArguments.Length != 2
                || attribute.ConstructorArguments.Any(argument => argument.Kind == TypedConstantKind.Error)
                || attribute.NamedArguments.Any(argument => argument.Value.Kind == TypedConstantKind.Error)
                || attribute.ConstructorArguments[0].Value is not int rank
                || attribute.ConstructorArguments[1].Kind != TypedConstantKind.Array)
            {
                return Nothing;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var syntax = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken) as AttributeSyntax;
            var arguments = new AttributeArguments(syntax);
            var diagnostics = new List<DiagnosticInfo>();

            string attributeName = operation == FamilyOperation.LogSoftmax ? "LogSoftmax" : "Softmax";
            CheckType(symbol, declaration, attributeName, diagnostics);
            if (operation == FamilyOperation.LogSoftmax
                && symbol.GetAttributes().Any(other => other.AttributeClass?.ToDisplayString() == AttributeName))
            {
                // Reported once, by the [LogSoftmax] side; the [Softmax] class still generates.
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.BothAttributes, arguments.Attribute, symbol.Name, "Softmax", "LogSoftmax"));
            }

            bool rankValid = rank is >= 1 and <= MaxRank;
            if (!rankValid)
            {
                diagnostics.Add(DiagnosticInfo.Create(
                    DiagnosticDescriptors.RankOutOfRange, arguments.Rank ?? arguments.Attribute, rank.ToString()));
            }

            var axisConstants = attribute.ConstructorArguments[1].IsNull
                ? ImmutableArray<TypedConstant>.Empty
                : attribute.ConstructorArguments[1].Values;
            var axes = new List<int>(axisConstants.Length);
            var seen = new HashSet<int>();
            for (int i = 0; i < axisConstants.Length; i++)
            {
                if (axisConstants[i].Value is not int axis)
                {
                    return Nothing;
                }

                axes.Add(axis);
                var location = arguments.Axis(i, axisConstants.Length) ?? arguments.Attribute;
                if (rankValid && (axis < 0 || axis >= rank))
                {
                    diagnostics.Add(DiagnosticInfo.Create(
                        DiagnosticDescriptors.AxisOutOfRange, location, axis.ToString(), rank.ToString()));
                }
                else if (!seen.Add(axis))
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.DuplicateAxis, location, axis.ToString()));
                }
            }

            if (axes.Count == 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(
                    DiagnosticDescriptors.NoAxes, arguments.Axes ?? arguments.Attribute, symbol.Name, attributeName));
            }

            var options = rankValid ? ParseOptions(attribute, arguments, rank, seen, diagnostics) : FamilyOptions.None;
            if (options is null)
            {
                return Nothing;
            }

            if (ElementType(attribute, arguments, diagnostics) is not { } element)
            {
                return Nothing;
            }

            bool approximateExp = ApproximateGpuExp(attribute, arguments, element, diagnostics);

            if (diagnostics.Count > 0)
            {
                return new ParseResult(null, diagnostics.ToEquatableArray());
            }

            var spec = new SoftmaxSpec(operation, Hierarchy(symbol, declaration), rank, axes.ToEquatableArray(), element, options, approximateExp);
            return new ParseResult(spec, EquatableArray<DiagnosticInfo>.Empty);
        }

        /// <summary>
        /// MaskAxes, BiasAxes (SMG0008: each entry in [0, rank), none twice) and the causal axes (SMG0009: both or neither,
        /// in range, different, the query a batch axis and the key a reduced one). Null when an argument does not bind.
        /// </summary>
        private static FamilyOptions? ParseOptions(
            AttributeData attribute, AttributeArguments arguments, int rank, HashSet<int> reduced, List<DiagnosticInfo> diagnostics)
        {
            var lists = new Dictionary<string, EquatableArray<int>>();
            int? query = null, key = null;
            foreach (var named in attribute.NamedArguments)
            {
                switch (named.Key)
                {
                    case "MaskAxes" or "BiasAxes":
                        var values = named.Value.IsNull ? ImmutableArray<TypedConstant>.Empty : named.Value.Values;
                        var list = new List<int>();
                        for (int i = 0; i < values.Length; i++)
                        {
                            if (values[i].Value is not int axis)
                            {
                                return null;
                            }

                            string? reason = axis < 0 || axis >= rank ? $"is outside [0, {rank})"
                                : list.Contains(axis) ? "is listed more than once"
                                : null;
                            if (reason is not null)
                            {
                                diagnostics.Add(DiagnosticInfo.Create(
                                    DiagnosticDescriptors.OptionAxis,
                                    arguments.NamedElement(named.Key, i, values.Length) ?? arguments.Attribute,
                                    named.Key,
                                    axis.ToString(),
                                    reason));
                            }

                            list.Add(axis);
                        }

                        lists[named.Key] = list.Distinct().OrderBy(axis => axis).ToEquatableArray();
                        break;
                    case "CausalQueryAxis" when named.Value.Value is int value:
                        query = value;
                        break;
                    case "CausalKeyAxis" when named.Value.Value is int value:
                        key = value;
                        break;
                }
            }

            int causalQuery = query ?? -1, causalKey = key ?? -1;
            var (culprit, problem) = (causalQuery, causalKey) switch
            {
                (-1, -1) => (null, null),
                (-1, _) => ("CausalKeyAxis", $"CausalKeyAxis is {causalKey} but CausalQueryAxis is not set: set both, or neither"),
                (_, -1) => ("CausalQueryAxis", $"CausalQueryAxis is {causalQuery} but CausalKeyAxis is not set: set both, or neither"),
                _ when causalQuery < 0 || causalQuery >= rank => ("CausalQueryAxis", $"CausalQueryAxis {causalQuery} is outside [0, {rank})"),
                _ when causalKey < 0 || causalKey >= rank => ("CausalKeyAxis", $"CausalKeyAxis {causalKey} is outside [0, {rank})"),
                _ when causalQuery == causalKey => ("CausalKeyAxis", $"CausalQueryAxis and CausalKeyAxis are both {causalKey}: they must be different axes"),
                _ when reduced.Contains(causalQuery) => ("CausalQueryAxis", $"CausalQueryAxis {causalQuery} is a reduced axis: the query axis must be a batch axis (s2)"),
                _ when !reduced.Contains(causalKey) => ("CausalKeyAxis", $"CausalKeyAxis {causalKey} is a batch axis: the key axis must be a reduced axis (s1)"),
                _ => ((string?)null, (string?)null),
            };
            if (problem is not null)
            {
                diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.CausalAxes, arguments.Named(culprit!) ?? arguments.Attribute, problem));
            }

            return new FamilyOptions(
                lists.TryGetValue("MaskAxes", out var mask) ? mask : EquatableArray<int>.Empty,
                lists.TryGetValue("BiasAxes", out var bias) ? bias : EquatableArray<int>.Empty,
                causalQuery,
                causalKey);
        }

        /// <summary>
        /// The ElementType argument: float when absent; SMG0006 (and float) for a type SoftmaxGen does not take; null when
        /// the type does not bind (the compiler reports that).
        /// </summary>
        private static ElementKind? ElementType(AttributeData attribute, AttributeArguments arguments, List<DiagnosticInfo> diagnostics)
        {
            var element = ElementKind.Single;
            foreach (var named in attribute.NamedArguments)
            {
                if (named.Key != "ElementType")
                {
                    continue;
                }

                var type = named.Value.Value as ITypeSymbol;
                if (type is { TypeKind: TypeKind.Error })
                {
                    return null;
                }

                ElementKind? kind = type switch
                {
                    { SpecialType: SpecialType.System_Single } => ElementKind.Single,
                    { SpecialType: SpecialType.System_Double } => ElementKind.Double,
                    { Name: "Half", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } } => ElementKind.Half,
                    _ => null,
                };
                if (kind is null)
                {
                    diagnostics.Add(DiagnosticInfo.Create(
                        DiagnosticDescriptors.UnsupportedElementType,
                        arguments.Named("ElementType") ?? arguments.Attribute,
                        type?.ToDisplayString() ?? "null"));
                }
                else
                {
                    element = kind.Value;
                }
            }

            return element;
        }

        /// <summary>
        /// The ApproximateGpuExp argument: false when absent. The approximate exp exists for float arithmetic only (float
        /// and Half elements); with double elements it would change nothing, so asking for it there is SMG0012.
        /// </summary>
        private static bool ApproximateGpuExp(AttributeData attribute, AttributeArguments arguments, ElementKind element, List<DiagnosticInfo> diagnostics)
        {
            bool approximate = attribute.NamedArguments.Any(named => named.Key == "ApproximateGpuExp" && named.Value.Value is true);
            if (approximate && element == ElementKind.Double)
            {
                diagnostics.Add(DiagnosticInfo.Create(
                    DiagnosticDescriptors.ApproximateExpDouble, arguments.Named("ApproximateGpuExp") ?? arguments.Attribute));
            }

            return approximate;
        }

        /// <summary>SMG0005 and SMG0007: the class must be a non-generic static partial class, in non-generic partial types.</summary>
        private static void CheckType(INamedTypeSymbol symbol, ClassDeclarationSyntax declaration, string attributeName, List<DiagnosticInfo> diagnostics)
        {
            if (symbol.Arity > 0)
            {
                diagnostics.Add(DiagnosticInfo.Create(
                    DiagnosticDescriptors.GenericType,
                    LocationInfo.From((SyntaxNode?)declaration.TypeParameterList) ?? LocationInfo.From(declaration.Identifier),
                    symbol.Name,
                    attributeName));
            }

            if (!symbol.IsStatic || !declaration.Modifiers.Any(SyntaxKind.PartialKeyword) || symbol.IsFileLocal)
            {
                diagnostics.Add(DiagnosticInfo.Create(
                    DiagnosticDescriptors.NotStaticPartial,
                    LocationInfo.From(declaration.Identifier),
                    symbol.Name,
                    symbol.IsFileLocal ? "'static partial' and not 'file'" : "'static partial'"));
            }

            var containerSyntax = declaration.Parent as TypeDeclarationSyntax;
            for (var container = symbol.ContainingType; container is not null; container = container.ContainingType)
            {
                var location = containerSyntax is null ? null : LocationInfo.From(containerSyntax.Identifier);
                if (container.Arity > 0)
                {
                    diagnostics.Add(DiagnosticInfo.Create(DiagnosticDescriptors.GenericType, location, container.Name, attributeName));
                }

                if (containerSyntax is null || !containerSyntax.Modifiers.Any(SyntaxKind.PartialKeyword) || container.IsFileLocal)
                {
                    diagnostics.Add(DiagnosticInfo.Create(
                        DiagnosticDescriptors.NotStaticPartial,
                        location,
                        container.Name,
                        container.IsFileLocal
                            ? $"'partial' and not 'file' because it contains the [{attributeName}] class '{symbol.Name}'"
                            : $"'partial' because it contains the [{attributeName}] class '{symbol.Name}'"));
                }

                containerSyntax = containerSyntax?.Parent as TypeDeclarationSyntax;
            }
        }

        private static TypeHierarchy Hierarchy(INamedTypeSymbol symbol, ClassDeclarationSyntax declaration)
        {
            string ns = symbol.ContainingNamespace is { IsGlobalNamespace: false } containing
                ? containing.ToDisplayString(NamespaceFormat)
                : "";

            var containers = new List<ContainingType>();
            for (var parent = declaration.Parent as TypeDeclarationSyntax; parent is not null; parent = parent.Parent as TypeDeclarationSyntax)
            {
                containers.Insert(0, new ContainingType(DeclarationKeywords(parent), parent.Identifier.ToString()));
            }

            return new TypeHierarchy(ns, containers.ToEquatableArray(), declaration.Identifier.ToString());
        }

        /// <summary>The keywords that reopen a containing type: <c>static</c> where it has it, then <c>partial</c> and its kind.</summary>
        private static string DeclarationKeywords(TypeDeclarationSyntax type)
        {
            string kind = type is RecordDeclarationSyntax record && !record.ClassOrStructKeyword.IsKind(SyntaxKind.None)
                ? $"{record.Keyword.Text} {record.ClassOrStructKeyword.Text}"
                : type.Keyword.Text;
            string prefix = type.Modifiers.Any(SyntaxKind.StaticKeyword) ? "static partial " : "partial ";
            return prefix + kind;
        }

        /// <summary>Finds the syntax of each attribute argument, for diagnostics placed on the offending one.</summary>
        private readonly struct AttributeArguments
        {
            private readonly AttributeSyntax? _attribute;
            private readonly ImmutableArray<AttributeArgumentSyntax> _positional;

            public AttributeArguments(AttributeSyntax? attribute)
            {
                _attribute = attribute;
                _positional = attribute?.ArgumentList?.Arguments
                    .Where(argument => argument.NameEquals is null && argument.NameColon is null)
                    .ToImmutableArray() ?? ImmutableArray<AttributeArgumentSyntax>.Empty;
            }

            public LocationInfo? Attribute => LocationInfo.From(_attribute);

            public LocationInfo? Rank => _positional.Length > 0 ? LocationInfo.From(_positional[0]) : null;

            /// <summary>The axes as a whole: the arguments after the rank, or the attribute name when there are none.</summary>
            public LocationInfo? Axes => _positional.Length > 1
                ? LocationInfo.From(_positional[1])
                : LocationInfo.From(_attribute?.Name);

            /// <summary>Axis <paramref name="index"/> of <paramref name="count"/>: its own argument, or its element in an array argument.</summary>
            public LocationInfo? Axis(int index, int count)
            {
                if (_positional.Length == count + 1 && !IsArray(_positional[1].Expression))
                {
                    return LocationInfo.From(_positional[index + 1]);
                }

                if (_positional.Length == 2)
                {
                    SyntaxNode? element = _positional[1].Expression switch
                    {
                        ArrayCreationExpressionSyntax { Initializer.Expressions: var list } when list.Count == count => list[index],
                        ImplicitArrayCreationExpressionSyntax { Initializer.Expressions: var list } when list.Count == count => list[index],
                        CollectionExpressionSyntax { Elements: var list } when list.Count == count => list[index],
                        _ => null,
                    };
                    return LocationInfo.From(element ?? _positional[1]);
                }

                return Attribute;
            }

            /// <summary>Entry <paramref name="index"/> of <paramref name="count"/> of the array given to a named argument.</summary>
            public LocationInfo? NamedElement(string name, int index, int count)
            {
                var argument = _attribute?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text == name);
                SyntaxNode? element = argument?.Expression switch
                {
                    ArrayCreationExpressionSyntax { Initializer.Expressions: var list } when list.Count == count => list[index],
                    ImplicitArrayCreationExpressionSyntax { Initializer.Expressions: var list } when list.Count == count => list[index],
                    CollectionExpressionSyntax { Elements: var list } when list.Count == count => list[index],
                    _ => argument?.Expression,
                };
                return LocationInfo.From(element);
            }

            public LocationInfo? Named(string name)
            {
                var argument = _attribute?.ArgumentList?.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.Text == name);
                return argument is null ? null : LocationInfo.From(argument.Expression);
            }

            private static bool IsArray(ExpressionSyntax expression) =>
                expression is ArrayCreationExpressionSyntax or ImplicitArrayCreationExpressionSyntax or CollectionExpressionSyntax;
        }
    }
}
