using System;
using System.Linq;
using System.Net;
using Pike.Reactor;
using Pike.Reactor.Samples.Echo;

// An echo server and a client on one Pike.Reactor loop, on loopback: the client sends a few
// lines, the server sends each back, and the loop ends once both sides have closed.
string? pollerName = args.SkipWhile(a => a != "--poller").Skip(1).FirstOrDefault();
using BasePoller poller = pollerName is null ? PollerFactory.Create() : PollerFactory.Create(pollerName);
Console.WriteLine($"poller: {poller.Name} (available here: {string.Join(", ", PollerFactory.Probe().Where(p => p.Available).Select(p => p.Name))})");

var server = new EchoServer(poller);
server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
Console.WriteLine($"server: listening on {server.LocalEndPoint}");

string[] lines = ["hello, reactor", "one thread, no thread pool", "goodbye"];
var client = new EchoClient(poller, server.LocalEndPoint!, lines);

// Stop once the server side has seen the client go; the timeout only guards against a hang.
server.ConnectionClosed = poller.Stop;
poller.Loop(TimeSpan.FromSeconds(10), null);
bool ok = client.Echoed == lines.Length;
server.Close();
Console.WriteLine(ok ? $"done: {client.Echoed} lines echoed" : $"failed: {client.Echoed} of {lines.Length} lines echoed");
return ok ? 0 : 1;
