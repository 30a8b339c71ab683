using System;
using System.Diagnostics;
using System.IO;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Threading;

namespace Pike.Reactor.Linux;

/// <summary>
/// Linux io_uring: readiness through poll requests on the ring, every interest change queued
/// as a submission and carried by the next wait's one <c>io_uring_enter</c>, the eventfd
/// wake-up watched by a multishot poll, and completions read in place from the mapped ring.
/// Each request's <c>user_data</c> is the registration key, so that a completion for a
/// channel closed (or a slot reused) meanwhile finds no channel and is dropped.
/// </summary>
/// <remarks>
/// Channels are watched with one-shot polls, re-armed after each dispatch: a multishot poll
/// reports a socket once per kernel wake-up (edge-like), while the contract is level-triggered
/// (a socket its handler did not drain is reported again). A re-armed poll checks readiness as
/// it is armed, so the re-arm costs a submission entry, not a system call. docs/io_uring.md
/// says what the backend does, which kernel it needs and what <see cref="PollerFactory.Probe()"/> reports.
/// </remarks>
[SupportedOSPlatform("linux")]
public sealed unsafe class IoUringPoller : BasePoller
{
    /// <summary>The submission ring's size when none is given.</summary>
    public const int DefaultSubmissionEntries = 256;

    private const int MaxSubmissionEntries = 32768;
    private const uint CompletionsPerSubmission = 16;
    private const uint MinCompletionEntries = 4096;

    // user_data of control requests (poll removals and updates) sets the top bit over the key;
    // keys are never negative, and the wake-up's is -1 (all bits).
    private const ulong ControlTag = 1UL << 63;

    // A send request's user_data: the control tag over a key no channel can hold (the highest
    // generation with an index of 2^31 or more; the wake-up poll's -1 is the one above them all),
    // with the request's number below it. A completion reported before its turn in the dispatch
    // (ReportSends) has its user_data overwritten with SettledSendData, which DispatchEvents skips.
    private const ulong SendTag = 0xFFFF_FFFF_8000_0000UL;
    private const ulong SendNumberBits = 0x7FFF_FFFFUL;
    private const ulong SettledSendData = SendTag | 0x7FFF_FFFEUL;

    // A receive request's user_data: the key with bit 31 set. A live key's index stays below 2^31
    // (the send tag's indexes are above it, with the control tag set), so no poll's key has it.
    private const ulong RecvTag = 1UL << 31;

    /// <summary>The size of each buffer a receive through the ring lands in (<see cref="ReceivesThroughRing"/>).</summary>
    public const int ReceiveBufferBytes = 4096;

    /// <summary>How many such buffers a poller that receives through the ring shares among its channels.</summary>
    public const int ReceiveBufferCount = 256;
    private const ushort ReceiveGroup = 0;
    private const int HeldEnd = 1;             // HeldReceive.End: the end of the stream (a negated errno otherwise)
    private const int TakenEarly = int.MinValue; // a receive completion's res once a Recv took what it brought before its turn

    // MSG_WAITALL makes a send that goes in part a failure, whose completion is posted (and says
    // how much went) even under IOSQE_CQE_SKIP_SUCCESS; MSG_DONTWAIT keeps it from waiting for the socket.
    private const uint SendMessageFlags = Interop.Libc.MSG_DONTWAIT | Interop.Libc.MSG_WAITALL | Interop.Libc.MSG_NOSIGNAL;
    private const int NoCompletion = int.MinValue;
    private const int NotTaken = int.MaxValue;

    /// <summary>The largest write a send request carries (docs/io_uring.md, "Sends with the wait").</summary>
    public const int MaxSendWithWait = 16 * 1024;

    /// <summary>
    /// What the send requests not reported yet may hold between them; a write that finds no room
    /// is sent at once. Every request completes in the enter that submits it, and a dispatch
    /// reports it soon after, so the arena is normally empty again by the next iteration (not
    /// while completions wait in the kernel's overflow list).
    /// </summary>
    private const int SendArenaBytes = 256 * 1024;

    private static int s_sendCheck; // SendsCompleteAsSubmitted: 0 not checked yet, 1 yes, -1 no
    private static readonly ulong WakeData = unchecked((ulong)WakeKey);

    // The backend's value in the channel's slot: the interest (IoEvents bits), whether a poll
    // request for the key is in the kernel (or its last completion is not read yet), whether
    // that request is being cancelled, and the descriptor in the upper 32 bits.
    private const long InterestBits = 0x3;
    private const long InKernelBit = 0x4;
    private const long CancelingBit = 0x8;
    private const long FailedBit = 0x10;
    private const long EarlyBit = 0x20;        // the key's last POLL_ADD waits in the early buffer (its ring position is not known yet)
    private const long RecvBit = 0x40;         // the key's request in the kernel is a receive, not a poll
    private const long StreamBit = 0x80;       // the channel reads a byte stream: its reads may go through the ring
    private const long ReadHeldBit = 0x100;    // the key's poll leaves reading out: it holds received bytes (listed for the next dispatch)
    private const int QueuedAtShift = 16;       // bits 16-31: where the key's last POLL_ADD sits in the submission ring (low 16 bits of its position)
    private const long QueuedAtBits = 0xFFFFL << QueuedAtShift;

    private const uint PollIn = 0x001;
    private const uint PollOut = 0x004;
    private const uint PollErr = 0x008;
    private const uint PollHup = 0x010;
    private const uint PollRdHup = 0x2000;

    /// <summary>Setup flags asked for first; older kernels (before 5.19) get <see cref="BaseSetupFlags"/> only.</summary>
    private const uint PreferredSetupFlags = BaseSetupFlags | Interop.Libc.IORING_SETUP_SUBMIT_ALL | Interop.Libc.IORING_SETUP_COOP_TASKRUN;
    private const uint BaseSetupFlags = Interop.Libc.IORING_SETUP_CQSIZE | Interop.Libc.IORING_SETUP_CLAMP;

    /// <summary>The longest <see cref="WakeBatching"/> window accepted.</summary>
    public static readonly TimeSpan MaxWakeBatching = TimeSpan.FromMilliseconds(10);

    // Wake batching asks the kernel to hold the wait for this many completions at most.
    private const int MaxBatchedCompletions = 256;

    // The setup flags wake batching adds: completion work deferred to the loop thread's own
    // waits (so a completion short of the count asked for wakes nobody), which needs a single
    // issuer, which the ring gets when the loop first enters it (created disabled until then).
    private const uint BatchingSetupFlags = Interop.Libc.IORING_SETUP_SINGLE_ISSUER | Interop.Libc.IORING_SETUP_DEFER_TASKRUN | Interop.Libc.IORING_SETUP_R_DISABLED;

    private const uint RequiredFeatures = Interop.Libc.IORING_FEAT_NODROP | Interop.Libc.IORING_FEAT_EXT_ARG | Interop.Libc.IORING_FEAT_POLL_32BITS | Interop.Libc.IORING_FEAT_RSRC_TAGS;

    // Both stay unset (null, -1) when the constructor throws; the finalizer still runs then.
    private readonly EventFdWaker? _waker;
    private int _ringFd = -1;
    private byte* _sqRing;
    private nuint _sqRingSize;
    private byte* _cqRing;
    private nuint _cqRingSize;
    private IoUringSqe* _sqes;
    private nuint _sqesSize;

    private uint* _sqHead;
    private uint* _sqTail;
    private uint _sqMask;
    private uint _sqEntries;
    private uint _sqTailLocal;
    private uint* _cqHead;
    private uint* _cqTail;
    private uint _cqMask;
    private uint _cqEntries;
    private IoUringCqe* _cqes;
    private long _enters;
    private readonly uint _batchMicroseconds;   // 0: wake batching off
    private bool _ringEnabled = true;           // false while a batching ring waits for its first enter
    private Thread? _issuer;                    // the thread a batching ring is bound to (null: none yet)
    private int _lastCompletions;               // completions the last wait returned (wake batching asks for as many)
    private IoUringSqe* _early;                 // entries queued beyond a full ring before a batching ring is first entered
    private int _earlyCount;
    private int _earlyMoved;                    // early entries already moved into the ring (a move cut short resumes there)
    private int _earlyCapacity;
    private bool _nextIsEarly;                  // NextSqe handed out an early entry: Publish counts it there
    private uint* _sqFlags;
    private byte* _sendArena;                   // copies of the bytes the send requests carry
    private int _sendUsed;                      // arena bytes the requests take
    private SendRequest[] _sends = new SendRequest[64];
    private int _sendCount;                     // requests since the arena was last emptied
    private int _sendFirst;                     // the first of them that may not be reported yet
    private int _sendOutstanding;               // of them, the ones not reported yet
    private bool _reportingSends;
    private IoUringBuf* _recvRing;              // the provided-buffer ring receives take their buffers from (null: receives go through recv)
    private byte* _recvBuffers;
    private ushort _recvTail;
    private HeldReceive[] _held = [];           // by descriptor: what a receive request brought and the channel has not read yet
    private int[] _heldList = new int[16];      // descriptors whose channels hear of their held bytes at the next dispatch
    private int[] _heldSpare = new int[16];
    private int _heldListCount;

