using System;
using System.Collections.Generic;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Threading;

namespace Pike.Reactor;

/// <summary>
/// Creates pollers by name or picks the best one for this OS: epoll, poll, select on Linux
/// (io_uring only by name);
/// kqueue, select on macOS and the BSDs; iocp, wsapoll, select on Windows; select elsewhere.
/// The environment variable <c>PIKE_REACTOR_POLLER</c> names one instead.
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

    /// <summary>
    /// Every poller the factory knows, in order of preference within each OS family: its name,
    /// the assembly and provider type that make it, and the OS family it runs on. select (in
    /// this assembly) runs everywhere and comes last.
    /// </summary>
    private static readonly PollerEntry[] Registry =
    [
        new("epoll", LinuxAssembly, LinuxProvider, OsFamily.Linux),
        new("poll", LinuxAssembly, LinuxProvider, OsFamily.Linux),
        new("io_uring", LinuxAssembly, LinuxProvider, OsFamily.Linux, ByNameOnly: true),
        new("kqueue", BsdAssembly, BsdProvider, OsFamily.Bsd),
        new("iocp", WindowsAssembly, WindowsProvider, OsFamily.Windows),
        new("wsapoll", WindowsAssembly, WindowsProvider, OsFamily.Windows),
        new("select", null, null, OsFamily.Any),
    ];

    private static readonly Lazy<BasePoller> DefaultPoller = new(() => Create(), LazyThreadSafetyMode.ExecutionAndPublication);

    private enum OsFamily
    {
        Any,
        Linux,
        Bsd,
        Windows,
    }

    private static int _fallbackReported;

    /// <summary>
    /// Raised once per process, the first time <see cref="Create()"/> gives a poller other than
    /// this OS's first choice: on Linux without the Pike.Reactor.Linux assembly, for example, it
    /// gives select, which scans every socket on every wait. The arguments name the poller and
    /// why each better one was not used. Nothing is written anywhere by default; an application
    /// that wants to know subscribes (before its first transport or <see cref="Create()"/>) and
    /// logs it. The sender is null. Not raised when <c>PIKE_REACTOR_POLLER</c> names the poller.
    /// </summary>
    public static event EventHandler<PollerFallbackEventArgs>? Fallback;

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

        return CreateBest(static _ => true, ReportFallback);
    }

    /// <summary>
    /// The first poller of this OS's order that constructs (each candidate is constructed once);
    /// when it is not the first choice, <paramref name="report"/> hears which and why.
    /// <paramref name="isDeployed"/> says whether a platform assembly is there (the tests leave one out).
    /// </summary>
    internal static BasePoller CreateBest(Func<string, bool> isDeployed, Action<PollerFallbackEventArgs> report)
    {
        List<PollerAvailability>? skipped = null;
        BasePoller? chosen = null;
        foreach (PollerEntry entry in Registry)
        {
            if (entry.Family == OsFamily.Any || entry.Family != HostFamily || entry.ByNameOnly)
            {
                continue; // io_uring is not in the default order: it is taken only by name (docs/io_uring.md)
            }

            string? reason;
            if (!isDeployed(entry.Assembly!))
            {
                reason = MissingAssembly(entry);
            }
            else if (TryCreate(entry, out reason) is { } poller)
            {
                chosen = poller;
                break;
            }

            (skipped ??= []).Add(new PollerAvailability(entry.Name, false, reason));
        }

        chosen ??= new SelectPoller();
        if (skipped is not null)
        {
            report(new PollerFallbackEventArgs(chosen.Name, skipped));
        }

        return chosen;
    }

    /// <summary>Raises <see cref="Fallback"/>, the first time only.</summary>
    internal static void ReportFallback(PollerFallbackEventArgs notice)
    {
        if (Interlocked.Exchange(ref _fallbackReported, 1) == 0)
        {
            Fallback?.Invoke(null, notice);
        }
    }

    /// <summary>Lets the next fallback be reported again (tests).</summary>
    internal static void ResetFallbackReport() => Interlocked.Exchange(ref _fallbackReported, 0);

    /// <summary>The poller called <paramref name="name"/> (see <see cref="Probe()"/> for the names).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is null.</exception>
    /// <exception cref="PollerUnavailableException">The name is unknown, or the poller cannot run here; the message says why.</exception>
    public static BasePoller Create(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        PollerEntry entry = Find(name)
            ?? throw new PollerUnavailableException($"No poller is called '{name}'; the known names are {string.Join(", ", Array.ConvertAll(Registry, e => e.Name))}.");
        if (entry.Assembly is null)
        {
            return new SelectPoller();
        }

        PollerProvider provider = LoadProvider(entry, out string? reason)
            ?? throw new PollerUnavailableException($"The {entry.Name} poller is unavailable: {reason}");
        try
        {
            return provider.Create(entry.Name);
        }
        catch (Exception error) when (error is NativeCallException or DllNotFoundException or EntryPointNotFoundException)
        {
            throw new PollerUnavailableException($"The {entry.Name} poller is unavailable: {error.Message}", error);
        }
    }

    /// <summary>Every known poller, in this OS's order of preference (the others after), with whether it can run here and why not.</summary>
    public static IReadOnlyList<PollerAvailability> Probe()
    {
        var result = new List<PollerAvailability>(Registry.Length);
        foreach (PollerEntry entry in Registry)
        {
            if (entry.Family == HostFamily && entry.Family != OsFamily.Any)
            {
                result.Add(Probe(entry));
            }
        }

        result.Add(Probe(Registry[^1]));
        foreach (PollerEntry entry in Registry)
        {
            if (entry.Family != HostFamily && entry.Family != OsFamily.Any)
            {
                result.Add(Probe(entry));
            }
        }

        return result;
    }

    private static OsFamily HostFamily =>
        OperatingSystem.IsLinux() ? OsFamily.Linux
        : OperatingSystem.IsWindows() ? OsFamily.Windows
        : OperatingSystem.IsMacOS() || OperatingSystem.IsFreeBSD() || OperatingSystem.IsIOS() || OperatingSystem.IsTvOS()
            || RuntimeInformation.IsOSPlatform(OSPlatform.Create("OPENBSD")) || RuntimeInformation.IsOSPlatform(OSPlatform.Create("NETBSD")) ? OsFamily.Bsd
        : OsFamily.Any;

    private static PollerEntry? Find(string name)
    {
        foreach (PollerEntry entry in Registry)
        {
            if (string.Equals(entry.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return entry;
            }
        }

        return null;
    }

    private static BasePoller? TryCreate(PollerEntry entry, out string? reason)
    {
        try
        {
            return LoadProvider(entry, out reason)?.Create(entry.Name);
        }
        catch (Exception error) when (error is PollerUnavailableException or NativeCallException or DllNotFoundException or EntryPointNotFoundException)
        {
            reason = error.Message;
            return null; // the next in the order
        }
    }

    private static PollerAvailability Probe(PollerEntry entry)
    {
        if (entry.Assembly is null)
        {
            return new PollerAvailability(entry.Name, true, null);
        }

        PollerProvider? provider = LoadProvider(entry, out string? reason);
        return provider is null ? new PollerAvailability(entry.Name, false, reason) : provider.Probe(entry.Name);
    }

    private static PollerProvider? LoadProvider(PollerEntry entry, out string? reason)
    {
        PollerProvider? provider = LoadProvider(entry.Provider!, entry.Assembly!);
        reason = provider is null ? MissingAssembly(entry) : null;
        return provider;
    }

    private static string MissingAssembly(PollerEntry entry) =>
        $"the assembly {entry.Assembly}, which holds it, is not deployed with the application (the Pike.Reactor package carries it)";

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

    private sealed record PollerEntry(string Name, string? Assembly, string? Provider, OsFamily Family, bool ByNameOnly = false);
}
