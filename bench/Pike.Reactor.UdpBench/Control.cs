using System;
using System.Buffers.Binary;

namespace Pike.Reactor.UdpBench;

/// <summary>
/// The two control datagrams every server of the bench answers (all others are echoed):
/// <c>0xFF 'M'</c> marks the start of the measured window, <c>0xFF 'R'</c> asks for what the
/// server did since: datagrams echoed, bytes it allocated, CPU time it used.
/// </summary>
internal static class Control
{
    public const byte Tag = 0xFF;
    public const byte Mark = (byte)'M';
    public const byte Report = (byte)'R';
    public const int ReportLength = 2 + 8 + 8 + 8;

    public static bool IsControl(ReadOnlySpan<byte> datagram) => datagram.Length == 2 && datagram[0] == Tag;

    /// <summary>The server's side: its counters now, and what it answers to a control datagram (into <paramref name="reply"/>).</summary>
    public sealed class Counters
    {
        private long _markDatagrams;
        private long _markAllocated;
        private long _markCpuTicks;

        public long Datagrams;

        public int Answer(ReadOnlySpan<byte> request, Span<byte> reply)
        {
            long allocated = GC.GetTotalAllocatedBytes(precise: true);
            long cpu = Environment.CpuUsage.TotalTime.Ticks;
            if (request[1] == Mark)
            {
                _markDatagrams = Datagrams;
                _markAllocated = allocated;
                _markCpuTicks = cpu;
                reply[0] = Tag;
                reply[1] = Mark;
                return 2;
            }

            reply[0] = Tag;
            reply[1] = Report;
            BinaryPrimitives.WriteInt64LittleEndian(reply[2..], Datagrams - _markDatagrams);
            BinaryPrimitives.WriteInt64LittleEndian(reply[10..], allocated - _markAllocated);
            BinaryPrimitives.WriteInt64LittleEndian(reply[18..], cpu - _markCpuTicks);
            return ReportLength;
        }
    }
}
