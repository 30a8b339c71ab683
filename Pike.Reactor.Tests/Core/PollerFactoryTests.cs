using System;
using System.Linq;
using System.Net.Sockets;
using Xunit;

namespace Pike.Reactor.Tests.Core;

[Trait("Lane", "core")]
public class PollerFactoryTests
{
    private static readonly string[] AllNames = ["epoll", "poll", "io_uring", "kqueue", "iocp", "wsapoll", "select"];

    [Fact]
    public void Probe_lists_every_known_poller_once_with_a_reason_when_unavailable()
    {
        var probe = PollerFactory.Probe();
        Assert.Equal(AllNames.OrderBy(n => n), probe.Select(p => p.Name).OrderBy(n => n));
        Assert.All(probe, p => Assert.Equal(p.Available, p.Reason is null));
        Assert.Contains(probe, p => p.Name == "select" && p.Available);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(["epoll", "poll", "io_uring", "select"], probe.Take(4).Select(p => p.Name));
            Assert.True(probe.Single(p => p.Name == "epoll").Available);
            Assert.True(probe.Single(p => p.Name == "poll").Available);
            Assert.False(probe.Single(p => p.Name == "iocp").Available);
        }

        if (OperatingSystem.IsWindows())
        {
            Assert.Equal(["iocp", "wsapoll", "select"], probe.Take(3).Select(p => p.Name));
            Assert.False(probe.Single(p => p.Name == "epoll").Available);
        }
    }

    [Fact]
    public void Create_picks_the_best_poller_of_the_OS()
    {
        using BasePoller poller = PollerFactory.Create();
        string expected = OperatingSystem.IsLinux() ? "epoll" : OperatingSystem.IsWindows() ? "iocp" : "kqueue";
        if (Environment.GetEnvironmentVariable(PollerFactory.PollerVariable) is { Length: > 0 } named)
        {
            expected = named;
        }

        Assert.Equal(expected, poller.Name);
    }

    [Fact]
    public void Every_available_poller_can_be_created_by_name_in_any_case()
    {
        foreach (PollerAvailability available in PollerFactory.Probe().Where(p => p.Available))
        {
            using BasePoller poller = PollerFactory.Create(available.Name.ToUpperInvariant());
            Assert.Equal(available.Name, poller.Name);
            Assert.Contains(available.Name, poller.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void An_unavailable_or_unknown_poller_says_why()
    {
        var unknown = Assert.Throws<PollerUnavailableException>(() => PollerFactory.Create("bogus"));
        Assert.Contains("epoll", unknown.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => PollerFactory.Create(null!));
        foreach (PollerAvailability missing in PollerFactory.Probe().Where(p => !p.Available))
        {
            var error = Assert.Throws<PollerUnavailableException>(() => PollerFactory.Create(missing.Name));
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
        }
    }

    [Fact]
    public void The_environment_variable_names_the_poller()
    {
        string? saved = Environment.GetEnvironmentVariable(PollerFactory.PollerVariable);
        try
        {
            Environment.SetEnvironmentVariable(PollerFactory.PollerVariable, "select");
            using BasePoller poller = PollerFactory.Create();
            Assert.Equal("select", poller.Name);

            Environment.SetEnvironmentVariable(PollerFactory.PollerVariable, "no-such-poller");
            Assert.Throws<PollerUnavailableException>(() => PollerFactory.Create());
        }
        finally
        {
            Environment.SetEnvironmentVariable(PollerFactory.PollerVariable, saved);
        }
    }

    [Fact]
    public void Transports_without_a_poller_use_the_global_default()
    {
        Assert.Same(PollerFactory.Default, PollerFactory.Default);
        var channel = new DefaultChannel();
        Assert.Same(PollerFactory.Default, channel.Poller);
    }

    [Fact]
    public void Exception_types_carry_their_message()
    {
        Assert.Equal("why", new PollerUnavailableException("why").Message);
        Assert.IsType<InvalidOperationException>(new PollerUnavailableException("why", new InvalidOperationException()).InnerException);
        Assert.NotNull(new PollerUnavailableException().Message);
        var native = new NativeCallException("epoll_ctl(ADD, fd 3)", 1);
        Assert.StartsWith("epoll_ctl(ADD, fd 3) failed: ", native.Message, StringComparison.Ordinal);
        Assert.Equal(1, native.ErrorNumber);
        Assert.Equal("epoll_ctl(ADD, fd 3)", native.Call);
    }

    private sealed class DefaultChannel : Transport
    {
    }
}
