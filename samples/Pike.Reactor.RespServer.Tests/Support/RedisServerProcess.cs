using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading;

namespace Pike.Reactor.RespServer.Tests.Support;

/// <summary>A real redis-server on a free loopback port, persistence off, for the differential tests.</summary>
public sealed class RedisServerProcess : IDisposable
{
    private readonly Process _process;

    /// <summary>Starts redis-server with <paramref name="extraArgs"/>; under <c>prlimit --nofile=N:N</c> when <paramref name="descriptorLimit"/> is given.</summary>
    public RedisServerProcess(int? descriptorLimit = null, params string[] extraArgs)
    {
        Port = FreePort();
        var start = new ProcessStartInfo(descriptorLimit is null ? "redis-server" : "prlimit")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (descriptorLimit is { } limit)
        {
            start.ArgumentList.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"--nofile={limit}:{limit}"));
            start.ArgumentList.Add("redis-server");
        }

        foreach (string arg in new[] { "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no" })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (string arg in extraArgs)
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start redis-server");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        long deadline = Environment.TickCount64 + 20_000;
        while (true)
        {
            try
            {
                using var client = new RawClient(Port);
                if (client.Call("PING") == "+PONG\r\n")
                {
                    break;
                }
            }
            catch (SocketException) when (Environment.TickCount64 < deadline && !_process.HasExited)
            {
                Thread.Sleep(50);
            }
        }
    }

    public int Port { get; }

    /// <summary>The server's process id (prlimit execs it, so the id is the same).</summary>
    public int ProcessId => _process.Id;

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }

    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
