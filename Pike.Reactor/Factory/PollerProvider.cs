using System.Collections.Generic;

namespace Pike.Reactor;

/// <summary>
/// The pollers of one platform assembly. <see cref="PollerFactory"/> finds each platform
/// assembly's provider at run time, so the core references none of them.
/// </summary>
public abstract class PollerProvider
{
    /// <summary>The names this provider can create, best first.</summary>
    public abstract IReadOnlyList<string> Names { get; }

    /// <summary>Whether <paramref name="name"/> can run on this host, and if not, why.</summary>
    public abstract PollerAvailability Probe(string name);

    /// <summary>Creates the poller called <paramref name="name"/>.</summary>
    /// <exception cref="PollerUnavailableException">It cannot run here; the message says why.</exception>
    public abstract BasePoller Create(string name);
}
