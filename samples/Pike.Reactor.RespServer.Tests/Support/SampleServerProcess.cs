using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Threading;
using Xunit;

namespace Pike.Reactor.RespServer.Tests.Support;

/// <summary>
/// The sample as a process of its own (optionally under <c>prlimit --nofile=N:N</c>), its log
/// (standard error) collected line by line, with what /proc says of it.
/// </summary>
public sealed partial class SampleServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _log = new();
    private long _logBytes;

    public SampleServerProcess(int? descriptorLimit, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Pike.Reactor.RespServer.dll");
        var start = new ProcessStartInfo(descriptorLimit is null ? "dotnet" : "prlimit")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (descriptorLimit is { } limit)
        {
            start.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"--nofile={limit}:{limit}"));
            start.ArgumentList.Add("dotnet");
        }

        foreach (string arg in new[] { dll, "--port", "0" }.Concat(args))
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
                    _logBytes += e.Data.Length + 1;
                }
            }
        };
        _process.BeginErrorReadLine();
        string? line = _process.StandardOutput.ReadLine();
        Assert.True(line is not null, "the sample exited before it listened: " + string.Join(" | ", Log()));
        Port = int.Parse(line.Split(':')[1].Split(' ')[0], CultureInfo.InvariantCulture);
    }

    public int Port { get; }

    public int ProcessId => _process.Id;

    public long LogBytes
    {
        get
        {
            lock (_log)
            {
                return _logBytes;
            }
        }
    }

    public string[] Log()
    {
        lock (_log)
        {
            return _log.ToArray();
        }
    }

    /// <summary>Waits until a log line matches; fails the test after the deadline.</summary>
    public void WaitForLog(Func<string, bool> match, string what, int seconds = 20)
    {
        var clock = Stopwatch.StartNew();
        while (!Log().Any(match))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(seconds) && !_process.HasExited, $"no log line for {what}: {string.Join(" | ", Log())}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Sends SIGTERM and waits for a clean exit.</summary>
    public void Stop()
    {
        Assert.Equal(0, Kill(_process.Id, 15));
        Assert.True(_process.WaitForExit(15_000), "the sample did not exit after SIGTERM");
        _process.WaitForExit();
        Assert.True(_process.ExitCode == 0, string.Join(" | ", Log()));
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

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