    /// <summary>Creates the ring, maps it, and arms the wake-up eventfd's poll; optionally, receives go through the ring.</summary>
    /// <param name="submissionEntries">Submission ring entries (a power of two at most 32768 is used; the completion ring is 16 times larger, at least 4096).</param>
    /// <param name="wakeBatching">How long a wait may hold completions back to gather as many as the last wait returned; zero, the default, turns batching off. At most <see cref="MaxWakeBatching"/>, counted in whole microseconds.</param>
    /// <param name="receiveThroughRing">
    /// True: a channel that only reads is watched with a receive request into a buffer the kernel
    /// picks from a ring of <see cref="ReceiveBufferCount"/> buffers of <see cref="ReceiveBufferBytes"/>,
    /// instead of with a poll, and <see cref="Transport.Recv(Span{byte})"/> copies what it brought:
    /// no receive call (docs/io_uring.md, "Receives through the ring"). Such a channel must read with
    /// <see cref="Transport.Recv(Span{byte})"/>, not with its socket.
    /// </param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="submissionEntries"/> is not positive, or <paramref name="wakeBatching"/> is negative, below one microsecond but not zero, or above <see cref="MaxWakeBatching"/>.</exception>
    /// <exception cref="PollerUnavailableException">io_uring cannot run here: the message says why (kernel too old, disabled by sysctl, denied by a seccomp filter, a feature missing; wake batching needs Linux 6.12, receives through the ring Linux 5.19).</exception>
    /// <exception cref="NativeCallException">Mapping the rings or creating the eventfd failed.</exception>
    public IoUringPoller(int submissionEntries = DefaultSubmissionEntries, TimeSpan wakeBatching = default, bool receiveThroughRing = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(submissionEntries);
        if (wakeBatching < TimeSpan.Zero || wakeBatching > MaxWakeBatching || (wakeBatching != TimeSpan.Zero && wakeBatching < TimeSpan.FromMicroseconds(1)))
        {
            throw new ArgumentOutOfRangeException(nameof(wakeBatching), wakeBatching, $"Wake batching is zero (off) or from 1 µs to {MaxWakeBatching.TotalMilliseconds} ms.");
        }

        _batchMicroseconds = (uint)(wakeBatching.Ticks / TimeSpan.TicksPerMicrosecond);
        uint entries = (uint)Math.Min(submissionEntries, MaxSubmissionEntries);
        IoUringParams p = Setup(entries);
        try
        {
            MapRings(in p);
            if (SupportsOperation(Interop.Libc.IORING_OP_SEND)
                && (p.Features & ~HiddenFeatures & Interop.Libc.IORING_FEAT_CQE_SKIP) != 0
                && SendsCompleteAsSubmitted())
            {
                _sendArena = (byte*)NativeMemory.Alloc(SendArenaBytes);
                SendWithWaitLimit = MaxSendWithWait;
            }

            if (receiveThroughRing)
            {
                SetUpReceives();
            }

            _waker = new EventFdWaker();
            ArmWake();
        }
        catch
        {
            Release();
            throw;
        }
    }

    /// <summary>Releases the kernel resources of a poller nobody disposed.</summary>
    ~IoUringPoller()
    {
        Dispose(false);
    }

    /// <inheritdoc/>
    public override string Name => "io_uring";

    /// <summary>
    /// How long a wait may hold completions back to gather a batch (zero: off, the default).
    /// With it on, a wait that follows one that returned k completions (k &gt; 1) asks the kernel
    /// for k of them, or for whatever has come once this window has passed: a busy loop is
    /// woken once per batch instead of once per ready socket, and each wake-up it saves is one
    /// the peer's <c>send</c> does not pay for. A loop that got one completion (or none) waits
    /// as without batching, so a lone client's request is not delayed; an event may otherwise
    /// wait up to the window, and so may a <see cref="BasePoller.Wake"/>, a <see cref="BasePoller.Post"/> or a
    /// <see cref="BasePoller.Stop"/> from another thread.
    /// </summary>
    /// <remarks>
    /// Batching defers the kernel's completion work to the loop's own waits
    /// (<c>IORING_SETUP_DEFER_TASKRUN</c>), which binds the ring to one thread
    /// (<c>IORING_SETUP_SINGLE_ISSUER</c>): the first that enters it, normally the loop's. After
    /// that, running the loop on any other thread throws <see cref="InvalidOperationException"/>;
    /// a channel closed on another thread while no loop runs is closed, but the kernel lets go of
    /// its socket only at the loop's next wait (docs/pitfalls.md 21g). Needs Linux 6.12 (<c>IORING_FEAT_MIN_TIMEOUT</c>).
    /// docs/io_uring.md#wake-batching has the measurements.
    /// </remarks>
    public TimeSpan WakeBatching => TimeSpan.FromMicroseconds(_batchMicroseconds);

    /// <summary>The ring's descriptor.</summary>
    public int Handle => _ringFd;

    /// <summary>Whether channels that only read are watched with receive requests into the ring's buffers (the constructor's <c>receiveThroughRing</c>).</summary>
    public bool ReceivesThroughRing => _recvRing != null;

