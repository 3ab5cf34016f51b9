using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Xml.Linq;
using Xunit;

namespace SoftmaxGen.Package.Tests;

/// <summary>
/// Packs the solution once for all package tests, into a temporary folder, and writes consumer projects that use the
/// package as a user would: from a folder feed, with a NuGet package folder of their own.
/// </summary>
public sealed class PackageFixture : IDisposable
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(8);

    private static readonly TimeSpan ConsumerBuildTimeout = TimeSpan.FromMinutes(5);

    private readonly Lazy<CommandResult> pack;
    private readonly Lazy<(string Folder, CommandResult Build)> builtConsumer;

    public PackageFixture()
    {
        RepositoryRoot = FindRepositoryRoot();
        Version = XDocument.Load(Path.Combine(RepositoryRoot, "Directory.Build.props")).Descendants("Version").Single().Value;
        TempRoot = Path.Combine(Path.GetTempPath(), "softmaxgen-package-tests", Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(TempRoot);
        pack = new Lazy<CommandResult>(Pack);
        builtConsumer = new Lazy<(string, CommandResult)>(() =>
        {
            string folder = CreateConsumer("consumer");
            return (folder, Build(folder));
        });
    }

    /// <summary>The folder that holds SoftmaxGen.sln.</summary>
    public string RepositoryRoot { get; }

    /// <summary>The version every project gets from Directory.Build.props.</summary>
    public string Version { get; }

    /// <summary>This run's scratch folder; deleted at the end unless SOFTMAXGEN_KEEP_TEST_FOLDERS=1.</summary>
    public string TempRoot { get; }

    /// <summary>Where <c>dotnet pack -o</c> puts the packages: the consumers' feed.</summary>
    public string Feed => Path.Combine(TempRoot, "feed");

    /// <summary>The consumers' NUGET_PACKAGES: empty at first, so no SoftmaxGen from an earlier run can be used.</summary>
    public string ConsumerPackages => Path.Combine(TempRoot, "packages");

    /// <summary>The pack of the solution, run on first use.</summary>
    public CommandResult PackResult => pack.Value;

    /// <summary>The package file, once the pack has succeeded.</summary>
    public string PackagePath
    {
        get
        {
            Assert.True(PackResult.ExitCode == 0, PackResult.Describe());
            return Path.Combine(Feed, $"SoftmaxGen.{Version}.nupkg");
        }
    }

    /// <summary>The consumer of the templates, restored and built once (Debug), for the tests that run or rebuild it.</summary>
    public (string Folder, CommandResult Build) BuiltConsumer => builtConsumer.Value;

    /// <summary>
    /// Writes a consumer project from the templates in tests/PackageConsumer into a new folder, with a nuget.config
    /// that takes SoftmaxGen from <see cref="Feed"/> only.
    /// </summary>
    public string CreateConsumer(string name, bool withBadAttributes = false)
    {
        _ = PackagePath; // the consumer needs the package
        string templates = Path.Combine(RepositoryRoot, "tests", "PackageConsumer");
        string folder = Path.Combine(TempRoot, name);
        Directory.CreateDirectory(folder);

        File.WriteAllText(Path.Combine(folder, "Consumer.csproj"),
            File.ReadAllText(Path.Combine(templates, "Consumer.csproj.template")).Replace("{{SOFTMAXGEN_VERSION}}", Version));
        File.Copy(Path.Combine(templates, "Program.cs.template"), Path.Combine(folder, "Program.cs"));
        if (withBadAttributes)
        {
            File.Copy(Path.Combine(templates, "BadAttributes.cs.template"), Path.Combine(folder, "BadAttributes.cs"));
        }

        // MSBuild looks for these files in every folder above a project: empty ones here keep whatever may lie above
        // the temporary folder out of the consumer's build.
        foreach (string file in new[] { "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props" })
        {
            File.WriteAllText(Path.Combine(folder, file), "<Project />\n");
        }

        File.WriteAllText(Path.Combine(folder, "nuget.config"), NuGetConfig());
        return folder;
    }

    /// <summary>Runs dotnet in a consumer folder, with the consumers' own NUGET_PACKAGES.</summary>
    public CommandResult RunInConsumer(string folder, TimeSpan timeout, params string[] arguments)
        => DotNet.Run(folder, timeout, new Dictionary<string, string?>
        {
            ["NUGET_PACKAGES"] = ConsumerPackages,
            ["NUGET_FALLBACK_PACKAGES"] = null,
        }, arguments);

    /// <summary>
    /// <c>dotnet build</c> of a consumer (restoring it unless it was). No node or compiler server is kept: see <see cref="DotNet"/>.
    /// </summary>
    public CommandResult Build(string folder, params string[] extraArguments)
        => RunInConsumer(folder, ConsumerBuildTimeout,
            ["build", "Consumer.csproj", "-nodeReuse:false", "-p:UseSharedCompilation=false", "-tl:off", .. extraArguments]);

    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("SOFTMAXGEN_KEEP_TEST_FOLDERS") == "1")
        {
            return;
        }

        try
        {
            Directory.Delete(TempRoot, recursive: true);
        }
        catch (IOException)
        {
            // A file still in use: the folder is in the temporary directory, which the system cleans.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>
    /// <c>dotnet pack SoftmaxGen.sln -c Release -o feed</c>, as a release is built. --artifacts-path puts
    /// every bin/ and obj/ of that build in the temporary folder: this test runs inside a `dotnet test` of the same
    /// solution, and the pack must neither rebuild nor lock the outputs of the tests that are running (in any
    /// configuration), nor rewrite their obj/project.assets.json. No compiler server either (UseSharedCompilation):
    /// one would outlive the command, holding its output pipes open.
    /// </summary>
    private CommandResult Pack()
        => DotNet.Run(RepositoryRoot, PackTimeout, null,
            "pack", Path.Combine(RepositoryRoot, "SoftmaxGen.sln"), "-c", "Release", "-o", Feed,
            "--artifacts-path", Path.Combine(TempRoot, "artifacts"),
            "-nodeReuse:false", "-p:UseSharedCompilation=false", "-tl:off");

    /// <summary>
    /// SoftmaxGen comes only from the feed (package source mapping); every other package from this machine's NuGet
    /// package folder, read as a local source so that nothing is downloaded again, or else from nuget.org.
    /// </summary>
    private string NuGetConfig()
    {
        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        bool useMachinePackages = Directory.Exists(machinePackages);

        var sources = new XElement("packageSources",
            new XElement("clear"),
            Source("softmaxgen-under-test", Feed),
            useMachinePackages ? Source("machine-packages", machinePackages) : null,
            Source("nuget.org", "https://api.nuget.org/v3/index.json"));
        var mapping = new XElement("packageSourceMapping",
            Map("softmaxgen-under-test", "SoftmaxGen"),
            useMachinePackages ? Map("machine-packages", "*") : null,
            Map("nuget.org", "*"));
        var fallbackFolders = new XElement("fallbackPackageFolders", new XElement("clear"));
        return new XDocument(new XElement("configuration", sources, mapping, fallbackFolders)).ToString() + "\n";

        static XElement Source(string key, string value) => new("add", new XAttribute("key", key), new XAttribute("value", value));

        static XElement Map(string key, string pattern)
            => new("packageSource", new XAttribute("key", key), new XElement("package", new XAttribute("pattern", pattern)));
    }

    private static string FindRepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "SoftmaxGen.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("SoftmaxGen.sln was not found above " + AppContext.BaseDirectory);
    }
}
