using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Threading;
using Xunit;

namespace Pike.Reactor.Proxy.Tests;

/// <summary>The proxy sample as a child process, its log collected, with what /proc says of it.</summary>
public sealed class ProxyProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _log = new();

    public ProxyProcess(string upstream, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { Path.Combine(AppContext.BaseDirectory, "Pike.Reactor.Proxy.dll"), "--listen", "127.0.0.1:0", "--upstream", upstream })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start)!;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_log)
                {
                    _log.Add(e.Data);
                }
            }
        };
        _process.BeginErrorReadLine();
        string? line = _process.StandardOutput.ReadLine();
        Assert.True(line is not null, "the proxy exited before it listened: " + Log());
        // "proxy: listening on 127.0.0.1:PORT, forwarding to ..."
        string bound = line.Split(' ')[3].TrimEnd(',');
        Port = int.Parse(bound[(bound.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture);
    }

    public int Port { get; }

    public int ProcessId => _process.Id;

    public string Log()
    {
        lock (_log)
        {
            return string.Join(" | ", _log);
        }
    }

    /// <summary>Resident memory (VmRSS of /proc/PID/status), in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (string line in File.ReadAllLines($"/proc/{_process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmRSS");
    }

    public Socket Connect()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(new IPEndPoint(IPAddress.Loopback, Port));
        return socket;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }
}

/// <summary>A real redis-server on a free loopback port, persistence off.</summary>
public sealed class RedisServer : IDisposable
{
    private readonly Process _process;

    public RedisServer()
    {
        Port = Net.FreePort();
        var start = new ProcessStartInfo("redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no" })
        {
            start.ArgumentList.Add(arg);
        }

        _process = Process.Start(start) ?? throw new InvalidOperationException("could not start redis-server");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.Connect(new IPEndPoint(IPAddress.Loopback, Port));
                break;
            }
            catch (SocketException) when (clock.Elapsed < TimeSpan.FromSeconds(20) && !_process.HasExited)
            {
                Thread.Sleep(50);
            }
        }
    }

    public int Port { get; }

    public string Address => "127.0.0.1:" + Port.ToString(CultureInfo.InvariantCulture);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
    }
}

public static class Net
{
    public static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>Runs a tool to completion within a deadline; standard input from a file when given.</summary>
    public static (int ExitCode, string Output, string Error) Run(string file, IEnumerable<string> args, string? stdinFile = null, int timeoutSeconds = 180)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdinFile is not null,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (stdinFile is not null)
        {
            using (FileStream input = File.OpenRead(stdinFile))
            {
                input.CopyTo(process.StandardInput.BaseStream);
            }

            process.StandardInput.Close();
        }

        if (!process.WaitForExit(timeoutSeconds * 1000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} did not finish within {timeoutSeconds} s");
        }

        process.WaitForExit();
        return (process.ExitCode, output.Result, error.Result);
    }

    /// <summary>Reads exactly <paramref name="buffer"/>'s length; false at an early end of stream.</summary>
    public static bool ReadExactly(Socket socket, Span<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int n = socket.Receive(buffer);
            if (n == 0)
            {
                return false;
            }

            buffer = buffer[n..];
        }

        return true;
    }

    /// <summary>Reads one line ending in CRLF (a RESP header).</summary>
    public static string ReadLine(Socket socket)
    {
        var line = new System.Text.StringBuilder();
        byte[] one = new byte[1];
        while (socket.Receive(one) == 1)
        {
            line.Append((char)one[0]);
            if (line.Length >= 2 && line[^2] == '\r' && line[^1] == '\n')
            {
                return line.ToString(0, line.Length - 2);
            }
        }

        throw new EndOfStreamException("the connection ended inside a line: " + line);
    }
}
