using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading.Tasks;

namespace SoftmaxGen.Package.Tests;

/// <summary>What a child <c>dotnet</c> command did: its exit code and its stdout and stderr, interleaved.</summary>
public sealed record CommandResult(string Command, int ExitCode, string Output, TimeSpan Elapsed)
{
    /// <summary>The command and its output, for an assertion message.</summary>
    public string Describe() => $"`{Command}` exited with {ExitCode} after {Elapsed.TotalSeconds:F0} s. Output:\n{Output}";
}

/// <summary>Runs the .NET CLI as a user would, but bounded in time and without leftovers.</summary>
public static class DotNet
{
    /// <summary>
    /// The <c>dotnet</c> host that runs these tests (the SDK sets DOTNET_HOST_PATH for the processes it starts),
    /// so that the child uses the same SDK; otherwise the one on PATH.
    /// </summary>
    private static readonly string Host =
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } path && System.IO.File.Exists(path) ? path : "dotnet";

    /// <summary>
    /// Runs <c>dotnet <paramref name="arguments"/></c> in <paramref name="workingDirectory"/>, killing it (and what it
    /// started) after <paramref name="timeout"/>. <paramref name="environment"/> adds variables; a null value removes one.
    /// </summary>
    public static CommandResult Run(string workingDirectory, TimeSpan timeout, IReadOnlyDictionary<string, string?>? environment, params string[] arguments)
    {
        var start = new ProcessStartInfo(Host)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // This process runs under `dotnet test`, i.e. below MSBuild: variables that MSBuild sets for its own children
        // (MSBuildExtensionsPath, MSBuildSDKsPath, MSBUILD_EXE_PATH, ...) would point the child build at this SDK's
        // internals instead of letting it resolve them itself.
        foreach (string name in start.Environment.Keys.Where(name => name.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment["DOTNET_CLI_UI_LANGUAGE"] = "en";
        // No build node or MSBuild server may outlive the command: one would hold the output pipes open, and keep
        // files of the temporary folders in use.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                start.Environment.Remove(name);
            }
            else
            {
                start.Environment[name] = value;
            }
        }

        string command = "dotnet " + string.Join(" ", arguments.Select(argument => argument.Contains(' ') ? $"\"{argument}\"" : argument));
        var output = new StringBuilder();
        var stdoutClosed = new TaskCompletionSource();
        var stderrClosed = new TaskCompletionSource();
        var clock = Stopwatch.StartNew();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, line) => Append(line.Data, stdoutClosed);
        process.ErrorDataReceived += (_, line) => Append(line.Data, stderrClosed);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(30));
            lock (output)
            {
                return new CommandResult(command, -1, $"TIMED OUT after {timeout.TotalSeconds:F0} s and was killed.\n{output}", clock.Elapsed);
            }
        }

        // A process that the command left running (a compiler server, say) would keep the pipes open: the output
        // that matters is in by then, so the wait for the end of the streams is bounded.
        Task.WaitAll([stdoutClosed.Task, stderrClosed.Task], TimeSpan.FromSeconds(10));
        lock (output)
        {
            return new CommandResult(command, process.ExitCode, output.ToString(), clock.Elapsed);
        }

        void Append(string? line, TaskCompletionSource closed)
        {
            if (line is null)
            {
                closed.TrySetResult();
                return;
            }

            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }
}
