namespace Pike.Reactor.BSD;

internal static partial class Interop
{
    /// <summary>The EV_* and NOTE_* values, the same on every kqueue (the filter numbers are not: see <see cref="KeventAbi"/>).</summary>
    internal static class Kqueue
    {
        internal const ushort EV_ADD = 0x0001;
        internal const ushort EV_DELETE = 0x0002;
        internal const ushort EV_ENABLE = 0x0004;
        internal const ushort EV_DISABLE = 0x0008;
        internal const ushort EV_ONESHOT = 0x0010;
        internal const ushort EV_CLEAR = 0x0020;
        internal const ushort EV_RECEIPT = 0x0040;
        internal const ushort EV_ERROR = 0x4000;
        internal const ushort EV_EOF = 0x8000;

        internal const uint NOTE_TRIGGER = 0x01000000;
    }
}
