using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using Xunit;

namespace SoftmaxGen.Package.Tests;

/// <summary>
/// `dotnet pack SoftmaxGen.sln -c Release -o DIR` gives one package, SoftmaxGen.&lt;version&gt;.nupkg, that a
/// user adds and that just works: the generator runs from it, the runtime works, a bad attribute gives SMG errors,
/// and a second build with no change regenerates nothing.
/// </summary>
public sealed class PackageTests : IClassFixture<PackageFixture>
{
    private const string RepositoryUrl = "https://github.com/softmaxgen/softmaxgen";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);

    /// <summary>What the consumer's [Softmax], [LogSoftmax] and [Attention] classes generate (namespace Consumer).</summary>
    private static readonly string[] GeneratedFiles =
        ["Consumer.BlockSoftmax.Softmax.g.cs", "Consumer.CausalAttention.Attention.g.cs", "Consumer.ChannelSoftmax.Softmax.g.cs", "Consumer.HalfSoftmax.Softmax.g.cs", "Consumer.LogRows.LogSoftmax.g.cs", "Consumer.Scores.Softmax.g.cs"];

    private readonly PackageFixture fixture;

    public PackageTests(PackageFixture fixture) => this.fixture = fixture;

    [Fact]
    public void PackingTheSolutionGivesExactlyOnePackage()
    {
        var pack = fixture.PackResult;
        Assert.True(pack.ExitCode == 0, pack.Describe());

        var produced = Directory.GetFiles(fixture.Feed).Select(Path.GetFileName).ToArray();
        Assert.True(produced.SequenceEqual([$"SoftmaxGen.{fixture.Version}.nupkg"]),
            $"Expected only SoftmaxGen.{fixture.Version}.nupkg in the output folder, found: {string.Join(", ", produced)}\n{pack.Describe()}");
    }

    [Fact]
    public void ThePackageHoldsTheRuntimeAndTheGeneratorWithScriban()
    {
        using var package = ZipFile.OpenRead(fixture.PackagePath);
        var entries = package.Entries.Select(entry => entry.FullName)
            .Where(name => !Regex.IsMatch(name, @"^package/services/metadata/core-properties/[^/]+\.psmdcp$"))
            .Order(StringComparer.Ordinal)
            .ToArray();

        string[] expected =
        [
            "README.md",
            "SoftmaxGen.nuspec",
            "[Content_Types].xml",
            "_rels/.rels",
            "analyzers/dotnet/cs/Scriban.Signed.dll",
            "analyzers/dotnet/cs/SoftmaxGen.Generator.dll",
            "lib/net10.0/SoftmaxGen.Runtime.dll",
            "lib/net10.0/SoftmaxGen.Runtime.xml",
        ];
        Assert.Equal(expected.Order(StringComparer.Ordinal), entries);

        // The XML docs are the runtime's, and document its public API.
        var docs = XDocument.Load(package.GetEntry("lib/net10.0/SoftmaxGen.Runtime.xml")!.Open());
        Assert.Equal("SoftmaxGen.Runtime", docs.Root!.Element("assembly")?.Element("name")?.Value);
        Assert.Contains(docs.Descendants("member"), member => (string?)member.Attribute("name") == "T:SoftmaxGen.SoftmaxAttribute");
    }

    [Fact]
    public void ThePackageDependsOnTheRuntimesPackagesAndNothingElse()
    {
        using var package = ZipFile.OpenRead(fixture.PackagePath);
        var nuspec = Nuspec(package);

        // The runtime's PackageReferences, from the file that both the runtime and the package project import.
        var declared = XDocument.Load(Path.Combine(fixture.RepositoryRoot, "runtime", "SoftmaxGen.Runtime.Dependencies.props"))
            .Descendants("PackageReference")
            .Select(reference => $"{reference.Attribute("Include")!.Value} {reference.Attribute("Version")!.Value}")
            .Order(StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(["ILGPU 1.5.3", "System.Numerics.Tensors 10.0.0"], declared);

        var group = Assert.Single(nuspec.Descendants(), element => element.Name.LocalName == "group");
        Assert.Equal("net10.0", (string?)group.Attribute("targetFramework"));
        var dependencies = group.Elements()
            .Select(dependency => $"{dependency.Attribute("id")!.Value} {dependency.Attribute("version")!.Value}")
            .Order(StringComparer.Ordinal);
        Assert.Equal(declared, dependencies);

        // Every assembly the runtime references is the framework's or comes with a declared dependency: a user who
        // installs the package has everything it loads.
        var dependencyAssemblies = new HashSet<string>(declared.Select(dependency => dependency.Split(' ')[0]));
        foreach (string reference in AssemblyReferences(package, "lib/net10.0/SoftmaxGen.Runtime.dll"))
        {
            Assert.True(IsFrameworkAssembly(reference) || dependencyAssemblies.Contains(reference),
                $"SoftmaxGen.Runtime references {reference}, which neither .NET nor a dependency of the package provides.");
        }
    }

    [Fact]
    public void TheAnalyzersAreTheGeneratorAndTheScribanItWasBuiltAgainst()
    {
        using var package = ZipFile.OpenRead(fixture.PackagePath);
        Assert.Equal("SoftmaxGen.Generator", AssemblyName(package, "analyzers/dotnet/cs/SoftmaxGen.Generator.dll").Name);
        var scriban = AssemblyName(package, "analyzers/dotnet/cs/Scriban.Signed.dll");
        Assert.Equal("Scriban.Signed", scriban.Name);

        // The compiler loads the generator with what it provides itself (netstandard, System.*, Roslyn) and what lies
        // beside it: Scriban, of exactly the version the generator was compiled against.
        var references = AssemblyReferenceNames(package, "analyzers/dotnet/cs/SoftmaxGen.Generator.dll");
        var scribanReference = Assert.Single(references, reference => reference.Name == "Scriban.Signed");
        Assert.Equal(scriban.Version, scribanReference.Version);
        foreach (var reference in references.Where(reference => reference.Name != "Scriban.Signed"))
        {
            Assert.True(reference.Name is "netstandard" || reference.Name!.StartsWith("System.") || reference.Name.StartsWith("Microsoft.CodeAnalysis"),
                $"The generator references {reference.Name}, which the compiler does not provide and the package does not hold.");
        }

        foreach (string reference in AssemblyReferences(package, "analyzers/dotnet/cs/Scriban.Signed.dll"))
        {
            Assert.True(reference is "netstandard" || reference.StartsWith("System.") || reference.StartsWith("Microsoft."),
                $"Scriban.Signed references {reference}, which the package does not hold.");
        }
    }

    [Fact]
    public void TheMetadataIsWhatAUserExpects()
    {
        using var package = ZipFile.OpenRead(fixture.PackagePath);
        var metadata = Nuspec(package).Root!.Elements().Single(element => element.Name.LocalName == "metadata");
        string? Value(string name) => metadata.Elements().SingleOrDefault(element => element.Name.LocalName == name)?.Value;

        Assert.Equal("SoftmaxGen", Value("id"));
        Assert.Equal(fixture.Version, Value("version"));
        Assert.Contains("softmax", Value("description"));
        Assert.Contains("source generator", Value("description"));
        Assert.Subset(new HashSet<string>(Value("tags")!.Split(' ')), new HashSet<string> { "softmax", "source-generator", "roslyn" });

        var license = metadata.Elements().Single(element => element.Name.LocalName == "license");
        Assert.Equal("expression", (string?)license.Attribute("type"));
        Assert.Matches(@"^[A-Za-z0-9.\-]+$", license.Value);

        Assert.Equal("README.md", Value("readme"));
        string readme = new StreamReader(package.GetEntry("README.md")!.Open()).ReadToEnd();
        Assert.Contains("EmitCompilerGeneratedFiles", readme);
        Assert.Contains("diagnostics.md", readme);

        var repository = metadata.Elements().Single(element => element.Name.LocalName == "repository");
        Assert.Equal(RepositoryUrl, (string?)repository.Attribute("url"));
        Assert.Equal("git", (string?)repository.Attribute("type"));
        Assert.Equal(RepositoryUrl, Value("projectUrl"));

        // The SMG help links point into the same repository, at docs/diagnostics.md.
        string descriptors = File.ReadAllText(Path.Combine(fixture.RepositoryRoot, "generator", "Diagnostics", "DiagnosticDescriptors.cs"));
        Assert.Contains($"\"{RepositoryUrl}/blob/main/docs/diagnostics.md#\"", descriptors);
    }

    [Fact]
    public void AConsumerThatReferencesOnlyThePackageBuildsAndRuns()
    {
        var (folder, build) = fixture.BuiltConsumer;
        Assert.True(build.ExitCode == 0, build.Describe());

        // The package came from this run's feed, not from a cache: NuGet extracted it into the consumers' own folder
        // and recorded the hash of the file it extracted.
        string extracted = Path.Combine(fixture.ConsumerPackages, "softmaxgen", fixture.Version);
        string hashFile = Path.Combine(extracted, $"softmaxgen.{fixture.Version}.nupkg.sha512");
        Assert.True(File.Exists(hashFile), $"SoftmaxGen was not restored into {fixture.ConsumerPackages}.\n{build.Describe()}");
        using (var stream = File.OpenRead(fixture.PackagePath))
        {
            Assert.Equal(Convert.ToBase64String(SHA512.HashData(stream)), File.ReadAllText(hashFile).Trim());
        }

        // The generator ran from the package: the consumer has no other source of it.
        string generated = GeneratedFolder(folder);
        Assert.True(Directory.Exists(generated), $"No generated files in {generated}.\n{build.Describe()}");
        Assert.Equal(GeneratedFiles, Directory.GetFiles(generated).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // The runtime works: the program checks the generated members against each other (see Program.cs.template).
        var run = fixture.RunInConsumer(folder, RunTimeout, "run", "--no-build");
        Assert.True(run.ExitCode == 0, run.Describe());
        Assert.Contains($"runtime: SoftmaxGen.Runtime {fixture.Version}", run.Output);
        Assert.Matches(@"(?m)^block: slices 6, .*, ok$", run.Output);
        Assert.Matches(@"(?m)^channel: slices 42, .*, ok$", run.Output);
        Assert.Matches(@"(?m)^half: slices 4, .*, ok$", run.Output);
        Assert.Matches(@"(?m)^log: slices 12, .*, ok$", run.Output);
        Assert.Matches(@"(?m)^options: .*tensor spans equal: True, .*, ok$", run.Output);
        Assert.Matches(@"(?m)^attention: .*, ok$", run.Output);
        Assert.Matches(@"(?m)^ilgpu cpu accelerator: .*, ok$", run.Output);
        Assert.Contains("consumer check: passed", run.Output);
    }

    [Fact]
    public void ASecondBuildWithoutChangesRegeneratesNothing()
    {
        var (folder, build) = fixture.BuiltConsumer;
        Assert.True(build.ExitCode == 0, build.Describe());
        var outputs = Directory.GetFiles(GeneratedFolder(folder))
            .Append(Path.Combine(folder, "obj", "Debug", "net10.0", "Consumer.dll"))
            .ToDictionary(path => path, File.GetLastWriteTimeUtc);

        // Normal verbosity, so that MSBuild says which targets it skipped.
        var again = fixture.Build(folder, "--no-restore", "-v:n");
        Assert.True(again.ExitCode == 0, again.Describe());
        Assert.True(again.Output.Contains("Skipping target \"CoreCompile\" because all output files are up-to-date"),
            "The compiler ran again, and with it the generator.\n" + again.Describe());
        foreach (var (path, written) in outputs)
        {
            Assert.True(File.GetLastWriteTimeUtc(path) == written, $"{path} was written again.\n{again.Describe()}");
        }
    }

    [Fact]
    public void ABadAttributeInTheConsumerGivesSmgErrorsAndNothingElse()
    {
        string folder = fixture.CreateConsumer("consumer-with-bad-attributes", withBadAttributes: true);
        var build = fixture.Build(folder);
        Assert.True(build.ExitCode != 0, "The build succeeded despite BadAttributes.cs.\n" + build.Describe());

        // Each error on its line of BadAttributes.cs, with its help link; MSBuild prints each twice (as it happens
        // and in the summary).
        var errors = Regex.Matches(build.Output, @"(?m)^(?<file>[^\s(]+)\((?<line>\d+),\d+\): error (?<id>\w+): .*$")
            .Select(match => $"{Path.GetFileName(match.Groups["file"].Value)}:{match.Groups["line"].Value} {match.Groups["id"].Value}")
            .Distinct()
            .Order(StringComparer.Ordinal);
        Assert.True(errors.SequenceEqual(["BadAttributes.cs:11 SMG0005", "BadAttributes.cs:7 SMG0002"]),
            $"Expected SMG0002 on line 7 and SMG0005 on line 11 of BadAttributes.cs, got: {string.Join(", ", errors)}\n{build.Describe()}");
        foreach (string id in new[] { "smg0002", "smg0005" })
        {
            Assert.Contains($"({RepositoryUrl}/blob/main/docs/diagnostics.md#{id})", build.Output);
        }

        // The generator neither failed (CS8785) nor crashed (AD0001) nor failed to load (CS8032).
        foreach (string id in new[] { "CS8785", "AD0001", "CS8032" })
        {
            Assert.False(build.Output.Contains(id), $"{id} in the build output.\n{build.Describe()}");
        }
    }

    private static string GeneratedFolder(string consumer)
        => Path.Combine(consumer, "obj", "Debug", "net10.0", "generated", "SoftmaxGen.Generator", "SoftmaxGen.Generator.SoftmaxGenerator");

    private static XDocument Nuspec(ZipArchive package) => XDocument.Load(package.GetEntry("SoftmaxGen.nuspec")!.Open());

    /// <summary>An assembly of the shared framework that runs these tests (Microsoft.NETCore.App, the same .NET as net10.0).</summary>
    private static bool IsFrameworkAssembly(string name)
        => File.Exists(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), name + ".dll"));

    private static System.Reflection.AssemblyName AssemblyName(ZipArchive package, string entry)
        => ReadMetadata(package, entry, reader => reader.GetAssemblyDefinition().GetAssemblyName());

    private static List<string> AssemblyReferences(ZipArchive package, string entry)
        => AssemblyReferenceNames(package, entry).Select(name => name.Name!).ToList();

    private static List<System.Reflection.AssemblyName> AssemblyReferenceNames(ZipArchive package, string entry)
        => ReadMetadata(package, entry, reader => reader.AssemblyReferences
            .Select(handle => reader.GetAssemblyReference(handle).GetAssemblyName())
            .ToList());

    private static T ReadMetadata<T>(ZipArchive package, string entry, Func<MetadataReader, T> read)
    {
        using var buffer = new MemoryStream();
        using (var stream = package.GetEntry(entry)!.Open())
        {
            stream.CopyTo(buffer);
        }

        buffer.Position = 0;
        using var pe = new PEReader(buffer);
        return read(pe.GetMetadataReader());
    }
}
