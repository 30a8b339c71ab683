using System;
using System.Text;

namespace Pike.Reactor.RespServer.Protocol;

/// <summary>
/// Reads RESP2 replies on the client side (the demo's client and the tests): finds where a
/// complete reply ends, and shows one the way redis-cli does.
/// </summary>
internal static class ReplyReader
{
    /// <summary>True when <paramref name="data"/> starts with a complete reply, <paramref name="length"/> bytes long.</summary>
    public static bool TryMeasure(ReadOnlySpan<byte> data, out int length)
    {
        length = 0;
        return Measure(data, ref length);
    }

    /// <summary>redis-cli's rendering of one complete reply: <c>OK</c>, <c>(integer) 1</c>, <c>"v"</c>, <c>(nil)</c>, <c>(error) ...</c>, numbered arrays.</summary>
    public static string Format(ReadOnlySpan<byte> reply)
    {
        var text = new StringBuilder();
        int at = 0;
        Render(reply, ref at, text, "");
        return text.ToString();
    }

    private static bool Measure(ReadOnlySpan<byte> data, ref int at)
    {
        if (at >= data.Length)
        {
            return false;
        }

        int cr = data[at..].IndexOf("\r\n"u8);
        if (cr < 0)
        {
            return false;
        }

        byte type = data[at];
        ReadOnlySpan<byte> line = data.Slice(at + 1, cr - 1);
        at += cr + 2;
        switch (type)
        {
            case (byte)'+' or (byte)'-' or (byte)':':
                return true;
            case (byte)'$':
                if (!RespInteger.TryParse(line, out long size))
                {
                    throw new FormatException("bad bulk length in reply");
                }

                if (size < 0)
                {
                    return true;
                }

                if (at + size + 2 > data.Length)
                {
                    return false;
                }

                at += (int)size + 2;
                return true;
            case (byte)'*':
                if (!RespInteger.TryParse(line, out long count))
                {
                    throw new FormatException("bad array length in reply");
                }

                for (long i = 0; i < count; i++)
                {
                    if (!Measure(data, ref at))
                    {
                        return false;
                    }
                }

                return true;
            default:
                throw new FormatException($"not a RESP2 reply type: 0x{type:x2}");
        }
    }

    private static void Render(ReadOnlySpan<byte> data, ref int at, StringBuilder text, string indent)
    {
        int cr = data[at..].IndexOf("\r\n"u8);
        byte type = data[at];
        string line = Encoding.UTF8.GetString(data.Slice(at + 1, cr - 1));
        at += cr + 2;
        switch (type)
        {
            case (byte)'+':
                text.Append(line);
                break;
            case (byte)'-':
                text.Append("(error) ").Append(line);
                break;
            case (byte)':':
                text.Append("(integer) ").Append(line);
                break;
            case (byte)'$':
                int size = int.Parse(line, System.Globalization.CultureInfo.InvariantCulture);
                if (size < 0)
                {
                    text.Append("(nil)");
                }
                else
                {
                    text.Append('"').Append(Encoding.UTF8.GetString(data.Slice(at, size))).Append('"');
                    at += size + 2;
                }

                break;
            default:
                int count = int.Parse(line, System.Globalization.CultureInfo.InvariantCulture);
                if (count == 0)
                {
                    text.Append("(empty array)");
                }

                for (int i = 0; i < count; i++)
                {
                    if (i > 0)
                    {
                        text.Append('\n').Append(indent);
                    }

                    string label = $"{i + 1}) ";
                    text.Append(label);
                    Render(data, ref at, text, indent + new string(' ', label.Length));
                }

                break;
        }
    }
}
