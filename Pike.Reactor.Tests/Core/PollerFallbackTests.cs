using System;
using System.Collections.Generic;
using Xunit;

namespace Pike.Reactor.Tests.Core;

[Trait("Lane", "core")]
public class PollerFallbackTests
{
    private static string PlatformAssembly =>
        OperatingSystem.IsLinux() ? "Pike.Reactor.Linux" : OperatingSystem.IsWindows() ? "Pike.Reactor.Windows" : "Pike.Reactor.BSD";

    [Fact]
    public void Without_the_platform_assembly_the_factory_gives_select_and_says_why()
    {
        var notices = new List<PollerFallbackEventArgs>();
        using BasePoller poller = PollerFactory.CreateBest(assembly => assembly != PlatformAssembly, notices.Add);

        Assert.Equal("select", poller.Name);
        PollerFallbackEventArgs notice = Assert.Single(notices);
        Assert.Equal("select", notice.Poller);
        Assert.NotEmpty(notice.Skipped);
        Assert.All(notice.Skipped, s => Assert.Contains(PlatformAssembly, s.Reason, StringComparison.Ordinal));
        Assert.StartsWith("using the select poller: ", notice.Reason, StringComparison.Ordinal);
        Assert.Contains(notice.Skipped[0].Name + " is unavailable", notice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void With_every_assembly_deployed_the_first_choice_is_taken_without_a_notice()
    {
        var notices = new List<PollerFallbackEventArgs>();
        using BasePoller poller = PollerFactory.CreateBest(_ => true, notices.Add);

        Assert.Equal(OperatingSystem.IsLinux() ? "epoll" : OperatingSystem.IsWindows() ? "iocp" : "kqueue", poller.Name);
        Assert.Empty(notices);
    }

    [Fact]
    public void The_fallback_event_is_raised_once_with_the_sender_null()
    {
        var seen = new List<(object? Sender, PollerFallbackEventArgs Args)>();
        EventHandler<PollerFallbackEventArgs> handler = (sender, args) => seen.Add((sender, args));
        var notice = new PollerFallbackEventArgs("select", [new PollerAvailability("epoll", false, "test")]);
        PollerFactory.Fallback += handler;
        try
        {
            PollerFactory.ResetFallbackReport();
            PollerFactory.ReportFallback(notice);
            PollerFactory.ReportFallback(notice);
        }
        finally
        {
            PollerFactory.Fallback -= handler;
            PollerFactory.ResetFallbackReport();
        }

        var (sender, args) = Assert.Single(seen);
        Assert.Null(sender);
        Assert.Same(notice, args);
    }
}
