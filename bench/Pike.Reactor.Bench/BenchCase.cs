namespace Pike.Reactor.Bench;

/// <summary>One redis-benchmark run: its label, the test it names (-t) and its load (-c, -P, -d, -n).</summary>
internal sealed record BenchCase(string Label, string Test, int Clients, int Pipeline, int DataSize, int Requests, bool IsPing, int Threads = 1);
