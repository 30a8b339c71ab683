using System;
using System.Linq;
using Pike.Reactor.BSD;
using Xunit;

namespace Pike.Reactor.Tests.Kqueue;

[Trait("Lane", "kqueue")]
public class BsdPollerProviderTests
{
    [Fact]
    public void The_factory_finds_the_provider_by_name()
    {
        PollerAvailability kqueue = PollerFactory.Probe().Single(a => a.Name == "kqueue");
        Assert.Equal(new BsdPollerProvider().Probe("kqueue"), kqueue);
        Assert.Equal(["kqueue"], new BsdPollerProvider().Names);
    }

    [Fact]
    public void Without_a_native_kqueue_or_a_library_it_is_unavailable_and_says_why()
    {
        string? reason = KqueueHost.UnavailableReason(configured: null);
        if (KqueueHost.HasNativeKqueue)
        {
            Assert.Null(reason);
        }
        else
        {
            Assert.NotNull(reason);
            Assert.Contains(BsdPollerProvider.LibraryVariable, reason, StringComparison.Ordinal);
            Assert.Null(KqueueHost.UnavailableReason(configured: "/some/libkqueue.so"));
        }
    }

    [Fact]
    public void When_the_lane_names_a_library_the_factory_creates_kqueue()
    {
        // The kqueue lane runs with PIKE_REACTOR_KQUEUE_LIBRARY set (or on a BSD): the factory
        // must hand out a working KqueuePoller then.
        Assert.True(KqueueHost.HasNativeKqueue || KqueueHost.ConfiguredLibrary is not null,
            $"the kqueue lane needs {BsdPollerProvider.LibraryVariable} on this host");
        using BasePoller poller = PollerFactory.Create("kqueue");
        KqueuePoller kqueue = Assert.IsType<KqueuePoller>(poller);
        Assert.Equal("kqueue", kqueue.Name);
        Assert.True(new BsdPollerProvider().Probe("kqueue").Available);
    }

    [Fact]
    public void Other_names_are_not_this_providers()
    {
        PollerAvailability epoll = new BsdPollerProvider().Probe("epoll");
        Assert.False(epoll.Available);
        Assert.Throws<PollerUnavailableException>(() => new BsdPollerProvider().Create("epoll"));
    }

    [Fact]
    public void A_library_without_kqueue_is_refused_with_its_name()
    {
        string libc = OperatingSystem.IsLinux() ? "libc.so.6" : "libm.so";
        if (OperatingSystem.IsLinux())
        {
            EntryPointNotFoundException error = Assert.Throws<EntryPointNotFoundException>(() => new KqueuePoller(libc));
            Assert.Contains("kqueue", error.Message, StringComparison.Ordinal);
        }

        Assert.Throws<DllNotFoundException>(() => new KqueuePoller("/nonexistent/libkqueue.so"));
    }
}
