namespace Pike.Reactor;

/// <summary>
/// One channel as a poller that finds readiness its own way sees it
/// (<see cref="BasePoller.WatchedChannels"/>): the transport, its descriptor, and what it wants
/// watched now.
/// </summary>
/// <param name="Transport">The channel.</param>
/// <param name="Fileno">Its socket handle, the value to report through <c>ProcessReadables</c>/<c>ProcessWritables</c>.</param>
/// <param name="Interest">What to watch: <see cref="IoEvents.Read"/> unless reading is paused or the socket is idle,
/// <see cref="IoEvents.Write"/> while it connects or has a deferred write; <see cref="IoEvents.None"/>: nothing.</param>
/// <param name="Connecting">True while the channel connects; its connect's outcome arrives as writability.</param>
public readonly record struct ChannelInterest(Transport Transport, nint Fileno, IoEvents Interest, bool Connecting);
