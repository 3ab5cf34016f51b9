using System;
using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace SoftmaxGen.Runtime;

/// <summary>
/// Loaded kernels, per accelerator and per kernel method. Thread-safe: a kernel is compiled once even when several
/// threads ask for it at the same time. The cache of an accelerator goes when the accelerator is disposed (which
/// also disposes the kernels) or collected.
/// </summary>
internal sealed class KernelCache
{
    private static readonly ConditionalWeakTable<Accelerator, KernelCache> Caches = new();

    private readonly ConcurrentDictionary<MethodInfo, Lazy<Delegate>> _kernels = new();

    /// <summary>The number of kernels loaded for <paramref name="accelerator"/> so far (see <see cref="EngineDiagnostics"/>).</summary>
    public static int CountFor(Accelerator accelerator) => Caches.TryGetValue(accelerator, out var cache) ? cache._kernels.Count : 0;

    /// <summary>The kernel <paramref name="kernel"/> loaded on <paramref name="accelerator"/> by <paramref name="load"/>, loading it the first time.</summary>
    public static TLauncher Get<TLauncher>(Accelerator accelerator, Delegate kernel, Func<Accelerator, TLauncher> load)
        where TLauncher : Delegate
    {
        var cache = Caches.GetValue(accelerator, static owner =>
        {
            owner.Disposed += static (sender, _) => Caches.Remove((Accelerator)sender!);
            return new KernelCache();
        });
        var entry = cache._kernels.GetOrAdd(kernel.Method, _ => new Lazy<Delegate>(() => Load(accelerator, kernel.Method, load)));
        return (TLauncher)entry.Value;
    }

    private static TLauncher Load<TLauncher>(Accelerator accelerator, MethodInfo method, Func<Accelerator, TLauncher> load)
        where TLauncher : Delegate
    {
        try
        {
            return load(accelerator);
        }
        catch (Exception exception) when (exception is InternalCompilerException or NotSupportedException)
        {
            throw new InvalidOperationException(
                $"SoftmaxGen could not compile its kernel {method.Name}<{string.Join(", ", Array.ConvertAll(method.GetGenericArguments(), type => type.Name))}> " +
                $"for {accelerator.Name} ({accelerator.AcceleratorType}): {exception.GetBaseException().Message} " +
                "SoftmaxGen's kernels need no ILGPU.Algorithms; create the context with Context.CreateDefault() or Context.Create(builder => builder.Default()).",
                exception);
        }
    }
}
