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
/// </summary>
internal sealed class ReceiverChannelLoop
{
    private readonly ReceiverSession _session;
    private readonly TransportConnection _connection;
    private readonly Preamble _preamble;
    private readonly PinnedBufferPool _pool;
    private readonly int _blockSize;
    private readonly AsyncSignal _wake = new();

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

    /// <summary>Wakes the loop from a back-pressure pause.</summary>
    internal void Wake() => _wake.Set();

    internal async Task RunAsync(CancellationToken stop)
    {
        var options = _session.Options;
        using var window = new ReceiveWindow(_connection, _pool, _blockSize, _session.ReadAhead);
        var reader = new ChunkReader(new ChunkReaderOptions { MaxPayload = options.MaxPayload, ExpectedRole = PreambleRole.Forward });
        try
        {
            // Inside the try: the reader's own preamble checks (e.g. max_payload below the minimum) fail the session like any format error.
            reader.StartAfterPreamble(_preamble, Preamble.Size);
            long needed = ChunkHeader.Size;
            while (true)
            {
                var result = await window.ReadAtLeastAsync((int)needed, stop).ConfigureAwait(false);
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
                window.AdvanceTo(buffer.Start);
                if (ended) return;
                if (result.IsCompleted)
                {
                    reader.Finish(window.Buffered); // throws the truncation that applies
                    return;
                }
                needed = reader.NextChunkBytes;
                while (_session.InboxesOverfull && !_session.Failure.IsFailed)
                    await _wake.WaitAsync(stop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            _session.Failure.Set(e);
        }
        await DrainAsync(window, stop).ConfigureAwait(false);
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
            while (true)
            {
                window.Advance(window.BufferedBytes);
                var result = await window.ReadAtLeastAsync(1, stop).ConfigureAwait(false);
                if (result.IsCompleted) return;
            }
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
            writer.Receive(Index, chunk, window);
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
