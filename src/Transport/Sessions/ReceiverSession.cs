using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Numerics;
using StreamKit.Device;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// One migration as the receiver runs it (the engine behind <see cref="MigrationReceiver"/>): accept the
/// stream, a receive loop per channel (which writes in-order chunks into the devices itself; on a socket it owns a
/// thread and receives blocking), an inbox
/// and a writer thread per device (for what cannot be written inline), the return path; after
/// STREAM_END on every channel and every device committed, FINAL_ACK. On any failure: every touched
/// destination device is reset (back to RUNNING with its previous state), ERROR goes back if the return
/// path still works, and a typed exception is thrown.
/// </summary>
internal sealed class ReceiverSession
{
    private static readonly TimeSpan ErrorSendTimeout = TimeSpan.FromSeconds(2);
    internal static readonly TimeSpan WriterStopTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// What the receive windows and the reassembly store may pin together beyond the larger of the reassembly
    /// cap and two chunks: partly filled and partly consumed receive blocks (about two per channel), a chunk
    /// being copied into the store while its receive block is still held.
    /// </summary>
    internal const long BufferSlack = 16L << 20;

    /// <summary>The receive windows' block size (each receive reads up to one block).</summary>
    private const int ReceiveBlockSize = 1 << 20;

    private readonly List<(ushort Id, IMigrationDevice Device)> _devices = [];
    private TransportListener? _listener;
    private DeviceWriter?[] _writerById = [];
    private PinnedBufferPool? _pool;
    private ReceiverChannelLoop[] _loops = [];
    private ReturnPathSender? _returnPath;
    private ChannelGroup? _group;

    /// <summary>The accepted channels (null before); lab checks read transport counters from them.</summary>
    internal ChannelGroup? Group => _group;
    private volatile MigrationPhase _phase = MigrationPhase.Connecting;
    private long _startedAt;
    private long _consumed;
    private int _running;
    private int _channelsReceiving;

