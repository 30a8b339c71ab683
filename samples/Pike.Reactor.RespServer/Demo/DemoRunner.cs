using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using Pike.Reactor.RespServer.Server;

namespace Pike.Reactor.RespServer.Demo;

/// <summary>The <c>--demo</c> mode: a server on a free loopback port and a client on the same loop.</summary>
internal static class DemoRunner
{
    private static readonly string[][] Commands =
    [
        ["PING"],
        ["SET", "greeting", "hello from Pike.Reactor"],
        ["GET", "greeting"],
        ["INCR", "visits"],
        ["INCR", "visits"],
        ["MGET", "greeting", "visits", "missing"],
        ["EXISTS", "greeting", "missing"],
        ["DEL", "greeting"],
        ["DBSIZE"],
        ["QUIT"],
    ];

    public static int Run(RespServerHost server, TextWriter output)
    {
        IPEndPoint bound = server.Listen(new IPEndPoint(IPAddress.Loopback, 0));
        output.WriteLine($"Pike.Reactor RESP server listening on {bound.Address}:{bound.Port} (poller {server.Poller.Name})");
        var client = new DemoClient(server.Poller, Commands, output);
        client.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream);
        client.Connect(bound);

        // The loop serves both ends; it stops when the client is done (or after 10 s at worst).
        server.Poller.Loop(TimeSpan.FromSeconds(10));
        output.WriteLine(client.Finished ? "demo finished" : "demo did not finish");
        return client.Finished ? 0 : 1;
    }
}
