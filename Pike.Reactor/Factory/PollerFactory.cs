using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Threading;

namespace Pike.Reactor;

/// <summary>
/// Creates pollers by name or picks the best one for this OS: epoll, poll, select on Linux;
/// kqueue, select on macOS and the BSDs; iocp, wsapoll, select on Windows. The environment
/// variable <c>PIKE_REACTOR_POLLER</c> names one instead.
/// </summary>
/// <remarks>
/// The platform assemblies (Pike.Reactor.Linux, .BSD, .Windows) are found at run time by
/// name; an application references the ones it ships. Trimming and native AOT keep their
/// providers through the <see cref="DynamicDependencyAttribute"/>s on this type.
/// </remarks>
public static class PollerFactory
{
    /// <summary>The environment variable that names the poller <see cref="Create()"/> returns.</summary>
    public const string PollerVariable = "PIKE_REACTOR_POLLER";

    private const string LinuxProvider = "Pike.Reactor.Linux.LinuxPollerProvider";
    private const string LinuxAssembly = "Pike.Reactor.Linux";
    private const string BsdProvider = "Pike.Reactor.BSD.BsdPollerProvider";
    private const string BsdAssembly = "Pike.Reactor.BSD";
    private const string WindowsProvider = "Pike.Reactor.Windows.WindowsPollerProvider";
    private const string WindowsAssembly = "Pike.Reactor.Windows";

    private static readonly string[] KnownNames = ["epoll", "poll", "kqueue", "iocp", "wsapoll", "select"];
    private static readonly Lazy<BasePoller> DefaultPoller = new(() => Create(), LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The global poller that transports created without one use (pike's module-level <c>loop</c> runs it).</summary>
    public static BasePoller Default => DefaultPoller.Value;

    /// <summary>The best poller for this OS, or the one <c>PIKE_REACTOR_POLLER</c> names.</summary>
    /// <exception cref="PollerUnavailableException">The named poller cannot run here.</exception>
    public static BasePoller Create()
    {
        string? named = Environment.GetEnvironmentVariable(PollerVariable);
        if (!string.IsNullOrWhiteSpace(named))
        {
            return Create(named.Trim());
        }

        foreach (string name in PreferenceOrder())
        {
            if (Probe(name).Available)
            {
                return Create(name);
            }
        }

        return new SelectPoller();
    }

    /// <summary>The poller called <paramref name="name"/> (see <see cref="Probe()"/> for the names).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="PollerUnavailableException">The name is unknown, or the poller cannot run here; the message says why.</exception>
    public static BasePoller Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = name.ToLowerInvariant();
        if (key == "select")
        {
            return new SelectPoller();
        }

        if (Array.IndexOf(KnownNames, key) < 0)
        {
            throw new PollerUnavailableException($"No poller is called '{name}'; the known names are {string.Join(", ", KnownNames)}.");
        }

        PollerProvider provider = FindProvider(key, out string? reason)
            ?? throw new PollerUnavailableException($"The {key} poller is unavailable: {reason}");
        return provider.Create(key);
    }

    /// <summary>Every known poller, in this OS's order of preference, with whether it can run here and why not.</summary>
    public static IReadOnlyList<PollerAvailability> Probe()
    {
        var result = new List<PollerAvailability>(KnownNames.Length);
        foreach (string name in PreferenceOrder())
        {
            result.Add(Probe(name));
        }

        foreach (string name in KnownNames)
        {
            if (!result.Exists(a => a.Name == name))
            {
                result.Add(Probe(name));
            }
        }

        return result;
    }

    private static PollerAvailability Probe(string name)
    {
        if (name == "select")
        {
            return new PollerAvailability(name, true, null);
        }

        PollerProvider? provider = FindProvider(name, out string? reason);
        return provider is null ? new PollerAvailability(name, false, reason) : provider.Probe(name);
    }

    private static string[] PreferenceOrder()
    {
        if (OperatingSystem.IsLinux())
        {
            return ["epoll", "poll", "select"];
        }

        if (OperatingSystem.IsWindows())
        {
            return ["iocp", "wsapoll", "select"];
        }

        if (OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() || OperatingSystem.IsIOS() || OperatingSystem.IsTvOS()
            || RuntimeInformation.IsOSPlatform(OSPlatform.Create("OPENBSD")) || RuntimeInformation.IsOSPlatform(OSPlatform.Create("NETBSD")))
        {
            return ["kqueue", "poll", "select"];
        }

        return ["poll", "select"];
    }

    private static PollerProvider? FindProvider(string name, out string? reason)
    {
        (string typeName, string assembly) = name switch
        {
            "epoll" or "poll" => (LinuxProvider, LinuxAssembly),
            "kqueue" => (BsdProvider, BsdAssembly),
            _ => (WindowsProvider, WindowsAssembly),
        };

        PollerProvider? provider = LoadProvider(typeName, assembly);
        reason = provider is null
            ? $"the assembly {assembly}, which holds it, is not deployed with the application (reference the {assembly} package)"
            : null;
        return provider;
    }

    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor, LinuxProvider, LinuxAssembly)]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor, BsdProvider, BsdAssembly)]
    [DynamicDependency(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor, WindowsProvider, WindowsAssembly)]
    [UnconditionalSuppressMessage("Trimming", "IL2057", Justification = "The provider types are kept by the DynamicDependency attributes above.")]
    [UnconditionalSuppressMessage("Trimming", "IL2072", Justification = "The provider types are kept by the DynamicDependency attributes above.")]
    [UnconditionalSuppressMessage("Trimming", "IL2096", Justification = "The provider types are kept by the DynamicDependency attributes above.")]
    private static PollerProvider? LoadProvider(string typeName, string assembly)
    {
        Type? type;
        try
        {
            type = Type.GetType($"{typeName}, {assembly}", throwOnError: false);
        }
        catch (Exception error) when (error is System.IO.FileLoadException or BadImageFormatException)
        {
            return null;
        }

        return type is null ? null : (PollerProvider?)Activator.CreateInstance(type);
    }
}
