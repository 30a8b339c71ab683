using System;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Pike.Reactor.Core;

namespace Pike.Reactor;

/// <summary>
/// One datagram in or out of a non-blocking socket, straight through the OS call (recvmsg and
/// sendto on POSIX, recvfrom and sendto on Windows) so that "nothing waiting" is a return value
/// and not an exception (.NET's <see cref="Socket.ReceiveFrom(Span{byte}, SocketFlags, System.Net.SocketAddress)"/>
/// throws for it), the peer's address lands in the caller's buffer and a zero-length datagram
/// is told from an empty queue.
/// </summary>
internal static class DatagramIo
{
    private static readonly bool s_windows = OperatingSystem.IsWindows();
    private static readonly bool s_linux = OperatingSystem.IsLinux();

    /// <summary>Whether <see cref="ReceiveMany"/> is one system call (Linux's recvmmsg) rather than a loop of receives.</summary>
    internal static bool HasBatchReceive => s_linux;
    private static readonly int s_truncatedFlag = Interop.SocketErrors.IsLinux ? 0x20 : 0x10; // MSG_TRUNC

    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/> and its sender into
    /// <paramref name="address"/> (empty: not wanted). <paramref name="length"/> is the bytes
    /// stored; <paramref name="truncated"/> says the datagram was longer (the rest is gone).
    /// </summary>
    internal static unsafe SocketError Receive(nint handle, Span<byte> buffer, Span<byte> address, out int addressLength, out int length, out bool truncated)
    {
        fixed (byte* data = buffer)
        fixed (byte* name = address)
        {
            if (s_windows)
            {
                int fromLength = address.Length;
                int received = Interop.Ws2_32.recvfrom(handle, data, buffer.Length, 0, address.IsEmpty ? null : name, address.IsEmpty ? null : &fromLength);
                int error = received == Interop.Ws2_32.SOCKET_ERROR ? Marshal.GetLastPInvokeError() : 0;
                addressLength = address.IsEmpty ? 0 : fromLength;
                if (error == (int)SocketError.MessageSize)
                {
                    // Winsock fills the buffer and reports the rest as an error (WSAEMSGSIZE).
                    length = buffer.Length;
                    truncated = true;
                    return SocketError.Success;
                }

                length = Math.Max(received, 0);
                truncated = false;
                return error == 0 ? SocketError.Success : (SocketError)error;
            }

            var vector = new Interop.Libc.IOVector { Base = data, Length = (nuint)buffer.Length };
            var header = new Interop.Libc.MessageHeader
            {
                Name = address.IsEmpty ? null : name,
                NameLength = (uint)address.Length,
                Vectors = &vector,
                VectorCount = 1,
            };
            while (true)
            {
                nint received = Interop.Libc.recvmsg((int)handle, &header, 0);
                if (received >= 0)
                {
                    length = (int)received;
                    addressLength = address.IsEmpty ? 0 : (int)header.NameLength;
                    int flags = Interop.SocketErrors.IsLinux ? header.Flags : *(int*)((byte*)&header + Interop.Libc.BsdFlagsOffset);
                    truncated = (flags & s_truncatedFlag) != 0;
                    return SocketError.Success;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.SocketErrors.Interrupted)
                {
                    length = 0;
                    addressLength = 0;
                    truncated = false;
                    return Interop.SocketErrors.FromErrno(errno);
                }
            }
        }
    }

    /// <summary>
    /// Linux: receives up to a batch's capacity of waiting datagrams with one <c>recvmmsg</c>;
    /// <paramref name="count"/> is how many (an error after the first is kept by the kernel for
    /// the next call).
    /// </summary>
    internal static unsafe SocketError ReceiveMany(nint handle, DatagramBatch batch, out int count)
    {
        Interop.Libc.MultiMessageHeader[] headers = batch.Headers;
        Interop.Libc.IOVector[] vectors = batch.Vectors;
        int size = batch.DatagramSize;
        int nameSize = batch.AddressSize;
        fixed (Interop.Libc.MultiMessageHeader* header = headers)
        fixed (Interop.Libc.IOVector* vector = vectors)
        fixed (byte* payloads = batch.Payloads)
        fixed (byte* names = batch.Names)
        {
            for (int i = 0; i < headers.Length; i++)
            {
                vector[i].Base = payloads + (i * size);
                vector[i].Length = (nuint)size;
                header[i] = default;
                header[i].Header.Name = names + (i * nameSize);
                header[i].Header.NameLength = (uint)nameSize;
                header[i].Header.Vectors = vector + i;
                header[i].Header.VectorCount = 1;
            }

            int received;
            while ((received = Interop.Libc.recvmmsg((int)handle, header, (uint)headers.Length, 0, null)) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.SocketErrors.Interrupted)
                {
                    count = 0;
                    return Interop.SocketErrors.FromErrno(errno);
                }
            }

            for (int i = 0; i < received; i++)
            {
                bool truncated = (header[i].Header.Flags & s_truncatedFlag) != 0;
                batch.StoreFromName(i, Math.Min((int)header[i].Length, size), truncated, (int)header[i].Header.NameLength);
            }

            count = received;
            return SocketError.Success;
        }
    }

    /// <summary>Sends <paramref name="datagram"/> to <paramref name="address"/> (empty: the connected peer). A datagram leaves whole or not at all.</summary>
    internal static unsafe SocketError Send(nint handle, ReadOnlySpan<byte> datagram, ReadOnlySpan<byte> address)
    {
        fixed (byte* data = datagram)
        fixed (byte* name = address)
        {
            if (s_windows)
            {
                int sent = Interop.Ws2_32.sendto(handle, data, datagram.Length, 0, address.IsEmpty ? null : name, address.Length);
                return sent == Interop.Ws2_32.SOCKET_ERROR ? (SocketError)Marshal.GetLastPInvokeError() : SocketError.Success;
            }

            while (true)
            {
                nint sent = Interop.Libc.sendto((int)handle, data, (nuint)datagram.Length, 0, address.IsEmpty ? null : name, (uint)address.Length);
                if (sent >= 0)
                {
                    return SocketError.Success;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Interop.SocketErrors.Interrupted)
                {
                    return Interop.SocketErrors.FromErrno(errno);
                }
            }
        }
    }
}
