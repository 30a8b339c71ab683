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
            }

            return data;
        }
    }
}
