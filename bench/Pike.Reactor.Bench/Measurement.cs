namespace Pike.Reactor.Bench;

/// <summary>One case on one server in one round: redis-benchmark's CSV line, and the CPU the server process used per request.</summary>
internal sealed record Measurement(int Round, string Server, string Case, double RequestsPerSecond, double P50Ms, double P99Ms, double CpuMicrosPerRequest);
