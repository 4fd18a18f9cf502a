using StreamKit.Transport.Rdma;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// One forward channel of a receiver: receives into pooled pinned blocks (<see cref="ReceiveWindow"/>),
/// parses chunks in place (<see cref="ChunkReader"/>: header CRC, limits before anything is awaited,
/// payload CRC before anything else), checks the per-channel order and STREAM_END's totals, and hands
/// each device chunk to its device's <see cref="DeviceWriter"/>: written into the device right here when
/// it is next in line and nobody else writes that device (no hand-off per chunk; a device write that
/// blocks is back-pressure on this channel), else queued or held. It pauses while a device's in-order
/// queue is full (its writer lags): the sender's window, or TCP, pushes back from there.
/// <para>
/// On a TCP or Unix socket the loop owns a thread and receives blocking (<see cref="ReceiveWindow.ReadAtLeast"/>),
/// as a raw <c>recv</c> loop does: an async receive completes on the runtime's epoll thread and hops to a
/// pool thread, which cost the receiver about a quarter of its CPU and thousands of context switches
/// per GB. Other transports (TLS, RDMA, files, in-memory) run the same loop body asynchronously.
/// </para>
/// <para>
/// A blocking loop holds an early chunk in place (<see cref="ChunkHold"/>, <see cref="DeviceInbox.Route"/>): it
/// sleeps until the chunk before it, on another channel, was routed, rather than copy it; an asynchronous loop
/// copies it into the reassembly store at once (a hold would block a pool thread). Every loop, however it ends,
/// tells the session (<see cref="ReceiverSession.ChannelEnded"/>), which ends the holds no loop left can serve.
/// </para>
/// </summary>
internal sealed class ReceiverChannelLoop
{
    private readonly ReceiverSession _session;
    private readonly TransportConnection _connection;
    private readonly Preamble _preamble;
    private readonly PinnedBufferPool _pool;
    private readonly int _blockSize;
    private readonly AsyncSignal _wake = new();
    private readonly ManualResetEventSlim _wakeThread = new();
    private ChunkHold? _hold; // a blocking loop's: early chunks wait in place before they are copied

    internal ReceiverChannelLoop(ReceiverSession session, int index, TransportConnection connection, Preamble preamble, PinnedBufferPool pool, int blockSize)
    {
        _session = session;
        Index = index;
        _connection = connection;
        _preamble = preamble;
        _pool = pool;
        _blockSize = blockSize;
        State = new ChannelState(preamble, new ChannelSummary { Index = (ushort)index, Bytes = Preamble.Size });
    }

    internal int Index { get; }

    /// <summary>Per-channel order and totals (its End is set once STREAM_END was checked).</summary>
    internal ChannelState State { get; }

    /// <summary>True when the loop runs on a thread of its own, receiving blocking (a TCP or Unix socket).</summary>
    internal bool OnDedicatedThread { get; private set; }

    /// <summary>Chunks a dedicated loop handles before <see cref="SteadyAllocatedBytes"/> starts counting (per-session set-up and growth).</summary>
    internal const int WarmUpChunks = 32;

    /// <summary>
    /// Managed bytes the dedicated thread allocated after its first <see cref="WarmUpChunks"/> chunks until its
    /// end, new pool blocks left out (rented on this thread when it is the only channel); -1 when not measured
    /// (a pooled loop, or a failure). Tests: the blocking loop allocates nothing per chunk.
    /// </summary>
    internal long SteadyAllocatedBytes { get; private set; } = -1;

    /// <summary>Chunks counted in <see cref="SteadyAllocatedBytes"/>.</summary>
    internal long SteadyChunks { get; private set; }

    /// <summary>Wakes the loop from a back-pressure pause.</summary>
    internal void Wake()
    {
        if (OnDedicatedThread) _wakeThread.Set();
        else _wake.Set();
    }

    /// <summary>
    /// Runs the loop: on a dedicated thread doing blocking receives when the connection can (a socket: as a
    /// raw <c>recv</c> loop, no epoll-thread-to-pool hop per receive), else as a task on the thread pool.
    /// The returned task completes when the loop has ended (its thread has exited).
    /// </summary>
    internal Task RunAsync(CancellationToken stop)
    {
        if (!_connection.CanReceiveBlocking) return RunPooledAsync(stop);
        OnDedicatedThread = true;
        return DedicatedThread.Run($"streamkit-recv-{Index}", () => RunBlocking(stop));
    }

    private async Task RunPooledAsync(CancellationToken stop)
    {
        using var window = NewWindow();
        var reader = NewReader();
        try
        {
            // Inside the try: the reader's own preamble checks (e.g. max_payload below the minimum) fail the session like any format error.
            reader.StartAfterPreamble(_preamble, Preamble.Size);
            long needed = ChunkHeader.Size;
            while (!Consume(await window.ReadAtLeastAsync((int)needed, stop).ConfigureAwait(false), reader, window, ref needed))
            {
                while (Paused)
                    await _wake.WaitAsync(stop).ConfigureAwait(false);
            }
            return;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            _session.Failure.Set(e);
        }
        finally
        {
            _session.ChannelEnded();
        }
        await DrainAsync(window, stop).ConfigureAwait(false);
    }

