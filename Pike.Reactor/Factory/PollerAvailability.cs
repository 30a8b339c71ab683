namespace Pike.Reactor;

/// <summary>Whether the poller called <paramref name="Name"/> can run on this host, and if not, why.</summary>
/// <param name="Name">The poller's name, as <see cref="PollerFactory.Create(string)"/> takes it.</param>
/// <param name="Available">True when <see cref="PollerFactory.Create(string)"/> would succeed.</param>
/// <param name="Reason">Why it is unavailable; null when it is available.</param>
public sealed record PollerAvailability(string Name, bool Available, string? Reason);
