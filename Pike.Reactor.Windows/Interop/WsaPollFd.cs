using System.Runtime.InteropServices;

namespace Pike.Reactor.Windows;

/// <summary><c>WSAPOLLFD</c> (16 bytes on 64-bit): a <c>SOCKET</c>, then the <c>SHORT</c> events and revents.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct WsaPollFd
{
    public nint Fd;
    public short Events;
    public short REvents;
}