    /// <summary><see cref="RunPooledAsync"/> on the calling (dedicated) thread.</summary>
    private void RunBlocking(CancellationToken stop)
    {
        using var window = NewWindow();
        using var hold = new ChunkHold(_session.Options.EarlyChunkHold);
        _hold = hold;
        var reader = NewReader();
        try
        {
            reader.StartAfterPreamble(_preamble, Preamble.Size);
            long needed = ChunkHeader.Size;
            long allocatedFrom = 0, poolFrom = 0, chunksFrom = -1;
            while (!Consume(window.ReadAtLeast(NextStep(window, needed), stop), reader, window, ref needed))
            {
                if (chunksFrom < 0 && State.Summary.Chunks >= WarmUpChunks)
                    (chunksFrom, allocatedFrom, poolFrom) = (State.Summary.Chunks, GC.GetAllocatedBytesForCurrentThread(), _pool.BlockAllocationBytes);
                // Reset before the check, so a wake between the check and the wait is not lost.
                for (_wakeThread.Reset(); Paused; _wakeThread.Reset())
                    _wakeThread.Wait(stop);
            }
            if (chunksFrom >= 0)
            {
                SteadyChunks = State.Summary.Chunks - chunksFrom;
                SteadyAllocatedBytes = GC.GetAllocatedBytesForCurrentThread() - allocatedFrom - (_pool.BlockAllocationBytes - poolFrom);
            }
            return;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            _session.Failure.Set(e);
        }
        finally
        {
            // Before the drain: nothing this channel reads from here on reaches a device.
            _session.ChannelEnded();
        }
        Drain(window, stop);
    }

    /// <summary>
    /// What the next blocking read waits for: the rest of the chunk, or <see cref="HashStep"/> more bytes of a
    /// large one, whose payload <see cref="Consume"/> then hashes while it is still in the CPU's cache (a 1 MiB
    /// chunk checked after its last byte arrived was checked at 19-26 GB/s; the kernel does 50 in cache).
    /// </summary>
    private static int NextStep(ReceiveWindow window, long needed) => (int)Math.Min(needed, window.BufferedBytes + HashStep);

    /// <summary>Bytes per blocking read of a chunk larger than this (see <see cref="NextStep"/>).</summary>
    private const int HashStep = 256 * 1024;

    private ReceiveWindow NewWindow() => new(_connection, _pool, _blockSize, _session.ReadAhead);

    private ChunkReader NewReader() =>
        new(new ChunkReaderOptions { MaxPayload = _session.Options.MaxPayload, ExpectedRole = PreambleRole.Forward });

    /// <summary>While the devices' in-order queues are overfull (their writers lag) and the session is healthy: receive nothing more.</summary>
    private bool Paused => _session.InboxesOverfull && !_session.Failure.IsFailed;

    /// <summary>
    /// Parses and routes every whole chunk in <paramref name="result"/>, then consumes them from the window;
    /// true when the channel is done (STREAM_END, or the end of a stream the reader accepts as complete).
    /// Else <paramref name="needed"/> is what the next read must buffer.
    /// </summary>
    private bool Consume(in ReceiveResult result, ChunkReader reader, ReceiveWindow window, ref long needed)
    {
        var buffer = result.Buffer;
        bool ended = false;
        while (reader.TryReadChunk(ref buffer, out var chunk))
        {
            TransportMetrics.ChunkReceived(_connection.Kind);
            if (Handle(chunk, window))
            {
                ended = true;
                break;
            }
        }
        if (!ended) reader.HashArrivedPayload(buffer); // while it is in cache (see NextStep)
        window.AdvanceTo(buffer.Start);
        if (ended) return true;
        if (result.IsCompleted)
        {
            reader.Finish(window.Buffered); // throws the truncation that applies
            return true;
        }
        needed = reader.NextChunkBytes;
        return false;
    }

    /// <summary>
    /// After a failure: read and discard until the sender closes (it does once it has read our ERROR) or
    /// the session stops waiting. Closing a socket with unread bytes resets it, and a reset can destroy
    /// the ERROR on its way to the sender.
    /// </summary>
    private static async Task DrainAsync(ReceiveWindow window, CancellationToken stop)
    {
        try
        {
            do window.Advance(window.BufferedBytes);
            while (!(await window.ReadAtLeastAsync(1, stop).ConfigureAwait(false)).IsCompleted);
        }
        catch (Exception)
        {
            // The connection is gone or the session stopped waiting: nothing left to drain.
        }
    }

    /// <summary><see cref="DrainAsync"/> on the calling (dedicated) thread.</summary>
    private static void Drain(ReceiveWindow window, CancellationToken stop)
    {
        try
        {
            do window.Advance(window.BufferedBytes);
            while (!window.ReadAtLeast(1, stop).IsCompleted);
        }
        catch (Exception)
        {
            // The connection is gone or the session stopped waiting: nothing left to drain.
        }
    }

    /// <summary>Checks and routes one chunk; true when it was the channel's STREAM_END.</summary>
    private bool Handle(in Chunk chunk, ReceiveWindow window)
    {
        long before = State.Count(chunk);
        var h = chunk.Header;
        if (ChunkTypeRules.IsDeviceScoped(h))
        {
            State.CheckOrder(Index, chunk);
            var writer = _session.WriterFor(h.Device)
                ?? throw DeviceStreamState.Fail(StreamErrorCode.UnknownDevice, Index, chunk, $"device {h.Device} is not one of this receiver's devices");
            writer.Receive(Index, chunk, window, _hold);
            return false;
        }
        switch (h.Type)
        {
            case ChunkType.StreamEnd:
                State.ApplyStreamEnd(Index, chunk, before);
                return true;
            case ChunkType.Abort:
            {
                var reason = ReasonRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset);
                State.MarkAborted();
                throw new MigrationException(StreamErrorCode.PeerAborted, MigrationFailureOrigin.Peer,
                    $"the sender aborted: {ReturnPathReader.Describe(reason.Reason)}: {reason.Text}", peerCode: reason.Reason);
            }
            default:
                return false; // PADDING (keepalive) and unknown optional stream-scoped types
        }
    }
}
