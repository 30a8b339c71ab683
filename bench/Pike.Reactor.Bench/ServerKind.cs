namespace Pike.Reactor.Bench;

/// <summary>One server under test: its label in the table and how to start it on a port.</summary>
internal sealed record ServerKind(string Label, string FileName, string[] Arguments);
