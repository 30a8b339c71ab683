using System;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Pike.Reactor.RespServer.Protocol;

namespace Pike.Reactor.RespServer.Tests.Support;

/// <summary>A blocking loopback client that sends raw bytes and reads whole RESP replies, with deadlines.</summary>
public sealed class RawClient : IDisposable
{
    private readonly Socket _socket;
    private byte[] _buffer = new byte[64 * 1024];
    private int _filled;

    public RawClient(int port, int receiveBuffer = 0)
    {
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (receiveBuffer > 0)
        {
            _socket.ReceiveBufferSize = receiveBuffer;
        }

        _socket.Connect(IPAddress.Loopback, port);
        _socket.ReceiveTimeout = 10_000;
        _socket.SendTimeout = 10_000;
    }

    public Socket Socket => _socket;

    public void Send(string text) => Send(Encoding.UTF8.GetBytes(text));

    public void Send(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            int sent = _socket.Send(bytes);
            bytes = bytes[sent..];
        }
    }

    /// <summary>Sends a multibulk request built from <paramref name="args"/>.</summary>
    public void SendCommand(params string[] args) => Send(Encode(args));

    public static byte[] Encode(params string[] args)
    {
        var text = new StringBuilder();
        text.Append('*').Append(args.Length).Append("\r\n");
        foreach (string arg in args)
        {
            text.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }

        return Encoding.UTF8.GetBytes(text.ToString());
    }

    /// <summary>One whole reply, as raw bytes; throws when none arrives within the receive timeout or the server closes first.</summary>
    public byte[] ReadReply()
    {
        while (true)
        {
            if (_filled > 0 && ReplyReader.TryMeasure(_buffer.AsSpan(0, _filled), out int length))
            {
                byte[] reply = _buffer.AsSpan(0, length).ToArray();
                _buffer.AsSpan(length, _filled - length).CopyTo(_buffer);
                _filled -= length;
                return reply;
            }

            if (_filled == _buffer.Length)
            {
                Array.Resize(ref _buffer, _buffer.Length * 2);
            }

            int n = _socket.Receive(_buffer, _filled, _buffer.Length - _filled, SocketFlags.None);
            if (n == 0)
            {
                throw new InvalidOperationException($"the server closed the connection; {_filled} bytes of a partial reply");
            }

            _filled += n;
        }
    }

    public string ReadReplyText() => Encoding.UTF8.GetString(ReadReply());

    public string Call(params string[] args)
    {
        SendCommand(args);
        return ReadReplyText();
    }

    /// <summary>True when the server closes the connection (end of stream or reset) before the receive timeout; data before it is discarded.</summary>
    public bool WaitForClose()
    {
        var scratch = new byte[64 * 1024];
        try
        {
            while (true)
            {
                if (_socket.Receive(scratch) == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.ConnectionReset)
        {
            return true;
        }
        catch (SocketException error) when (error.SocketErrorCode == SocketError.TimedOut || error.SocketErrorCode == SocketError.WouldBlock)
        {
            return false;
        }
    }

    public void Dispose() => _socket.Dispose();
}
