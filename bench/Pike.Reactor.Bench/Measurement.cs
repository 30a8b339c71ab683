namespace Pike.Reactor.Bench;

/// <summary>One case on one server in one round, from redis-benchmark's CSV line.</summary>
internal sealed record Measurement(int Round, string Server, string Case, double RequestsPerSecond, double P50Ms, double P99Ms);
