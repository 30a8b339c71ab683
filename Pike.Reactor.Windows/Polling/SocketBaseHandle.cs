using System;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Pike.Reactor.Windows;

/// <summary>
/// Finds the handle the AFD driver knows a socket by. A socket that a layered service
/// provider (LSP) wraps has a handle of the LSP's; AFD polls must name the base provider's.
/// </summary>
[SupportedOSPlatform("windows")]
internal static unsafe class SocketBaseHandle
{
    /// <summary>
    /// <c>SIO_BASE_HANDLE</c>, and when an LSP refuses it, the base handles the select and
    /// poll paths use, then the plain provider handle (docs/pitfalls.md 15, mio #1314:
    /// some LSPs fail SIO_BASE_HANDLE but answer the SIO_BSP_* codes).
    /// </summary>
    internal static nint Get(nint socket) => Get(socket, LookupOrder, &TryIoctl);

    /// <summary>The ioctls tried, in order.</summary>
    internal static ReadOnlySpan<uint> LookupOrder =>
        [Interop.Ws2_32.SIO_BASE_HANDLE, Interop.Ws2_32.SIO_BSP_HANDLE_POLL, Interop.Ws2_32.SIO_BSP_HANDLE_SELECT, Interop.Ws2_32.SIO_BSP_HANDLE];

    /// <summary>The lookup with the ioctl call passed in, so that tests can stand in for a refusing LSP.</summary>
    internal static nint Get(nint socket, ReadOnlySpan<uint> codes, delegate*<nint, uint, out nint, out int, bool> tryIoctl)
    {
        int firstError = 0;
        foreach (uint code in codes)
        {
            if (tryIoctl(socket, code, out nint handle, out int error))
            {
                return handle;
            }

            if (firstError == 0)
            {
                firstError = error;
            }
        }

        throw new NativeCallException($"WSAIoctl(SIO_BASE_HANDLE and SIO_BSP_HANDLE_*, socket 0x{socket:X})", firstError);
    }

    internal static bool TryIoctl(nint socket, uint code, out nint handle, out int error)
    {
        nint result = 0;
        uint returned = 0;
        if (Interop.Ws2_32.WSAIoctl(socket, code, null, 0, &result, (uint)sizeof(nint), &returned, null, 0) != Interop.Ws2_32.SOCKET_ERROR
            && result != 0 && result != -1)
        {
            handle = result;
            error = 0;
            return true;
        }

        handle = 0;
        error = Marshal.GetLastPInvokeError();
        return false;
    }
}
