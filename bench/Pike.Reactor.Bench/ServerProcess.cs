using System;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;

namespace Pike.Reactor.Bench;

/// <summary>A server started for one round on a free loopback port, stopped with SIGTERM (killed if it lingers).</summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly Process _process;

    private ServerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>CPU seconds (user + system) the server process has used so far, from /proc/PID/stat.</summary>
    public double CpuSeconds()
    {
        string stat = System.IO.File.ReadAllText($"/proc/{_process.Id}/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        long ticks = long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        return ticks / (double)Native.ClockTicksPerSecond();
    }

    public static ServerProcess Start(ServerKind kind)
    {
        int port = FreePort();
        var start = new ProcessStartInfo(kind.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in kind.Arguments)
        {
            start.ArgumentList.Add(arg.Replace("{port}", port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {kind.FileName}");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new ServerProcess(process, port);
        server.WaitUntilServing(kind.Label, TimeSpan.FromSeconds(30));
        return server;
    }

    /// <summary>Sends one request and returns the raw reply (INFO for the allocation counters).</summary>
    public string Request(string command)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Connect(IPAddress.Loopback, Port);
        socket.Send(Encoding.ASCII.GetBytes(command + "\r\n"));
        return ReadReply(socket);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            Native.Terminate(_process.Id);
            if (!_process.WaitForExit(10_000))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }

        _process.Dispose();
    }

    internal static string ReadReply(Socket socket)
    {
        var reply = new StringBuilder();
        var buffer = new byte[65536];
        socket.ReceiveTimeout = 10_000;
        while (true)
        {
            int n = socket.Receive(buffer);
            if (n == 0)
            {
                break;
            }

            reply.Append(Encoding.ASCII.GetString(buffer, 0, n));
            string text = reply.ToString();
            if (IsComplete(text))
            {
                break;
            }
        }

        return reply.ToString();
    }

    private static bool IsComplete(string text)
    {
        int lineEnd = text.IndexOf("\r\n", StringComparison.Ordinal);
        if (lineEnd < 0)
        {
            return false;
        }

        if (text[0] != '$')
        {
            return true;
        }

        int size = int.Parse(text.AsSpan(1, lineEnd - 1), System.Globalization.CultureInfo.InvariantCulture);
        return size < 0 || text.Length >= lineEnd + 2 + size + 2;
    }

    private static int FreePort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    private void WaitUntilServing(string label, TimeSpan limit)
    {
        long deadline = Environment.TickCount64 + (long)limit.TotalMilliseconds;
        while (Environment.TickCount64 < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{label} exited with code {_process.ExitCode} before serving");
            }

            try
            {
                if (Request("PING").StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (SocketException)
            {
                // not listening yet
            }

            Thread.Sleep(50);
        }

        throw new TimeoutException($"{label} did not answer PING within {limit.TotalSeconds} s");
    }
}
