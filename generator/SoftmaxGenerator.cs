using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SoftmaxGen.Generator.Emitting;
using SoftmaxGen.Generator.Models;
using SoftmaxGen.Generator.Planning;

namespace SoftmaxGen.Generator;

/// <summary>
/// Emits a softmax (or log-softmax) specialised for the layout named by <c>[Softmax(rank, axes...)]</c> (or
/// <c>[LogSoftmax(...)]</c>) into the annotated <c>static partial class</c>. The pipeline runs one way: parse (symbol → spec or diagnostics), plan (spec →
/// canonical layout and loop nest), emit (plan → C# through the Scriban templates).
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed partial class SoftmaxGenerator : IIncrementalGenerator
{
    /// <summary>The attributes' metadata names.</summary>
    public const string AttributeName = "SoftmaxGen.SoftmaxAttribute";

    /// <inheritdoc cref="AttributeName"/>
    public const string LogAttributeName = "SoftmaxGen.LogSoftmaxAttribute";

    /// <summary>Tracking names of the pipeline steps, for incrementality tests.</summary>
    public static class Steps
    {
        public const string Parse = nameof(Parse);
        public const string Diagnostics = nameof(Diagnostics);
        public const string Spec = nameof(Spec);
        public const string Plan = nameof(Plan);
        public const string Source = nameof(Source);
    }

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var softmax = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (syntaxContext, cancellationToken) => Parser.Parse(syntaxContext, FamilyOperation.Softmax, cancellationToken))
            .WithTrackingName(Steps.Parse);
        var logSoftmax = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                LogAttributeName,
                static (node, _) => node is ClassDeclarationSyntax,
                static (syntaxContext, cancellationToken) => Parser.Parse(syntaxContext, FamilyOperation.LogSoftmax, cancellationToken))
            .WithTrackingName(Steps.Parse);
        Register(context, softmax);
        Register(context, logSoftmax);
        RegisterAttention(context);
    }

    /// <summary>The rest of the pipeline, the same for both attributes: diagnostics, then spec, plan and source.</summary>
    private static void Register(IncrementalGeneratorInitializationContext context, IncrementalValuesProvider<ParseResult> parsed)
    {
        RegisterDiagnostics(context, parsed.Select(static (result, _) => result.Diagnostics));

        var specs = parsed
            .Where(static result => result.Spec is not null)
            .Select(static (result, _) => result.Spec!)
            .WithTrackingName(Steps.Spec);
        var plans = specs
            .Select(static (spec, cancellationToken) =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                return Planner.Plan(spec);
            })
            .WithTrackingName(Steps.Plan);
        var sources = plans
            .Select(static (plan, cancellationToken) =>
            {
                cancellationToken.ThrowIfCancellationRequested();
                return Emitter.Emit(plan);
            })
            .WithTrackingName(Steps.Source);
        context.RegisterSourceOutput(sources, static (production, source) => production.AddSource(source.HintName, source.Text));
    }

    /// <summary>
    /// Reports each parse's diagnostics. They travel on a branch of their own, so that a diagnostic that moves never
    /// regenerates code.
    /// </summary>
    private static void RegisterDiagnostics(IncrementalGeneratorInitializationContext context, IncrementalValuesProvider<EquatableArray<DiagnosticInfo>> parsed)
    {
        var diagnostics = parsed
            .Where(static list => list.Count > 0)
            .WithTrackingName(Steps.Diagnostics);
        context.RegisterSourceOutput(diagnostics, static (production, list) =>
        {
            foreach (var diagnostic in list)
            {
                production.ReportDiagnostic(diagnostic.ToDiagnostic());
            }
        });
    }
}
