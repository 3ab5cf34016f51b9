using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Threading;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace SoftmaxGen.Tests;

/// <summary>
/// Runs this assembly's tests without an SDK, for the GPU machine: <c>dotnet test</c> needs the SDK, which that
/// machine lacks, so the test project is published self-contained (see tests/device/README.md) and run as a program.
/// It drives xUnit's own engine (discovery, class fixtures, theories, skips, collections), only reporting is ours.
/// <c>dotnet test</c> never calls this entry point.
/// </summary>
public static class DeviceRunner
{
    private const string Usage = """
        usage: SoftmaxGen.Tests [--class TEXT]... [--list]

          --class  runs the test classes whose full name contains TEXT (any of them; default: every class)
          --list   prints the selected tests instead of running them

        Prints each failure (with its messages and stack traces) and each skip, then "N passed, M failed, K skipped";
        a failure outside a test (a fixture's cleanup, say) counts as one. Exits 1 on any failure, 2 when nothing was
        selected or an option is wrong.
        """;

    public static int Main(string[] args) => Run(args, Console.Out);

    /// <summary><see cref="Main"/>, writing to <paramref name="output"/>.</summary>
    public static int Run(string[] args, TextWriter output)
    {
        var classes = new List<string>();
        bool list = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--class" when i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal):
                    classes.Add(args[++i]);
                    break;
                case "--class":
                    output.WriteLine($"error: --class needs a value\n\n{Usage}");
                    return 2;
                case "--list":
                    list = true;
                    break;
                default:
                    output.WriteLine(args[i] is "--help" or "-h" ? Usage : $"error: unknown option {args[i]}\n\n{Usage}");
                    return args[i] is "--help" or "-h" ? 0 : 2;
            }
        }

        var assembly = typeof(DeviceRunner).Assembly;
        using var framework = new XunitTestFramework(new Sink(_ => { }));
        var testCases = Discover(framework, assembly)
            .Where(testCase => classes.Count == 0 || classes.Any(text => testCase.TestMethod.TestClass.Class.Name.Contains(text, StringComparison.Ordinal)))
            .ToList();
        if (testCases.Count == 0)
        {
            output.WriteLine("error: no test matches the --class filters");
            return 2;
        }

        if (list)
        {
            testCases.ForEach(testCase => output.WriteLine(testCase.DisplayName));
            return 0;
        }

        return Execute(framework, assembly, testCases, output);
    }

    private static List<ITestCase> Discover(XunitTestFramework framework, Assembly assembly)
    {
        var found = new ConcurrentQueue<ITestCase>();
        using var done = new ManualResetEventSlim();
        var sink = new Sink(message =>
        {
            if (message is ITestCaseDiscoveryMessage discovered)
            {
                found.Enqueue(discovered.TestCase);
            }
            else if (message is IDiscoveryCompleteMessage)
            {
                done.Set();
            }
        });

        using var discoverer = framework.GetDiscoverer(Reflector.Wrap(assembly));
        // Theories are expanded into one test case per data row, as dotnet test reports them.
        discoverer.Find(includeSourceInformation: false, sink, new Options { ["xunit.discovery.PreEnumerateTheories"] = true });
        done.Wait();
        return found.ToList();
    }

    private static int Execute(XunitTestFramework framework, Assembly assembly, List<ITestCase> testCases, TextWriter output)
    {
        var gate = new object();
        void Report(string text)
        {
            lock (gate)
            {
                output.WriteLine(text);
            }
        }

        int passed = 0, failed = 0, skipped = 0;
        using var done = new ManualResetEventSlim();
        var clock = Stopwatch.StartNew();
        var sink = new Sink(message =>
        {
            switch (message)
            {
                case ITestPassed:
                    Interlocked.Increment(ref passed);
                    break;
                case ITestFailed failure:
                    Interlocked.Increment(ref failed);
                    Report($"FAIL {failure.Test.DisplayName}\n  {string.Join("\n  ", failure.Messages)}\n{string.Join("\n", failure.StackTraces)}");
                    break;
                case ITestSkipped skip:
                    Interlocked.Increment(ref skipped);
                    Report($"SKIP {skip.Test.DisplayName}: {skip.Reason}");
                    break;
                case IFailureInformation error:
                    // A failure outside any test (an error message, or the cleanup of a test, class, collection or
                    // fixture, e.g. an accelerator that fails as it is disposed): counted, so that it cannot pass silently.
                    Interlocked.Increment(ref failed);
                    Report($"ERROR ({message.GetType().Name}) {string.Join("\n  ", error.Messages)}\n{string.Join("\n", error.StackTraces)}");
                    break;
                case ITestAssemblyFinished:
                    done.Set();
                    break;
            }
        });

        using var executor = framework.GetExecutor(assembly.GetName());
        executor.RunTests(testCases, sink, new Options());
        done.Wait();
        output.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped ({clock.Elapsed.TotalSeconds:F1} s)");
        return failed == 0 ? 0 : 1;
    }

    private sealed class Sink(Action<IMessageSinkMessage> handle) : Xunit.LongLivedMarshalByRefObject, IMessageSink
    {
        public bool OnMessage(IMessageSinkMessage message)
        {
            handle(message);
            return true;
        }
    }

    /// <summary>Discovery and execution options: xUnit's defaults for every setting left unset.</summary>
    private sealed class Options : Dictionary<string, object>, ITestFrameworkDiscoveryOptions, ITestFrameworkExecutionOptions
    {
        public TValue GetValue<TValue>(string name) => TryGetValue(name, out var value) ? (TValue)value : default!;

        public void SetValue<TValue>(string name, TValue value) => this[name] = value!;
    }
}