    internal ReceiverSession(ReceiverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    internal ReceiverOptions Options { get; }
    internal SessionFailure Failure { get; private set; } = new(sender: false, CancellationToken.None);
    internal DeviceWriter[] Writers { get; private set; } = [];
    internal int ReadAhead { get; private set; }
    internal ReassemblyStore? Store { get; private set; }

    /// <summary>Pinned block memory the receive windows and the reassembly store hold together (grows as needed, then is reused).</summary>
    internal long PoolHeldBytes => _pool?.HeldBytes ?? 0;

    /// <summary>Most pinned block memory rented out at once (receive windows + reassembly copies).</summary>
    internal long PoolPeakRentedBytes => _pool?.PeakRentedBytes ?? 0;

    /// <summary>Device chunks the channel loops wrote into the devices themselves (not through a writer thread).</summary>
    internal long ChunksAppliedInline => Writers.Sum(w => w.InlineChunks);

    /// <summary>Early chunks the channel loops held in place until their turn (never copied).</summary>
    internal long EarlyChunksHeldInPlace => Writers.Sum(w => w.Inbox.HeldInPlace);

    /// <summary>Early chunks held in place until the bound passed, then copied into the reassembly store.</summary>
    internal long EarlyChunkHoldTimeouts => Writers.Sum(w => w.Inbox.HoldTimeouts);

    /// <summary>Longest time a channel loop held an early chunk in place.</summary>
    internal TimeSpan LongestEarlyChunkHold => Writers.Length == 0 ? TimeSpan.Zero : Writers.Max(w => w.Inbox.LongestHold);

    /// <summary>Lets loops hold early chunks in place of one device at a time (no cycle of holds across devices).</summary>
    internal HoldGate Holds { get; } = new();

    /// <summary>Channel loops that have not ended: only they can still deliver the chunk an early one is held for.</summary>
    internal int ChannelsReceiving => Volatile.Read(ref _channelsReceiving);

    /// <summary>
    /// A channel loop ended, however (STREAM_END, the end of its input, a failure): counted out first, then each
    /// inbox ends its holds if no loop left could deliver what they wait for (<see cref="DeviceInbox.ChannelEnded"/>).
    /// </summary>
    internal void ChannelEnded()
    {
        Interlocked.Decrement(ref _channelsReceiving);
        foreach (var w in Writers) w.Inbox.ChannelEnded();
    }

    /// <summary>The channel loops (empty before the channels are accepted); tests read their counters.</summary>
    internal IReadOnlyList<ReceiverChannelLoop> Loops => _loops;

    /// <summary>Channel loops that ran on a dedicated thread with blocking receives (socket channels).</summary>
    internal int ChannelLoopsOnDedicatedThreads => _loops.Count(l => l.OnDedicatedThread);
    internal event Action<MigrationProgress>? ProgressChanged;

    /// <summary>Forward device-chunk bytes applied or dropped so far (what WINDOW reports).</summary>
    internal long ConsumedBytes => Interlocked.Read(ref _consumed);

    /// <summary>Bytes the writer threads allocated while applying chunks (tests: steady state allocates nothing).</summary>
    internal long WriterAllocatedBytes => Writers.Sum(w => w.AllocatedWhileWriting);

    internal long ChunksApplied => Writers.Sum(w => w.Chunks);

    internal bool InboxesOverfull
    {
        get
        {
            foreach (var w in Writers)
                if (w.Inbox.Overfull) return true;
            return false;
        }
    }

    internal void AddDevice(ushort id, IMigrationDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (id == 0) throw new ArgumentOutOfRangeException(nameof(id), "device ids are 1..65535 (0 means stream-scoped)");
        if (Volatile.Read(ref _running) != 0) throw new InvalidOperationException("devices must be added before RunAsync");
        if (_devices.Any(d => d.Id == id)) throw new ArgumentException($"device id {id} was already added", nameof(id));
        _devices.Add((id, device));
    }

    internal Task<EndPoint?> ListenAsync(TransportAddress listen, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(listen);
        cancellationToken.ThrowIfCancellationRequested();
        if (_listener is not null) throw new InvalidOperationException("ListenAsync was already called");
        if (listen.Scheme == TransportScheme.File && !File.Exists(listen.Path))
            throw new TransportException(TransportErrorKind.IoFailed, "the file does not exist", $"file:{listen.Path}");
        _listener = TransportListener.Bind(listen, Options.Transport, OnRejected);
        var address = _listener.Address;
        EndPoint? endPoint = address.Scheme switch
        {
            TransportScheme.Tcp or TransportScheme.Rdma => new IPEndPoint(IPAddress.TryParse(address.Host, out var ip) ? ip : IPAddress.Loopback, address.Port),
            TransportScheme.Unix => new UnixDomainSocketEndPoint(address.Path!),
            _ => null,
        };
        return Task.FromResult(endPoint);
    }

    /// <summary>Receives from <paramref name="listener"/> instead of binding an address (in-process streams: the session fuzz target, tests).</summary>
    internal void ListenOn(TransportListener listener)
    {
        ArgumentNullException.ThrowIfNull(listener);
        if (_listener is not null) throw new InvalidOperationException("ListenAsync was already called");
        _listener = listener;
    }

    /// <summary>The bound address (port 0 replaced), once listening.</summary>
    internal TransportAddress? BoundAddress => _listener?.Address;

    private void OnRejected(TransportException reason)
    {
        if (Options.FailOnRejectedConnection && Volatile.Read(ref _running) != 0 && _group is null)
            Failure.Set(new MigrationException(StreamErrorCode.ConnectionFailed, MigrationFailureOrigin.Transport,
                $"a connection to this receiver was refused before the stream started: {reason.Message}", reason));
    }

    internal DeviceWriter? WriterFor(ushort device) => device < _writerById.Length ? _writerById[device] : null;

    /// <summary>
    /// The receiver's pinned buffer budget: one pool for the channels' receive windows and the reassembly
    /// store. <c>Shared</c> is what they may pin together before the store refuses to copy another early
    /// chunk: the reassembly cap (also the sender's window, which bounds every forward byte in flight) or two
    /// chunks, plus <see cref="BufferSlack"/>; a sender that honours the window never gets past it, whatever
    /// the channel count. <c>Total</c>, the pool's hard cap, adds a reserve per channel that only receive
    /// windows can reach: one whole chunk (<c>ReadAhead</c>) plus a block, so each channel can always finish
    /// the chunk it is receiving, whatever the store holds (an early chunk waits for exactly that). Without it
    /// a sender that ignores the window could fill the pool with early chunks and stall the in-order one.
    /// </summary>
    internal static (long Shared, long Total, int ReadAhead) BufferBudget(long reassemblyCap, long maxChunk, int channels)
    {
        long shared = Math.Max(reassemblyCap, 2 * maxChunk) + BufferSlack;
        int readAhead = (int)(maxChunk + ReceiveBlockSize);
        return (shared, shared + channels * ((long)readAhead + ReceiveBlockSize), readAhead);
    }

    internal void Consumed(long bytes)
    {
        long total = Interlocked.Add(ref _consumed, bytes);
        _returnPath?.OnConsumed(total);
    }

    internal void NotifyReturnPath() => _returnPath?.Notify();

    internal void WakeChannels()
    {
        foreach (var loop in _loops) loop.Wake();
    }

    /// <summary>§6.2: every device announced; each pre-copy device's initial data written in its current epoch; no stop-copy data yet.</summary>
    internal bool SwitchoverCondition()
    {
        foreach (var w in Writers)
        {
            if (w.StopCopySeen || w.Committed) return false;
            if (w.InitialDataWritten is not true) return false;
        }
        return Writers.Length > 0;
    }

    internal MigrationProgress GetProgress()
    {
        long started = Volatile.Read(ref _startedAt);
        var elapsed = started == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(started);
        var devices = Writers.Length > 0
            ? Writers.Select(w => w.Snapshot()).ToArray()
            : _devices.Select(d => new DeviceProgress(d.Id, d.Device.Name, _phase, 0, 0, 0, 0, null, 0, 0)).ToArray();
        return new MigrationProgress(_phase, elapsed, _group?.BytesReceived ?? 0, devices);
    }

    internal async Task<MigrationResult> RunAsync(CancellationToken cancellationToken)
    {
        if (_listener is null) throw new InvalidOperationException("call ListenAsync first");
        if (_devices.Count == 0) throw new InvalidOperationException("no devices: call AddDevice first");
        Failure = new SessionFailure(sender: false, cancellationToken);
        if (Interlocked.Exchange(ref _running, 1) != 0) throw new InvalidOperationException("a MigrationReceiver runs once");
        Volatile.Write(ref _startedAt, Stopwatch.GetTimestamp());
        using var loopsStop = new CancellationTokenSource();
        using var progressTimer = new Timer(static s => ((ReceiverSession)s!).RaiseProgress(), this, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
        Task[] loopTasks = [];
        Task[] writerTasks = [];
        Task? returnTask = null;
        try
        {
            var group = await WhenOrFail(_listener.AcceptAsync(Failure.Token).AsTask()).ConfigureAwait(false);
            _group = group;
            await _listener.DisposeAsync().ConfigureAwait(false);
            var first = group.Preambles[0];
            for (int i = 1; i < group.Count; i++)
            {
                var p = group.Preambles[i];
                if (p.Capabilities != first.Capabilities || p.MaxPayload != first.MaxPayload || p.MaxDevices != first.MaxDevices || p.Major != first.Major)
                    throw new StreamFormatException(StreamErrorCode.BadChannel, Preamble.CapabilitiesOffset, $"channel {i}'s preamble disagrees with channel 0's (capabilities, limits or version)");
            }
            bool returnPath = (first.Capabilities & StreamCapabilities.ReturnPath) != 0 && group[0].CanSend;
            long window = returnPath ? Options.ReassemblyCap : 0;
            long maxChunk = ChunkHeader.Size + (long)Math.Min(first.MaxPayload, Options.MaxPayload);
            var (shared, total, readAhead) = BufferBudget(Options.ReassemblyCap, maxChunk, group.Count);
            ReadAhead = readAhead;
            int largestBlock = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(ReceiveBlockSize, maxChunk));
            var pool = _pool = new PinnedBufferPool(total, largestBlock);
            Store = new ReassemblyStore(Options.ReassemblyCap, pool, shared);

            _writerById = new DeviceWriter?[_devices.Max(d => d.Id) + 1];
            long inboxHighWater = Math.Min(Math.Max(DeviceInbox.MinHighWaterBytes, 2 * maxChunk), Math.Max(Options.ReassemblyCap / 2, maxChunk));
            Writers = _devices.Select(d =>
            {
                var writer = new DeviceWriter(this, d.Id, d.Device, new DeviceInbox(this, d.Id, group.Count == 1, Store, inboxHighWater));
                _writerById[d.Id] = writer;
                return writer;
            }).ToArray();
            Volatile.Write(ref _channelsReceiving, group.Count);
            _loops = Enumerable.Range(0, group.Count).Select(i => new ReceiverChannelLoop(this, i, group[i], group.Preambles[i], pool, ReceiveBlockSize)).ToArray();
            if (returnPath)
            {
                var keepalive = SenderSession.KeepaliveInterval(Options.Transport);
                _returnPath = new ReturnPathSender(this, group[0], first, Options.MaxPayload, (ulong)window, keepalive);
                returnTask = _returnPath.RunAsync(loopsStop.Token);
            }
            _phase = MigrationPhase.PreCopy;
            writerTasks = Writers.Select(w => DedicatedThread.Run($"streamkit-writer-{w.Id}", w.Run)).ToArray();
            loopTasks = _loops.Select(l => l.RunAsync(loopsStop.Token)).ToArray();

            await WhenOrFail(Task.WhenAll(loopTasks)).ConfigureAwait(false);
            ThrowIfFailed();
            foreach (var w in Writers) w.Inbox.CompleteAdding();
            await WhenOrFail(Task.WhenAll(writerTasks)).ConfigureAwait(false);
            ThrowIfFailed();
            CheckComplete();

            _phase = MigrationPhase.Committing;
            if (Options.CommitTarget == MigrationState.Running)
                await WhenOrFail(DedicatedThread.Run("streamkit-start-devices", () => { foreach (var w in Writers) w.Device.SetState(MigrationState.Running)?.Dispose(); })).ConfigureAwait(false);
            ThrowIfFailed();
            long bytesWritten = Writers.Sum(w => (long)w.AckPosition.Written);
            if (_returnPath is not null)
            {
                _returnPath.Finish(new FinalAckRecord(StreamErrorCode.None, (uint)Writers.Length, (ulong)bytesWritten));
                await WhenOrFail(_returnPath.Done).ConfigureAwait(false);
                ThrowIfFailed();
            }
            _phase = MigrationPhase.Completed;
            long wire = group.BytesReceived;
            await group.DisposeAsync().ConfigureAwait(false);
            MigrationMetrics.Finished(sender: false, completed: true);
            RaiseProgress();
            return new MigrationResult(Writers.Select(w => w.Result()).ToArray(), Stopwatch.GetElapsedTime(_startedAt), wire, group.Count, group.StreamId);
        }
        catch (Exception e)
        {
            Failure.Set(e);
            var failure = Failure.Exception!;
            await ApplyFailureRuleAsync(failure, writerTasks).ConfigureAwait(false);
            // The channels drain until the sender, having read ERROR, closes them; then nothing is reset under the ERROR.
            if (loopTasks.Length > 0) await Task.WhenAny(Task.WhenAll(loopTasks), Task.Delay(ErrorSendTimeout)).ConfigureAwait(false);
            loopsStop.Cancel();
            // Their faults are already the recorded failure: observe them, never let one replace the typed failure.
            if (loopTasks.Length > 0) await Observe(Task.WhenAll(loopTasks)).ConfigureAwait(false);
            if (returnTask is not null) await Observe(returnTask).ConfigureAwait(false);
            if (_group is not null) await _group.DisposeAsync().ConfigureAwait(false);
            if (_listener is not null) await _listener.DisposeAsync().ConfigureAwait(false);
            MigrationMetrics.Finished(sender: false, completed: false);
            RaiseProgress();
            throw failure;
        }
        finally
        {
            Failure.Dispose();
        }
    }

    private static async Task Observe(Task task)
    {
        try { await task.ConfigureAwait(false); }
        catch (Exception) { /* recorded as the session's failure when it happened */ }
    }

    /// <summary>After every channel's STREAM_END and every writer's end: nothing may be missing.</summary>
    private void CheckComplete()
    {
        foreach (var w in Writers)
        {
            if (w.Inbox.DescribeGap() is { } gap) throw new StreamFormatException(StreamErrorCode.SequenceGap, -1, gap);
        }
        foreach (var w in Writers)
        {
            if (!w.Begun)
                throw new StreamFormatException(StreamErrorCode.TruncatedStream, -1, $"device {w.Id} ({w.Device.Name}) was not in the stream");
            if (!w.Committed)
                throw new StreamFormatException(StreamErrorCode.TruncatedStream, -1, $"device {w.Id} has no DEVICE_END");
        }
        foreach (var loop in _loops)
        {
            if (loop.State.End is { } end && end.DeviceCount != (uint)Writers.Length)
                throw new StreamFormatException(StreamErrorCode.StreamTotalsMismatch, loop.State.Summary.Bytes - ChunkHeader.Size - StreamEndRecord.Size,
                    $"channel {loop.Index}: STREAM_END says {end.DeviceCount} devices; the stream carried {Writers.Length}");
        }
    }

    /// <summary>
    /// The failure rule, receiver side: stop the writers, reset every destination device that was moved
    /// out of RUNNING (the reset drops what was written; the device keeps its previous state), then
    /// ERROR on the return path if it still works.
    /// </summary>
    private async Task ApplyFailureRuleAsync(MigrationException failure, Task[] writerTasks)
    {
        _phase = MigrationPhase.Failed;
        foreach (var w in Writers) w.Inbox.Abort();
        if (writerTasks.Length > 0)
            await Task.WhenAny(Task.WhenAll(writerTasks), Task.Delay(WriterStopTimeout)).ConfigureAwait(false);
        await DedicatedThread.Run("streamkit-reset-devices", () =>
        {
            foreach (var (_, device) in _devices)
            {
                try
                {
                    if (Writers.FirstOrDefault(w => w.Device == device) is { Touched: true } || device.GetState() != MigrationState.Running)
                        device.Reset();
                }
                catch (Exception) { /* keep resetting the others */ }
            }
        }).ConfigureAwait(false);
        if (_returnPath is not null)
        {
            _returnPath.Fail(failure.Code == StreamErrorCode.PeerAborted ? StreamErrorCode.PeerAborted : failure.Code, failure.Reason);
            await Task.WhenAny(_returnPath.Done, Task.Delay(ErrorSendTimeout)).ConfigureAwait(false);
        }
    }

    private async Task WhenOrFail(Task task)
    {
        if (await Task.WhenAny(task, Failure.Failed).ConfigureAwait(false) != task) ThrowIfFailed();
        await task.ConfigureAwait(false);
    }

    private async Task<T> WhenOrFail<T>(Task<T> task)
    {
        if (await Task.WhenAny(task, Failure.Failed).ConfigureAwait(false) != task) ThrowIfFailed();
        return await task.ConfigureAwait(false);
    }

    private void ThrowIfFailed()
    {
        if (Failure.Exception is { } e) throw e;
    }

    private void RaiseProgress()
    {
        var handler = ProgressChanged;
        if (handler is null) return;
        try { handler(GetProgress()); }
        catch (Exception) { /* a subscriber's bug must not break the migration */ }
    }

    internal async ValueTask DisposeListenerAsync()
    {
        if (_listener is not null && Volatile.Read(ref _running) == 0) await _listener.DisposeAsync().ConfigureAwait(false);
    }
}
