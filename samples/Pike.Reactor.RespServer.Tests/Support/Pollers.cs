using System;
using System.Linq;
using Xunit;

namespace Pike.Reactor.RespServer.Tests.Support;

/// <summary>Every poller this host can run: the socket-level tests run the server on each.</summary>
public static class Pollers
{
    public static TheoryData<string> Available
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (PollerAvailability poller in PollerFactory.Probe().Where(p => p.Available))
            {
                data.Add(poller.Name);
                if (poller.Name == "io_uring")
                {
                    data.Add(IoUringReceives);
                }
            }

            return data;
        }
    }

    /// <summary>io_uring with receives through the ring (the sample's <c>--ring-receives</c>).</summary>
    public const string IoUringReceives = "io_uring-recv";

    /// <summary>A poller by name: the factory's, or <see cref="IoUringReceives"/>.</summary>
    public static BasePoller Create(string name) =>
        name == IoUringReceives && OperatingSystem.IsLinux() ? CreateIoUringReceives() : PollerFactory.Create(name);

    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)] // the Linux type is loaded on Linux only
    [System.Diagnostics.CodeAnalysis.SuppressMessage("Performance", "CA1859", Justification = "A signature naming IoUringPoller would load the Linux assembly wherever Create is compiled.")]
    private static BasePoller CreateIoUringReceives() => new Pike.Reactor.Linux.IoUringPoller(receiveThroughRing: true);
}