    /// <summary>For tests: whether a receive request brought the registration <paramref name="key"/> something it has not read (held, or in a completion not dispatched yet).</summary>
    internal bool HasReceived(nint key)
    {
        if (!TryGetBackendState(key, out nint raw))
        {
            return false;
        }

        if (Holds((int)((long)raw >> 32), key))
        {
            return true;
        }

        ulong data = (ulong)(long)key | RecvTag;
        uint tail = Volatile.Read(ref *_cqTail);
        for (uint head = *_cqHead; head != tail; head++)
        {
            if (_cqes[head & _cqMask].UserData == data)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>For tests: the ring's buffers that channels hold, with bytes not read yet (every other buffer is back in the kernel's ring).</summary>
    internal int HeldReceiveBuffers
    {
        get
        {
            int held = 0;
            foreach (ref readonly HeldReceive entry in _held.AsSpan())
            {
                held += entry.Buffer != 0 ? 1 : 0;
            }

            return held;
        }
    }

    /// <summary>For tests: an errno io_uring_setup is made to fail with on this thread (0: none).</summary>
    [ThreadStatic]
    internal static int SimulatedSetupError;

    /// <summary>For tests: a submission without a wait (not the loop's wait) on this thread is refused as with EBUSY, taking nothing.</summary>
    [ThreadStatic]
    internal static bool SimulatedSubmitBusy;

    /// <summary>For tests: feature bits hidden from what io_uring_setup reports on this thread.</summary>
    [ThreadStatic]
    internal static uint HiddenFeatures;

    internal int WakeFd => _waker!.Fd;

    /// <summary>How many times this poller has called io_uring_enter.</summary>
    internal long Enters => Volatile.Read(ref _enters);

    /// <summary>The setup flags the kernel accepted.</summary>
    internal uint SetupFlags { get; private set; }

    /// <summary>How many completions the next blocking wait asks for (1 unless wake batching holds it for more).</summary>
    internal int BatchTarget => _batchMicroseconds != 0 && _lastCompletions > 1 ? Math.Min(_lastCompletions, MaxBatchedCompletions) : 1;

    /// <summary>For tests: the arena bytes the send requests not reported yet hold, with what lies between them.</summary>
    internal int SendArenaUsed => _sendUsed;

    /// <summary>Submission entries queued and not yet handed to the kernel.</summary>
    internal uint PendingSubmissions => _sqTailLocal - Volatile.Read(ref *_sqHead);

    /// <inheritdoc/>
    protected override int EventCapacity => (int)_cqEntries;

    /// <summary>Why io_uring_setup failing with <paramref name="errno"/> means io_uring is unavailable; <paramref name="disabledSysctl"/> is the value of kernel.io_uring_disabled (null: absent).</summary>
    internal static string ExplainSetupError(int errno, string? disabledSysctl) => errno switch
    {
        Interop.Libc.ENOSYS => "io_uring_setup is not implemented (ENOSYS): the kernel is older than Linux 5.1 or was built without io_uring; this poller needs Linux 5.13 or later.",
        Interop.Libc.EPERM => disabledSysctl switch
        {
            "2" => "io_uring_setup was refused (EPERM): kernel.io_uring_disabled is 2, io_uring is disabled for every process.",
            "1" => "io_uring_setup was refused (EPERM): kernel.io_uring_disabled is 1, only members of kernel.io_uring_group (or holders of CAP_SYS_ADMIN) may create rings.",
            _ => "io_uring_setup was refused (EPERM) although kernel.io_uring_disabled does not forbid it: a seccomp filter denies it, as the default profiles of container runtimes (Docker, containerd, Podman) do.",
        },
        Interop.Libc.ENOMEM => "io_uring_setup found no memory for the rings (ENOMEM): before Linux 5.12 they count against the locked-memory limit (ulimit -l).",
        Interop.Libc.EINVAL => "io_uring_setup rejected the parameters (EINVAL): the kernel is too old for them; this poller needs Linux 5.13 or later.",
        _ => $"io_uring_setup failed: {Marshal.GetPInvokeErrorMessage(errno)} (error {errno}).",
    };

    /// <summary>The features this poller needs that <paramref name="features"/> (io_uring_params.features) lacks, named; empty when none is missing.</summary>
    internal static string MissingFeatures(uint features)
    {
        string missing = string.Empty;
        void Need(uint bit, string name)
        {
            if ((features & bit) == 0)
            {
                missing += (missing.Length == 0 ? string.Empty : ", ") + name;
            }
        }

        Need(Interop.Libc.IORING_FEAT_NODROP, "IORING_FEAT_NODROP (Linux 5.5)");
        Need(Interop.Libc.IORING_FEAT_POLL_32BITS, "IORING_FEAT_POLL_32BITS (Linux 5.9)");
        Need(Interop.Libc.IORING_FEAT_EXT_ARG, "IORING_FEAT_EXT_ARG (Linux 5.11)");
        Need(Interop.Libc.IORING_FEAT_RSRC_TAGS, "IORING_FEAT_RSRC_TAGS (Linux 5.13, which brought multishot poll and poll updates)");
        return missing;
    }

    /// <inheritdoc/>
    protected override int WaitForEvents(int timeoutMilliseconds)
    {
        EnterOnIssuer();
        uint toSubmit = PendingSubmissions;
        uint ready = Volatile.Read(ref *_cqTail) - *_cqHead;
        if (timeoutMilliseconds == 0 && toSubmit == 0 && ready > 0)
        {
            return (int)ready;
        }

        uint flags = Interop.Libc.IORING_ENTER_GETEVENTS;
        uint minComplete = timeoutMilliseconds == 0 ? 0u : 1u;

        if (_heldListCount != 0)
        {
            // A channel holds received bytes it has not heard of, or not read all of: this wait
            // does not sleep, and the dispatch that follows tells it.
            timeoutMilliseconds = 0;
            minComplete = 0;
        }

        if (PrepareSends())
        {
            // A request the kernel took earlier (a submission during dispatch), or one a send call
            // made, is not reported yet: this wait does not sleep, and the dispatch that follows reports it.
            timeoutMilliseconds = 0;
            minComplete = 0;
        }

        KernelTimespec ts;
        IoUringGeteventsArg arg = default;
        void* argp = null;
        nuint argSize = 0;
        if (_batchMicroseconds != 0 && timeoutMilliseconds != 0 && _lastCompletions > 1 && ready == 0)
        {
            // (Completions left in the ring by a handler's exception count toward min_complete;
            // with any there the wait asks for one and takes them at once.)
            // Wake batching: as many completions as last time, or what has come when the window ends.
            minComplete = (uint)Math.Min(_lastCompletions, MaxBatchedCompletions);

            // The kernel waits out the window before it looks at the timeout: a timer due sooner must not run late.
            arg.MinWaitUsec = timeoutMilliseconds > 0 ? (uint)Math.Min(_batchMicroseconds, (long)timeoutMilliseconds * 1000) : _batchMicroseconds;
            flags |= Interop.Libc.IORING_ENTER_EXT_ARG;
            argp = &arg;
            argSize = (nuint)sizeof(IoUringGeteventsArg);
        }

        if (timeoutMilliseconds > 0)
        {
            // The timeout travels with the wait (IORING_ENTER_EXT_ARG): no timeout request needed.
            ts.Seconds = timeoutMilliseconds / 1000;
            ts.Nanoseconds = (timeoutMilliseconds % 1000) * 1_000_000L;
            arg.Ts = (ulong)&ts;
            flags |= Interop.Libc.IORING_ENTER_EXT_ARG;
            argp = &arg;
            argSize = (nuint)sizeof(IoUringGeteventsArg);
        }

        _enters++;
        int result = Interop.Libc.io_uring_enter(_ringFd, toSubmit, minComplete, flags, argp, argSize);
        int errno = result < 0 ? Marshal.GetLastPInvokeError() : 0;
        ready = Volatile.Read(ref *_cqTail) - *_cqHead;
        if (ready > 0)
        {
            return (int)ready;
        }

        if (timeoutMilliseconds != 0 && FirstSendReportable())
        {
            // Interrupted or timed out after submitting requests that went whole (they post
            // nothing): the dispatch reports them rather than the core waiting again first.
            return 0;
        }

        // Nothing came: a batching window of an endless wait ended empty (the kernel returns then;
        // a wait with a timeout goes on for one completion until it), or the wait was interrupted.
        // The next wait is a plain one.
        _lastCompletions = 0;

        // EBUSY (docs/pitfalls.md 21d): completions overflowed the ring (IORING_FEAT_NODROP keeps them) and could not all
        // be flushed; what the ring holds is dispatched and the next wait flushes the rest.
        if (result < 0 && errno is not (Interop.Libc.EINTR or Interop.Libc.ETIME or Interop.Libc.EBUSY or Interop.Libc.EAGAIN))
        {
            throw new NativeCallException($"io_uring_enter(ring {_ringFd}, submit {toSubmit}, wait {timeoutMilliseconds} ms)", errno);
        }

        // Nothing completed: a non-blocking wait found nothing, or a blocking one was interrupted
        // or timed out, and the core waits again for what remains (docs/pitfalls.md 4); an
        // interruption after submitting returns the count submitted, not EINTR.
        return timeoutMilliseconds == 0 ? 0 : -1;
    }

    /// <inheritdoc/>
    protected override void DispatchEvents(int count)
    {
        // Wake batching counts the channels' completions only: a Post's wake-up or a cancel's
        // completion beside one client's request must not make the next wait hold for two.
        _lastCompletions = 0;
        ReportSends(); // the requests the wait submitted: what went whole posted nothing
        DispatchHeld();
        for (int i = 0; i < count; i++)
        {
            uint head = *_cqHead;
            if (head == Volatile.Read(ref *_cqTail))
            {
                return;
            }

            IoUringCqe* cqe = _cqes + (head & _cqMask);
            ulong data = cqe->UserData;
            int res = cqe->Res;
            uint cqeFlags = cqe->Flags;

            // Consumed before dispatch: a handler's exception that leaves the loop must not
            // leave a one-shot poll's only completion behind (its channel would never hear again).
            Volatile.Write(ref *_cqHead, head + 1);
            if (data == WakeData)
            {
                _waker!.Drain();
                AcknowledgeWake();
                if ((cqeFlags & Interop.Libc.IORING_CQE_F_MORE) == 0)
                {
                    ArmWake(); // docs/pitfalls.md 21a: a multishot request that ends must be re-armed
                }

                continue;
            }

            if ((data & ~SendNumberBits) == SendTag)
            {
                if (data != SettledSendData)
                {
                    SendCompletion((int)(data & SendNumberBits), res);
                }

                continue;
            }

            if ((data & ControlTag) != 0)
            {
                ControlCompleted((nint)(long)(data & ~ControlTag), res);
                continue;
            }

            if ((data & RecvTag) != 0)
            {
                ReceiveCompleted((nint)(long)(data & ~RecvTag), res, cqeFlags);
                continue;
            }

            PollCompleted((nint)(long)data, res);
        }
    }

    /// <inheritdoc/>
    protected override void ApplyInterest(in InterestChange change)
    {
        int fd = (int)change.Handle;
        long state = change.State;
        state = (state & 0xFFFF_FFFFL) | ((long)(uint)fd << 32);
        if (_recvRing != null)
        {
            state = change.ReadsStream ? state | StreamBit : state & ~StreamBit;
        }

        bool inKernel = (state & InKernelBit) != 0;
        bool canceling = (state & CancelingBit) != 0;
        IoEvents recorded = (IoEvents)(state & InterestBits);
        state &= ~(InterestBits | FailedBit);

        if (change.IsRemove)
        {
            // (Bytes held stay held through a pause: the registration's end gives them up, in DelChannel.)
            if (inKernel)
            {
                if (!canceling)
                {
                    QueueCancel(state, change.Key);
                    state |= CancelingBit;
                }

                change.State = (nint)state;

                // docs/pitfalls.md 21f: a poll or receive request holds the socket's file; the
                // kernel must let go before the caller closes the descriptor, or the peer would
                // not see the close until the next wait. One system call per removal, as
                // epoll_ctl(DEL) costs (a cancel an interest change queued goes with it).
                SubmitPending(runCompletions: true);
                return;
            }

            change.State = (nint)state;
            return;
        }

        if (!inKernel)
        {
            state = Arm(state, change.Interest, change.Key);
        }
        else if (!canceling && (state & RecvBit) != 0)
        {
            if (change.Interest != IoEvents.Read)
            {
                // A receive watches reading only: it is cancelled, and its completion (with bytes
                // it may have brought meanwhile) arms a poll for the new interest.
                QueueCancel(state, change.Key);
                state |= CancelingBit;
            }
        }
        else if (!canceling && (MaskFor(change.Interest) != MaskFor(recorded) || (state & ReadHeldBit) != 0))
        {
            UpdatePoll(state, change.Key, change.Interest);
            state &= ~ReadHeldBit;
        }

        if ((change.Interest & IoEvents.Read) != 0 && Holds(fd, change.Key))
        {
            ListHeld(fd); // bytes held from before (a pause, a write interest): the next dispatch tells the channel
        }

        // While a cancel is in flight, its final completion re-arms with the interest kept here
        // (docs/pitfalls.md 21b: one request per key in the kernel at most).
        change.State = (nint)(state | (long)change.Interest);
    }

    /// <inheritdoc/>
    protected override bool QueueSend(int token, nint handle, ReadOnlySpan<byte> data)
    {
        if (_sendArena == null || data.Length > SendArenaBytes - _sendUsed || !CanEnter || _earlyCount != 0)
        {
            return false; // no room this iteration (or a batching ring not bound yet): the core sends at once
        }

        IoUringSqe* sqe = NextSqe(); // first: it may submit a full ring or throw, before anything is counted
        uint position = _sqTailLocal;
        byte* copy = _sendArena + _sendUsed;
        data.CopyTo(new Span<byte>(copy, data.Length));
        int number = AddSend(token, _sendUsed, data.Length, position);
        _sendUsed += data.Length;
        sqe->Opcode = Interop.Libc.IORING_OP_SEND;
        sqe->Fd = (int)handle;
        sqe->Addr = (ulong)copy;
        sqe->Len = (uint)data.Length;
        sqe->MsgFlags = SendMessageFlags;
        sqe->Flags = Interop.Libc.IOSQE_CQE_SKIP_SUCCESS; // a request that sends everything posts nothing (PrepareSends may clear this)
        sqe->UserData = SendTag | (uint)number;
        Debug.Assert(sqe->UserData != WakeData && sqe->UserData != SettledSendData, "send numbers stay below 2^31 - 2");
        Publish();
        return true;
    }

    /// <inheritdoc/>
    protected override void SubmitSends(bool settle)
    {
        if (_ringFd < 0 || _sendOutstanding == 0)
        {
            return;
        }

        if (CanEnter)
        {
            SubmitPending(runCompletions: true); // the requests complete as they are submitted
        }

        // What the kernel did not take (or a thread that may not enter the ring could not
        // submit) must not wait for an enter: the descriptor is closing, or the loop returns.
        SendUntaken();
        if (settle && CanEnter)
        {
            // The loop returns: nothing may wait for an iteration that may not come. No request
            // is queued outside an iteration, so this ends once what a report's handlers
            // submitted (a Close) has been reported too, or once a pass reports nothing (a
            // completion in the kernel's overflow list keeps its request for the next loop).
            int before;
            do
            {
                before = _sendOutstanding;
                ReportSends();
            }
            while (_sendOutstanding != 0 && _sendOutstanding < before && FirstSendReportable());
        }
    }

    /// <summary>
    /// Sends each request the kernel has not taken, of every transport, with a send call, as the
    /// kernel would have sent it, and turns its entry into a no-op. Runs on every SubmitSends:
    /// when a transport with a request out closes its socket and as Loop or a lone Poll returns,
    /// after the enter that submits (when this thread may make one); what is left then was
    /// refused (EBUSY or EAGAIN, docs/pitfalls.md 21d) or could not be submitted, and would
    /// otherwise reach whatever socket gets a closed descriptor's number next. The
    /// result is reported as any request's is (what did not go returns to its transport's
    /// queue), without waiting for the no-op, which points at no bytes: the next wait does not
    /// sleep until it is.
    /// </summary>
    private void SendUntaken()
    {
        uint head = Volatile.Read(ref *_sqHead);
        for (int i = _sendFirst; i < _sendCount; i++)
        {
            ref SendRequest request = ref _sends[i];
            if (request.Reported || Reportable(in request, head))
            {
                continue;
            }

            IoUringSqe* sqe = _sqes + (request.Position & _sqMask);
            nint sent = Interop.Libc.send(sqe->Fd, _sendArena + request.Offset, (nuint)request.Length, (int)SendMessageFlags);
            request.Result = sent >= 0 ? (int)sent : -Marshal.GetLastPInvokeError();
            request.HasResult = true;
            MakeNop(sqe);
        }
    }

    /// <summary>Turns a send request's entry the kernel has not taken into a no-op that posts nothing (and whose completion, if any, the dispatch skips).</summary>
    private static void MakeNop(IoUringSqe* sqe)
    {
        *sqe = default; // no flags: a NOP reads its own from where a send's message flags sit
        sqe->Opcode = Interop.Libc.IORING_OP_NOP;
        sqe->Flags = Interop.Libc.IOSQE_CQE_SKIP_SUCCESS;
        sqe->UserData = SettledSendData;
    }

    /// <inheritdoc/>
    protected override void SignalWake() => _waker!.Signal();

    /// <summary>Whether <paramref name="request"/> can be reported, the ring's head having been <paramref name="head"/>: its result is known (a completion or a send call gave it), or the kernel took it.</summary>
    private static bool Reportable(in SendRequest request, uint head) => request.HasResult || (int)(head - request.Position) > 0;

    /// <summary>Whether the first send request not reported yet can be reported: the kernel took it, or its result is known (a send call made it).</summary>
    private bool FirstSendReportable()
    {
        for (int i = _sendFirst; i < _sendCount; i++)
        {
            if (!_sends[i].Reported)
            {
                return Reportable(in _sends[i], Volatile.Read(ref *_sqHead));
            }
        }

        return false;
    }

    /// <summary>
    /// Before an enter: a request not submitted yet whose transport waits for its completion (bytes
    /// queued behind it, a half-close, its writability) posts its completion even when it sends
    /// everything, so that the wait returns with it. True when a request the kernel took earlier,
    /// or one a send call made (SendUntaken), is not reported yet (the wait must not sleep).
    /// </summary>
    private bool PrepareSends()
    {
        if (_sendOutstanding == 0)
        {
            return false;
        }

        uint head = Volatile.Read(ref *_sqHead);
        bool taken = false;
        for (int i = _sendFirst; i < _sendCount; i++)
        {
            ref SendRequest request = ref _sends[i];
            if (request.Reported)
            {
                continue;
            }

            if (Reportable(in request, head))
            {
                taken = true;
            }
            else if (IsSendCompletionAwaited(request.Token))
            {
                _sqes[request.Position & _sqMask].Flags &= unchecked((byte)~Interop.Libc.IOSQE_CQE_SKIP_SUCCESS);
            }
        }

        return taken;
    }

    /// <summary>
    /// Reports every send request the kernel had taken when the report began, and every one whose
    /// result a send call gave (SendUntaken): one with a completion in the ring gets its result (bytes that did not go return to the queue, an
    /// error goes to the handler), one without sent everything. Called as a dispatch starts and
    /// as the loop returns.
    /// </summary>
    /// <remarks>
    /// What the report tells a transport may make it (or a handler it calls) queue requests, and
    /// a full submission ring or a <c>Close</c> submits them in the middle of the report. Their
    /// completions were not in the ring when it was read, so they are left to the next report:
    /// the ring's head is read first, and only requests behind it count as taken here.
    /// </remarks>
    private void ReportSends()
    {
        if (_sendOutstanding == 0 || _reportingSends)
        {
            return;
        }

        _reportingSends = true;
        try
        {
            uint takenBy = Volatile.Read(ref *_sqHead); // before the completions are read: a request taken later may have posted one unread
            for (uint head = *_cqHead; head != Volatile.Read(ref *_cqTail); head++)
            {
                IoUringCqe* cqe = _cqes + (head & _cqMask);
                ulong data = cqe->UserData;
                if ((data & ~SendNumberBits) == SendTag && data != SettledSendData && data != WakeData)
                {
                    cqe->UserData = SettledSendData; // the dispatch skips it
                    int number = (int)(data & SendNumberBits);
                    if (number < _sendCount && !_sends[number].Reported)
                    {
                        _sends[number].Result = cqe->Res;
                        _sends[number].HasResult = true;
                    }
                }
            }

            // A completion the ring had no room for waits in the kernel's overflow list (IORING_FEAT_NODROP):
            // while there is one, a request without a completion is not known to have gone whole.
            bool overflowed = (Volatile.Read(ref *_sqFlags) & Interop.Libc.IORING_SQ_CQ_OVERFLOW) != 0;
            for (int i = _sendFirst; i < _sendCount; i++)
            {
                SendRequest request = _sends[i];
                if (request.Reported)
                {
                    continue;
                }

                if (!Reportable(in request, takenBy))
                {
                    break; // the kernel takes entries in order: none after this one was taken either (a send call's result aside)
                }

                if (request.HasResult || !overflowed)
                {
                    ReportSend(i, request.HasResult ? request.Result : request.Length);
                }
            }

            while (_sendFirst < _sendCount && _sends[_sendFirst].Reported)
            {
                _sendFirst++;
            }

            if (_sendOutstanding == 0)
            {
                _sendCount = 0; // every request reported: the arena is free again
                _sendFirst = 0;
                _sendUsed = 0;
            }
            else if (_sendFirst > 0)
            {
                MoveUnsubmittedSendsToFront();
            }
        }
        finally
        {
            _reportingSends = false;
        }
    }

    /// <summary>
    /// When every request still out was queued and not yet submitted (a completion queued the
    /// bytes written behind its request, as a transport that writes twice a turn does every
    /// turn), nothing in the kernel names them: they move to the front of the arena and of the
    /// list, their entries following, so that the arena does not creep towards full while it
    /// never empties.
    /// </summary>
    private void MoveUnsubmittedSendsToFront()
    {
        uint head = Volatile.Read(ref *_sqHead);
        for (int i = _sendFirst; i < _sendCount; i++)
        {
            ref SendRequest request = ref _sends[i];
            if (!request.Reported && Reportable(in request, head))
            {
                return; // the kernel took it, or a send call did: its number may be in a completion
            }
        }

        int count = 0;
        int used = 0;
        for (int i = _sendFirst; i < _sendCount; i++)
        {
            SendRequest request = _sends[i];
            if (request.Reported)
            {
                continue;
            }

            byte* to = _sendArena + used;
            Buffer.MemoryCopy(_sendArena + request.Offset, to, SendArenaBytes - used, request.Length); // overlapping moves are allowed
            IoUringSqe* sqe = _sqes + (request.Position & _sqMask);
            sqe->Addr = (ulong)to;
            sqe->UserData = SendTag | (uint)count;
            request.Offset = used;
            _sends[count++] = request;
            used += request.Length;
        }

        _sendCount = count;
        _sendFirst = 0;
        _sendUsed = used;
    }

    /// <summary>A send request's completion met in the dispatch that the report at its start did not read (none as a rule: that report settles every one in the ring): reported at once.</summary>
    private void SendCompletion(int number, int res)
    {
        if (number < _sendCount && !_sends[number].Reported)
        {
            ReportSend(number, res);
        }
    }

    /// <summary>Tells request <paramref name="number"/>'s transport what went (<paramref name="res"/>: bytes or a negated errno) and gives back what did not.</summary>
    private void ReportSend(int number, int res)
    {
        SendRequest request = _sends[number];
        _sends[number].Reported = true; // first: the transport may queue another request meanwhile (the array may grow)
        _sendOutstanding--;
        int sent = res > 0 ? Math.Min(res, request.Length) : 0;
        int unsent = res >= 0 || res == -Interop.Libc.EAGAIN ? request.Length - sent : 0;
        ProcessSendCompletion(request.Token, res, new ReadOnlySpan<byte>(_sendArena + request.Offset + sent, unsent));
    }

    private int AddSend(int token, int offset, int length, uint position)
    {
        if (_sendCount == _sends.Length)
        {
            Array.Resize(ref _sends, _sends.Length * 2); // only when one iteration queues more than any before
        }

        _sends[_sendCount] = new SendRequest { Token = token, Offset = offset, Length = length, Position = position };
        _sendOutstanding++;
        return _sendCount++;
    }

    /// <summary>
    /// Whether a send request behaves as the design needs (checked on a socket pair until the
    /// answer is definite, which the process then keeps; a batching poller checks on a plain
    /// ring of its own): one that sends everything posts no completion, one cut short reports the
    /// bytes that went, one that finds the socket full reports EAGAIN, each by the time the
    /// enter that submits it returns. Runs on a new ring, before anything else is queued on it.
    /// </summary>
    private bool SendsCompleteAsSubmitted()
    {
        int known = Volatile.Read(ref s_sendCheck);
        if (known != 0)
        {
            return known > 0;
        }

        if (_batchMicroseconds != 0)
        {
            try
            {
                using var plain = new IoUringPoller(8); // a batching ring cannot be entered before its loop runs; this one checks and records
                return plain.SendWithWaitLimit != 0;
            }
            catch (Exception error) when (error is NativeCallException or PollerUnavailableException)
            {
                return false; // no ring to check on now (descriptors or memory short): sends at once, and the next poller checks again
            }
        }

        // Only a definite answer is kept: a check that could not run (no descriptor for the
        // socket pair, an enter refused for now) leaves it to the next poller.
        int verdict = CheckSends();
        if (verdict != 0)
        {
            Volatile.Write(ref s_sendCheck, verdict);
        }

        return verdict > 0;
    }

    /// <summary>1: sends behave as needed; -1: they do not; 0: the check could not run.</summary>
    private int CheckSends()
    {
        const int Large = 64 * 1024;
        int* pair = stackalloc int[2];
        if (Interop.Libc.socketpair(Interop.Libc.AF_UNIX, Interop.Libc.SOCK_STREAM | Interop.Libc.SOCK_CLOEXEC, 0, pair) != 0)
        {
            return 0;
        }

        byte* bytes = (byte*)NativeMemory.AllocZeroed(Large);
        try
        {
            int size = 4096;
            Interop.Libc.setsockopt(pair[0], Interop.Libc.SOL_SOCKET, Interop.Libc.SO_SNDBUF, &size, sizeof(int));
            int whole = CheckSend(pair[0], bytes, 16);
            int cut = whole == NotTaken ? NotTaken : CheckSend(pair[0], bytes, Large);
            int full = cut == NotTaken ? NotTaken : CheckSend(pair[0], bytes, 16);
            if (full == NotTaken)
            {
                return 0;
            }

            return whole == NoCompletion && cut is > 0 and < Large && full == -Interop.Libc.EAGAIN ? 1 : -1;
        }
        finally
        {
            NativeMemory.Free(bytes);
            Interop.Libc.close(pair[0]);
            Interop.Libc.close(pair[1]);
        }
    }

    /// <summary>Submits one send request (without waiting) and returns its completion's result, <see cref="NoCompletion"/> when none was posted, <see cref="NotTaken"/> when the kernel did not take it.</summary>
    private int CheckSend(int fd, byte* bytes, int length)
    {
        IoUringSqe* sqe = NextSqe();
        sqe->Opcode = Interop.Libc.IORING_OP_SEND;
        sqe->Fd = fd;
        sqe->Addr = (ulong)bytes;
        sqe->Len = (uint)length;
        sqe->MsgFlags = SendMessageFlags;
        sqe->Flags = Interop.Libc.IOSQE_CQE_SKIP_SUCCESS;
        sqe->UserData = SettledSendData;
        Publish();
        Submit(PendingSubmissions, runCompletions: false);
        if (PendingSubmissions != 0)
        {
            MakeNop(sqe); // not to the socket pair's number once it is closed and reused
            return NotTaken;
        }

        uint head = *_cqHead;
        if (head == Volatile.Read(ref *_cqTail))
        {
            return NoCompletion;
        }

        int res = _cqes[head & _cqMask].Res;
        Volatile.Write(ref *_cqHead, head + 1);
        return res;
    }

    /// <summary>A send request: its token, where its bytes sit in the arena, where its entry sits in the ring, and its result once known.</summary>
    /// <summary>What a receive request brought a channel that it has not read yet.</summary>
    private struct HeldReceive
    {
        public nint Key;            // the registration it is for
        public int Buffer;          // the ring buffer's id + 1; 0: none
        public int Offset;          // read so far
        public int Length;          // what the receive brought
        public int End;             // 0; HeldEnd: the end of the stream; or a negated errno
        public bool Listed;         // in the list of the next dispatch
    }

    private struct SendRequest
    {
        public int Token;
        public int Offset;
        public int Length;
        public uint Position;
        public int Result;
        public bool HasResult;
        public bool Reported;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        Release();
        base.Dispose(disposing);
    }

    private static uint MaskFor(IoEvents interest) =>
        ((interest & IoEvents.Read) != 0 ? PollIn | PollRdHup : 0)
        | ((interest & IoEvents.Write) != 0 ? PollOut : 0);

    private static IoEvents ReadyFrom(uint mask) =>
        ((mask & (PollIn | PollRdHup | PollHup | PollErr)) != 0 ? IoEvents.Read : IoEvents.None)
        | ((mask & (PollOut | PollHup | PollErr)) != 0 ? IoEvents.Write : IoEvents.None);

    private static string? ReadDisabledSysctl()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/io_uring_disabled").Trim();
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private IoUringParams Setup(uint entries)
    {
        IoUringParams p = default;
        int fd;
        int errno;
        uint flags = PreferredSetupFlags;
        uint batching = _batchMicroseconds != 0 ? BatchingSetupFlags : 0;
        while (true)
        {
            p = default;
            p.Flags = flags | batching;
            p.CqEntries = Math.Max(entries * CompletionsPerSubmission, MinCompletionEntries);
            if (SimulatedSetupError != 0)
            {
                fd = -1;
                errno = SimulatedSetupError;
            }
            else
            {
                fd = Interop.Libc.io_uring_setup(entries, &p);
                errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
            }

            if (fd >= 0 || errno != Interop.Libc.EINVAL || flags == BaseSetupFlags)
            {
                break;
            }

            if (batching != 0)
            {
                throw new PollerUnavailableException("io_uring_setup refused SINGLE_ISSUER and DEFER_TASKRUN (EINVAL): wake batching needs Linux 6.12; create the poller without it.", new NativeCallException("io_uring_setup", errno));
            }

            flags = BaseSetupFlags; // SUBMIT_ALL and COOP_TASKRUN came with Linux 5.18 and 5.19
        }

        if (fd < 0)
        {
            throw new PollerUnavailableException(ExplainSetupError(errno, errno == Interop.Libc.EPERM ? ReadDisabledSysctl() : null), new NativeCallException("io_uring_setup", errno));
        }

        _ringFd = fd;
        SetupFlags = flags | batching;
        _ringEnabled = batching == 0;
        string missing = MissingFeatures(p.Features & ~HiddenFeatures);
        if (missing.Length != 0)
        {
            Release();
            throw new PollerUnavailableException($"The kernel's io_uring lacks what this poller needs: {missing}; Linux 5.13 or later has it all.");
        }

        if (batching != 0 && (p.Features & ~HiddenFeatures & Interop.Libc.IORING_FEAT_MIN_TIMEOUT) == 0)
        {
            Release();
            throw new PollerUnavailableException("The kernel's io_uring lacks IORING_FEAT_MIN_TIMEOUT (Linux 6.12), which wake batching needs to bound how long a wait holds completions back; create the poller without it.");
        }

        if (!SupportsPollOperations())
        {
            Release();
            throw new PollerUnavailableException("The kernel's io_uring does not offer IORING_OP_POLL_ADD and IORING_OP_POLL_REMOVE (IORING_REGISTER_PROBE): a filter or an old kernel keeps them out.");
        }

        return p;
    }

    private bool SupportsPollOperations() =>
        SupportsOperation(Interop.Libc.IORING_OP_POLL_ADD) && SupportsOperation(Interop.Libc.IORING_OP_POLL_REMOVE);

    /// <summary>Whether the kernel offers <paramref name="op"/> on this ring (<c>IORING_REGISTER_PROBE</c>; a filter can remove operations).</summary>
    private bool SupportsOperation(byte op)
    {
        const int Ops = 64;
        byte* buffer = stackalloc byte[sizeof(IoUringProbeHeader) + (Ops * sizeof(IoUringProbeOp))];
        new Span<byte>(buffer, sizeof(IoUringProbeHeader) + (Ops * sizeof(IoUringProbeOp))).Clear();
        if (Interop.Libc.io_uring_register(_ringFd, Interop.Libc.IORING_REGISTER_PROBE, buffer, Ops) < 0)
        {
            return false;
        }

        var header = (IoUringProbeHeader*)buffer;
        var ops = (IoUringProbeOp*)(buffer + sizeof(IoUringProbeHeader));
        return op < header->OpsLen && (ops[op].Flags & Interop.Libc.IO_URING_OP_SUPPORTED) != 0;
    }

    private void MapRings(in IoUringParams p)
    {
        _sqRingSize = p.SqOff.Array + (p.SqEntries * sizeof(uint));
        _cqRingSize = p.CqOff.Cqes + (p.CqEntries * (nuint)sizeof(IoUringCqe));
        bool single = (p.Features & Interop.Libc.IORING_FEAT_SINGLE_MMAP) != 0;
        if (single)
        {
            _sqRingSize = Math.Max(_sqRingSize, _cqRingSize);
        }

        _sqRing = Map(_sqRingSize, Interop.Libc.IORING_OFF_SQ_RING, "SQ ring");
        if (single)
        {
            _cqRing = _sqRing;
            _cqRingSize = 0; // unmapped with the SQ ring
        }
        else
        {
            _cqRing = Map(_cqRingSize, Interop.Libc.IORING_OFF_CQ_RING, "CQ ring");
        }

        _sqesSize = p.SqEntries * (nuint)sizeof(IoUringSqe);
        _sqes = (IoUringSqe*)Map(_sqesSize, Interop.Libc.IORING_OFF_SQES, "SQEs");

        _sqHead = (uint*)(_sqRing + p.SqOff.Head);
        _sqTail = (uint*)(_sqRing + p.SqOff.Tail);
        _sqFlags = (uint*)(_sqRing + p.SqOff.Flags);
        _sqMask = *(uint*)(_sqRing + p.SqOff.RingMask);
        _sqEntries = *(uint*)(_sqRing + p.SqOff.RingEntries);
        _sqTailLocal = *_sqTail;
        uint* array = (uint*)(_sqRing + p.SqOff.Array);
        for (uint i = 0; i < _sqEntries; i++)
        {
            array[i] = i; // entry i of the ring always names SQE i
        }

        _cqHead = (uint*)(_cqRing + p.CqOff.Head);
        _cqTail = (uint*)(_cqRing + p.CqOff.Tail);
        _cqMask = *(uint*)(_cqRing + p.CqOff.RingMask);
        _cqEntries = *(uint*)(_cqRing + p.CqOff.RingEntries);
        _cqes = (IoUringCqe*)(_cqRing + p.CqOff.Cqes);
    }

    private byte* Map(nuint size, long offset, string what)
    {
        void* mapped = Interop.Libc.mmap(null, size, Interop.Libc.PROT_READ | Interop.Libc.PROT_WRITE, Interop.Libc.MAP_SHARED | Interop.Libc.MAP_POPULATE, _ringFd, offset);
        if (mapped == (void*)-1)
        {
            throw new NativeCallException($"mmap(io_uring {what}, {size} bytes)", Marshal.GetLastPInvokeError());
        }

        return (byte*)mapped;
    }

    private void Release()
    {
        _waker?.Dispose();
        SendWithWaitLimit = 0;
        NativeMemory.Free(_early);
        _early = null;
        _earlyCount = 0;
        _earlyMoved = 0;
        _earlyCapacity = 0;
        if (_sqes != null)
        {
            Interop.Libc.munmap(_sqes, _sqesSize);
            _sqes = null;
        }

        if (_cqRing != null && _cqRing != _sqRing)
        {
            Interop.Libc.munmap(_cqRing, _cqRingSize);
        }

        _cqRing = null;
        if (_sqRing != null)
        {
            Interop.Libc.munmap(_sqRing, _sqRingSize);
            _sqRing = null;
        }

        if (_ringFd >= 0)
        {
            Interop.Libc.close(_ringFd);
            _ringFd = -1;
        }

        NativeMemory.AlignedFree(_recvRing); // the ring is closed: no request can write into them any more
        _recvRing = null;
        NativeMemory.AlignedFree(_recvBuffers);
        _recvBuffers = null;
        ReceivesForChannels = false;
        NativeMemory.Free(_sendArena); // the ring is closed: no request can read it any more
        _sendArena = null;
    }

    private void ArmWake()
    {
        IoUringSqe* sqe = NextSqe();
        sqe->Opcode = Interop.Libc.IORING_OP_POLL_ADD;
        sqe->Fd = _waker!.Fd;
        sqe->Len = Interop.Libc.IORING_POLL_ADD_MULTI; // drained at every completion, so edge-like is right here
        sqe->Poll32Events = PollIn;
        sqe->UserData = WakeData;
        Publish();
    }

    /// <summary>
    /// Watches the key for <paramref name="interest"/> (nothing of it in the kernel now): with a
    /// receive when the channel only reads a stream and the ring receives, with a poll otherwise;
    /// a channel that holds received bytes is listed for the next dispatch instead of watched for
    /// reading. Returns the new state.
    /// </summary>
    private long Arm(long state, IoEvents interest, nint key)
    {
        state &= ~(RecvBit | ReadHeldBit);
        if ((state & StreamBit) != 0 && (interest & IoEvents.Read) != 0)
        {
            int fd = (int)(state >> 32);
            if (Holds(fd, key))
            {
                ListHeld(fd);
                interest &= ~IoEvents.Read;
                if (interest == IoEvents.None)
                {
                    return state & ~InKernelBit;
                }

                return QueuePoll(state | ReadHeldBit, interest, key) | InKernelBit;
            }

            if (interest == IoEvents.Read)
            {
                return QueueReceive(state, key);
            }
        }

        return QueuePoll(state, interest, key) | InKernelBit;
    }

    /// <summary>Queues a one-shot receive into a buffer of the ring for the descriptor <paramref name="state"/> names.</summary>
    private long QueueReceive(long state, nint key)
    {
        IoUringSqe* sqe = NextSqe();
        sqe->Opcode = Interop.Libc.IORING_OP_RECV;
        sqe->Fd = (int)(state >> 32);
        sqe->Flags = Interop.Libc.IOSQE_BUFFER_SELECT;
        sqe->BufIndex = ReceiveGroup; // buf_group, with IOSQE_BUFFER_SELECT
        sqe->UserData = (ulong)(long)key | RecvTag;
        Publish();
        return (state & ~(QueuedAtBits | EarlyBit)) | RecvBit | InKernelBit;
    }

    /// <summary>Queues the cancellation of the key's request in the kernel (its poll or its receive).</summary>
    private void QueueCancel(long state, nint key)
    {
        IoUringSqe* sqe = NextSqe();
        sqe->Fd = -1;
        if ((state & RecvBit) != 0)
        {
            sqe->Opcode = Interop.Libc.IORING_OP_ASYNC_CANCEL;
            sqe->Addr = (ulong)(long)key | RecvTag;
        }
        else
        {
            sqe->Opcode = Interop.Libc.IORING_OP_POLL_REMOVE;
            sqe->Addr = (ulong)(long)key;
        }

        sqe->UserData = ControlTag | (ulong)(long)key;
        Publish();
    }

    /// <summary>Makes the key's poll in the kernel watch <paramref name="interest"/>: in place while the kernel has not read its entry, with an update request otherwise.</summary>
    private void UpdatePoll(long state, nint key, IoEvents interest)
    {
        if (QueuedPoll(state, key) is var queued && queued != null)
        {
            queued->Poll32Events = MaskFor(interest); // not submitted yet: the kernel will see the new mask only
            return;
        }

        IoUringSqe* sqe = NextSqe();
        sqe->Opcode = Interop.Libc.IORING_OP_POLL_REMOVE;
        sqe->Fd = -1;
        sqe->Addr = (ulong)(long)key;
        sqe->Len = Interop.Libc.IORING_POLL_UPDATE_EVENTS;
        sqe->Poll32Events = MaskFor(interest);
        sqe->UserData = ControlTag | (ulong)(long)key;
        Publish();
    }

    /// <summary>A receive request for <paramref name="key"/> ended: what it brought is held for the channel, which hears of it now; then the key is watched again.</summary>
    private void ReceiveCompleted(nint key, int res, uint cqeFlags)
    {
        if (!TryGetBackendState(key, out nint raw))
        {
            // The registration ended (docs/pitfalls.md 1): its bytes go with it, its buffer back to the ring.
            if ((cqeFlags & Interop.Libc.IORING_CQE_F_BUFFER) != 0)
            {
                RecycleBuffer((int)(cqeFlags >> Interop.Libc.IORING_CQE_BUFFER_SHIFT));
            }

            return;
        }

        long state = raw & ~(InKernelBit | CancelingBit | RecvBit);
        IoEvents interest = (IoEvents)(state & InterestBits);
        SetBackendState(key, (nint)state);

        // TakenEarly: a Recv took what it brought before its turn (TakeEarlyCompletion); the
        // channel is told all the same, as a readiness another handler drained.
        bool news = res == TakenEarly || Hold((int)(state >> 32), key, res, cqeFlags);
        if (res != -Interop.Libc.ECANCELED)
        {
            _lastCompletions++; // a live channel's readiness: what wake batching counts
        }

        try
        {
            if (news && (interest & IoEvents.Read) != 0)
            {
                ProcessEvent(key, IoEvents.Read); // also while an interest change cancels it: bytes are bytes
            }
        }
        finally
        {
            Rearm(key);
        }
    }

    /// <summary>Keeps what a receive brought for the channel (its bytes, the end of the stream, an error); returns whether the channel has news.</summary>
    private bool Hold(int fd, nint key, int res, uint cqeFlags)
    {
        int buffer = (cqeFlags & Interop.Libc.IORING_CQE_F_BUFFER) != 0 ? (int)(cqeFlags >> Interop.Libc.IORING_CQE_BUFFER_SHIFT) : -1;
        ref HeldReceive held = ref HeldFor(fd, key);
        bool news = true;
        if (res > 0 && buffer >= 0)
        {
            held.Buffer = buffer + 1;
            held.Offset = 0;
            held.Length = res;
            buffer = -1;
        }
        else if (res == 0)
        {
            held.End = HeldEnd;
        }
        else if (res is -Interop.Libc.ECANCELED or -Interop.Libc.EINTR or -Interop.Libc.EAGAIN)
        {
            news = false; // nothing came: the key is watched again
        }
        else if (res != -Interop.Libc.ENOBUFS)
        {
            held.End = res; // the receive failed: Recv reports it
        }

        // ENOBUFS: bytes came while every buffer was held by some channel. The channel is told it
        // is readable, and its Recv reads with a receive call (no request of ours is out then).
        if (buffer >= 0)
        {
            RecycleBuffer(buffer); // a buffer that brought nothing (the end of the stream)
        }

        return news;
    }

    /// <summary>
    /// A Recv while the key's receive request is out: when its completion is in the ring already
    /// (a handler reading another channel of the same batch), what it brought is held now and the
    /// completion marked taken; returns whether it held something.
    /// </summary>
    private bool TakeEarlyCompletion(int fd, nint key)
    {
        ulong data = (ulong)(long)key | RecvTag;
        uint tail = Volatile.Read(ref *_cqTail);
        for (uint head = *_cqHead; head != tail; head++)
        {
            IoUringCqe* cqe = _cqes + (head & _cqMask);
            if (cqe->UserData != data || cqe->Res == TakenEarly)
            {
                continue;
            }

            if (cqe->Res is -Interop.Libc.ECANCELED or -Interop.Libc.EINTR or -Interop.Libc.EAGAIN or -Interop.Libc.ENOBUFS)
            {
                return false; // nothing to hold: its turn tells the channel
            }

            Hold(fd, key, cqe->Res, cqe->Flags);
            cqe->Res = TakenEarly;
            cqe->Flags = 0; // its buffer is the channel's now
            return true;
        }

        return false;
    }

    /// <summary>Tells the listed channels of the bytes they hold (from a receive whose dispatch they did not read all of, a pause, or a write interest); lists again the ones that still hold some.</summary>
    private void DispatchHeld()
    {
        int count = _heldListCount;
        if (count == 0)
        {
            return;
        }

        // Handlers list channels again as they go: those go to the next dispatch.
        int[] taken = _heldList;
        _heldList = _heldSpare;
        _heldSpare = taken;
        _heldListCount = 0;
        for (int i = 0; i < count; i++)
        {
            int fd = taken[i];
            _held[fd].Listed = false;
            nint key = _held[fd].Key;
            if (!TryGetBackendState(key, out nint raw) || ((IoEvents)((long)raw & InterestBits) & IoEvents.Read) == 0)
            {
                continue; // gone, or not reading now: a resumption lists it again
            }

            try
            {
                if (Holds(fd, key))
                {
                    ProcessEvent(key, IoEvents.Read);
                }
            }
            finally
            {
                WatchAfterHeld(key);
            }
        }
    }

    /// <summary>After a listed channel's dispatch: listed again while it holds bytes; otherwise watched for reading again.</summary>
    private void WatchAfterHeld(nint key)
    {
        if (!TryGetBackendState(key, out nint raw))
        {
            return;
        }

        long state = raw;
        IoEvents interest = (IoEvents)(state & InterestBits);
        int fd = (int)(state >> 32);
        if ((interest & IoEvents.Read) == 0)
        {
            return;
        }

        if (Holds(fd, key))
        {
            ListHeld(fd);
        }
        else if ((state & InKernelBit) == 0)
        {
            SetBackendState(key, (nint)Arm(state, interest, key));
        }
        else if ((state & (ReadHeldBit | CancelingBit | RecvBit)) == ReadHeldBit)
        {
            // Its poll leaves reading out while it held bytes: now it watches reading too.
            UpdatePoll(state, key, interest);
            SetBackendState(key, (nint)(state & ~ReadHeldBit));
        }
    }

    /// <inheritdoc/>
    protected override int TakeReceived(nint key, Span<byte> buffer)
    {
        if (!TryGetBackendState(key, out nint raw) || ((long)raw & StreamBit) == 0)
        {
            return ReceiveWithCall;
        }

        long state = raw;
        int fd = (int)(state >> 32);
        if (!Holds(fd, key) && ((state & RecvBit) == 0 || !TakeEarlyCompletion(fd, key)))
        {
            // A receive request out (or queued) brings what comes next: a receive call now could
            // overtake the bytes it takes.
            return (state & RecvBit) != 0 ? 0 : ReceiveWithCall;
        }

        ref HeldReceive held = ref _held[fd];
        if (held.Buffer != 0)
        {
            int taken = Math.Min(held.Length - held.Offset, buffer.Length);
            new ReadOnlySpan<byte>(_recvBuffers + ((long)(held.Buffer - 1) * ReceiveBufferBytes) + held.Offset, taken).CopyTo(buffer);
            held.Offset += taken;
            if (held.Offset == held.Length)
            {
                RecycleBuffer(held.Buffer - 1);
                held.Buffer = 0;
            }

            return taken;
        }

        if (held.End == HeldEnd)
        {
            return ReceivedEnd; // as a receive call's, again at every read
        }

        int error = held.End;
        held.End = 0; // a socket error is reported once
        return error;
    }

    private bool Holds(int fd, nint key) =>
        fd < _held.Length && _held[fd].Key == key && (_held[fd].Buffer != 0 || _held[fd].End != 0);

    private void ListHeld(int fd)
    {
        ref HeldReceive held = ref _held[fd];
        if (held.Listed)
        {
            return;
        }

        if (_heldListCount == _heldList.Length)
        {
            Array.Resize(ref _heldList, _heldList.Length * 2);
            Array.Resize(ref _heldSpare, _heldList.Length);
        }

        held.Listed = true;
        _heldList[_heldListCount++] = fd;
    }

    /// <summary>The held record of descriptor <paramref name="fd"/> for registration <paramref name="key"/>; one an ended registration left is cleared first.</summary>
    private ref HeldReceive HeldFor(int fd, nint key)
    {
        if (fd >= _held.Length)
        {
            Array.Resize(ref _held, Math.Max(Math.Max(64, fd + 1), _held.Length * 2));
        }

        ref HeldReceive held = ref _held[fd];
        if (held.Key != key)
        {
            if (held.Buffer != 0)
            {
                RecycleBuffer(held.Buffer - 1); // (DelChannel takes what a registration held; this is the backstop)
            }

            bool listed = held.Listed; // still in the list: the dispatch finds the new key there
            held = default;
            held.Key = key;
            held.Listed = listed;
        }

        return ref held;
    }

    /// <summary>Hands buffer <paramref name="id"/> back to the kernel's ring.</summary>
    private void RecycleBuffer(int id)
    {
        // Field by field: the first entry's last field is the ring's tail.
        IoUringBuf* entry = _recvRing + (_recvTail & (ReceiveBufferCount - 1));
        entry->Addr = (ulong)(_recvBuffers + ((long)id * ReceiveBufferBytes));
        entry->Len = ReceiveBufferBytes;
        entry->Bid = (ushort)id;
        _recvTail++;
        Volatile.Write(ref *(ushort*)((byte*)_recvRing + 14), _recvTail);
    }

    /// <summary>Registers the ring of receive buffers (IORING_REGISTER_PBUF_RING, Linux 5.19) and fills it.</summary>
    private void SetUpReceives()
    {
        if (!SupportsOperation(Interop.Libc.IORING_OP_RECV) || !SupportsOperation(Interop.Libc.IORING_OP_ASYNC_CANCEL))
        {
            throw new PollerUnavailableException("The kernel's io_uring does not offer IORING_OP_RECV and IORING_OP_ASYNC_CANCEL (IORING_REGISTER_PROBE), which receives through the ring need; create the poller without them.");
        }

        nuint ringBytes = (nuint)(ReceiveBufferCount * sizeof(IoUringBuf));
        _recvRing = (IoUringBuf*)NativeMemory.AlignedAlloc(ringBytes, 4096); // the kernel wants it page-aligned
        NativeMemory.Clear(_recvRing, ringBytes);
        _recvBuffers = (byte*)NativeMemory.AlignedAlloc((nuint)ReceiveBufferCount * ReceiveBufferBytes, 4096);
        IoUringBufReg reg = default;
        reg.RingAddr = (ulong)_recvRing;
        reg.RingEntries = ReceiveBufferCount;
        reg.Bgid = ReceiveGroup;
        if (Interop.Libc.io_uring_register(_ringFd, Interop.Libc.IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new PollerUnavailableException(
                $"io_uring_register(PBUF_RING) failed ({errno}): receives through the ring need Linux 5.19; create the poller without them.",
                new NativeCallException("io_uring_register(IORING_REGISTER_PBUF_RING)", errno));
        }

        for (int id = 0; id < ReceiveBufferCount; id++)
        {
            RecycleBuffer(id);
        }

        ReceivesForChannels = true;
    }

    /// <summary>Queues a one-shot poll for the descriptor <paramref name="state"/> names; returns the state with where it was queued.</summary>
    private long QueuePoll(long state, IoEvents interest, nint key)
    {
        IoUringSqe* sqe = NextSqe();
        sqe->Opcode = Interop.Libc.IORING_OP_POLL_ADD;
        sqe->Fd = (int)(state >> 32);
        sqe->Poll32Events = MaskFor(interest);
        sqe->UserData = (ulong)(long)key;
        long queuedAt = (long)(_sqTailLocal & 0xFFFF) << QueuedAtShift;
        long early = _nextIsEarly ? EarlyBit : 0;
        Publish();
        return (state & ~(QueuedAtBits | EarlyBit)) | queuedAt | early;
    }

    /// <summary>The key's POLL_ADD entry when it is still in the submission ring, not yet read by the kernel; null otherwise.</summary>
    private IoUringSqe* QueuedPoll(long state, nint key)
    {
        if ((state & EarlyBit) != 0)
        {
            return null; // in the early buffer: an update queued after it keeps the order
        }

        uint position = (uint)((state & QueuedAtBits) >> QueuedAtShift);
        uint pending = PendingSubmissions;
        uint age = (_sqTailLocal - position) & 0xFFFF; // entries queued since, itself included
        if (age == 0 || age > pending)
        {
            return null;
        }

        IoUringSqe* sqe = _sqes + ((_sqTailLocal - age) & _sqMask);
        return sqe->Opcode == Interop.Libc.IORING_OP_POLL_ADD && sqe->UserData == (ulong)(long)key ? sqe : null;
    }

    /// <summary>A one-shot poll for <paramref name="key"/> ended (fired, or was cancelled): dispatch it and watch again.</summary>
    private void PollCompleted(nint key, int res)
    {
        if (!TryGetBackendState(key, out nint raw))
        {
            return; // the registration ended (docs/pitfalls.md 1, 21b): its one-shot request is over too
        }

        long state = raw;
        bool canceling = (state & CancelingBit) != 0;
        state &= ~(InKernelBit | CancelingBit);
        IoEvents interest = (IoEvents)(state & InterestBits);
        if (res < 0 && res != -Interop.Libc.ECANCELED)
        {
            // The kernel refused the poll (a descriptor it cannot watch): say so once, and do not
            // re-arm a request that would fail the same way every iteration.
            SetBackendState(key, (nint)(state | FailedBit));
            ReportChannelError(key, new NativeCallException($"io_uring POLL_ADD(fd {(int)(state >> 32)})", -res));
            return;
        }

        SetBackendState(key, (nint)state);
        if (res != -Interop.Libc.ECANCELED)
        {
            _lastCompletions++; // a live channel's readiness: what wake batching counts
        }

        try
        {
            if (res > 0 && !canceling && interest != IoEvents.None)
            {
                ProcessEvent(key, ReadyFrom((uint)res));
            }
        }
        finally
        {
            Rearm(key);
        }
    }

    private void Rearm(nint key)
    {
        if (!TryGetBackendState(key, out nint raw))
        {
            return;
        }

        long state = raw;
        IoEvents interest = (IoEvents)(state & InterestBits);
        if ((state & (InKernelBit | FailedBit)) != 0 || interest == IoEvents.None)
        {
            return;
        }

        SetBackendState(key, (nint)Arm(state, interest, key));
    }

    private void ControlCompleted(nint key, int res)
    {
        // ENOENT/EALREADY: the request had completed already (its completion re-arms with the
        // interest recorded); anything else is the kernel refusing the change.
        if (res < 0 && res is not (-Interop.Libc.ENOENT or -Interop.Libc.EALREADY or -Interop.Libc.ECANCELED))
        {
            ReportChannelError(key, new NativeCallException("io_uring POLL_REMOVE/update", -res));
        }
    }

    /// <summary>The next free submission entry, cleared; a full ring is submitted first (docs/pitfalls.md 21c).</summary>
    private IoUringSqe* NextSqe()
    {
        if (_sqTailLocal - Volatile.Read(ref *_sqHead) >= _sqEntries)
        {
            if (!CanEnter)
            {
                return NextEarlySqe(); // not this thread's ring (or not entered yet): kept for the issuer's next enter
            }

            SubmitPending(runCompletions: false);
            if (_sqTailLocal - Volatile.Read(ref *_sqHead) >= _sqEntries)
            {
                throw new NativeCallException($"io_uring_enter(ring {_ringFd}): the submission ring stays full", Interop.Libc.EBUSY);
            }
        }

        if (_earlyCount != 0)
        {
            return NextEarlySqe(); // after the first early entry, every entry waits its turn there
        }

        IoUringSqe* sqe = _sqes + (_sqTailLocal & _sqMask);
        *sqe = default;
        _nextIsEarly = false;
        return sqe;
    }

    /// <summary>Whether this thread may enter the ring now: always without batching; with it, once the ring is bound to this thread.</summary>
    private bool CanEnter => _batchMicroseconds == 0 || (_ringEnabled && _issuer == Thread.CurrentThread);

    /// <summary>
    /// An entry kept in process memory: a batching ring may not be entered before its loop first
    /// waits (the first thread to enter it owns it), so what does not fit in the ring until then
    /// is kept here, in order, and moved into the ring by that first wait.
    /// </summary>
    private IoUringSqe* NextEarlySqe()
    {
        if (_earlyCount == _earlyCapacity)
        {
            int capacity = Math.Max(64, _earlyCapacity * 2);
            _early = (IoUringSqe*)NativeMemory.Realloc(_early, (nuint)capacity * (nuint)sizeof(IoUringSqe));
            _earlyCapacity = capacity;
        }

        IoUringSqe* sqe = _early + _earlyCount;
        *sqe = default;
        _nextIsEarly = true;
        return sqe;
    }

    /// <summary>Moves the early entries into the ring, in order, submitting (without waiting) whenever it fills.</summary>
    private void MoveEarlyEntries()
    {
        for (; _earlyMoved < _earlyCount; _earlyMoved++)
        {
            if (_sqTailLocal - Volatile.Read(ref *_sqHead) >= _sqEntries)
            {
                Submit(PendingSubmissions, runCompletions: false);
                if (_sqTailLocal - Volatile.Read(ref *_sqHead) >= _sqEntries)
                {
                    throw new NativeCallException($"io_uring_enter(ring {_ringFd}): the submission ring stays full", Interop.Libc.EBUSY);
                }
            }

            _sqes[_sqTailLocal & _sqMask] = _early[_earlyMoved];
            _sqTailLocal++;
            Volatile.Write(ref *_sqTail, _sqTailLocal);
        }

        _earlyCount = 0;
        _earlyMoved = 0;
    }

    /// <summary>A batching ring is bound to the first thread that enters it (enabled then); any other thread is refused here, before the kernel's EEXIST.</summary>
    private void EnterOnIssuer()
    {
        if (_batchMicroseconds == 0)
        {
            return;
        }

        Thread me = Thread.CurrentThread;
        if (_ringEnabled)
        {
            if (_issuer != me)
            {
                throw new InvalidOperationException($"This io_uring poller batches wake-ups, which binds its ring to the thread that first ran its loop (managed thread {_issuer!.ManagedThreadId}); it cannot be entered from thread {me.ManagedThreadId}. Run its loop on that thread, or create the poller without wake batching.");
            }

            MoveEarlyEntries(); // what other threads queued meanwhile
            return;
        }

        if (Interop.Libc.io_uring_register(_ringFd, Interop.Libc.IORING_REGISTER_ENABLE_RINGS, null, 0) < 0)
        {
            throw new NativeCallException($"io_uring_register(ring {_ringFd}, ENABLE_RINGS)", Marshal.GetLastPInvokeError());
        }

        _ringEnabled = true;
        _issuer = me;
        MoveEarlyEntries();
    }

    private void Publish()
    {
        if (_nextIsEarly)
        {
            _nextIsEarly = false;
            _earlyCount++;
            return;
        }

        _sqTailLocal++;
        Volatile.Write(ref *_sqTail, _sqTailLocal);
    }

    /// <summary>Hands the queued entries to the kernel now (without waiting); <paramref name="runCompletions"/> also runs the kernel's pending completion work.</summary>
    private void SubmitPending(bool runCompletions)
    {
        uint toSubmit = PendingSubmissions;
        if ((toSubmit == 0 && _earlyCount == 0) || !CanEnter)
        {
            // A batching ring not entered yet has no request in the kernel (nothing holds a
            // socket's file): what is queued goes with the loop's first wait. One bound to
            // another thread cannot be entered here; the entries go with that thread's next wait.
            return;
        }

        MoveEarlyEntries();
        Submit(PendingSubmissions, runCompletions);
    }

    /// <summary>One io_uring_enter that submits <paramref name="toSubmit"/> entries without waiting.</summary>
    private void Submit(uint toSubmit, bool runCompletions)
    {
        if (toSubmit == 0)
        {
            return;
        }

        PrepareSends(); // a request whose completion is awaited posts one even when it goes whole
        _enters++;
        if (SimulatedSubmitBusy)
        {
            return; // as an enter refused with EBUSY: nothing taken
        }

        while (Interop.Libc.io_uring_enter(_ringFd, toSubmit, 0, runCompletions ? Interop.Libc.IORING_ENTER_GETEVENTS : 0, null, 0) < 0
            && Marshal.GetLastPInvokeError() == Interop.Libc.EINTR)
        {
        }

        // On EBUSY or EAGAIN the entries stay queued and go with the next wait.
    }
}
