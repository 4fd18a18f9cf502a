using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// The sender's reader of the return path (the reverse direction of channel 0): the receiver's
/// preamble (with its receive window), then ACK (progress), WINDOW (consumed bytes: opens the flow
/// window), SWITCHOVER_ACK, PADDING (keepalive), and the terminal FINAL_ACK or ERROR. Every chunk is
/// checked (<see cref="ChunkReader"/>, <see cref="ReturnPathValidator"/>) before it means anything.
/// </summary>
internal sealed class ReturnPathReader
{
    private readonly TransportConnection _connection;
    private readonly Guid _streamId;
    private readonly SessionFailure _failure;
    private readonly FlowWindow _window;
    private readonly Dictionary<ushort, int> _deviceIndex;
    private readonly uint[] _ackEpoch;
    private readonly bool[] _acked;
    private readonly long[] _ackedBytes;
    private readonly uint[] _switchoverAckEpoch;
    private readonly bool[] _switchoverAckSeen;
    private readonly object _gate = new();
    private readonly TaskCompletionSource<Preamble> _preamble = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<FinalAckRecord> _finalAck = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _switchoverAcks;

    internal ReturnPathReader(TransportConnection connection, Guid streamId, SessionFailure failure, FlowWindow window, IReadOnlyList<ushort> devices)
    {
        _connection = connection;
        _streamId = streamId;
        _failure = failure;
        _window = window;
        _deviceIndex = new Dictionary<ushort, int>(devices.Count);
        for (int i = 0; i < devices.Count; i++) _deviceIndex[devices[i]] = i;
        _ackEpoch = new uint[devices.Count];
        _acked = new bool[devices.Count];
        _ackedBytes = new long[devices.Count];
        _switchoverAckEpoch = new uint[devices.Count];
        _switchoverAckSeen = new bool[devices.Count];
    }

    /// <summary>The receiver's return-path preamble.</summary>
    internal Task<Preamble> Preamble => _preamble.Task;

    /// <summary>FINAL_ACK with status 0 (anything else fails the session).</summary>
    internal Task<FinalAckRecord> FinalAck => _finalAck.Task;

    /// <summary>SWITCHOVER_ACKs received so far.</summary>
    internal int SwitchoverAcks => Volatile.Read(ref _switchoverAcks);

    /// <summary>Raw bytes the receiver acknowledged as written, all devices (current epochs).</summary>
    internal long AckedBytes
    {
        get
        {
            lock (_gate)
            {
                long sum = 0;
                foreach (var b in _ackedBytes) sum += b;
                return sum;
            }
        }
    }

    /// <summary>
    /// True when the latest SWITCHOVER_ACK was preceded, for every device in <paramref name="precopyEpochs"/>
    /// (index → current epoch, null = not a pre-copy device), by an ACK of that device's current epoch (§6.2).
    /// </summary>
    internal bool SwitchoverAckCovers(IReadOnlyList<uint?> precopyEpochs)
    {
        lock (_gate)
        {
            if (_switchoverAcks == 0) return false;
            for (int i = 0; i < precopyEpochs.Count; i++)
            {
                if (precopyEpochs[i] is not { } epoch) continue;
                if (!_switchoverAckSeen[i] || _switchoverAckEpoch[i] != epoch) return false;
            }
            return true;
        }
    }

    /// <summary>
    /// Reads until FINAL_ACK or ERROR. <paramref name="stop"/> (not the session failure: the ABORT must still go out on channel 0) tears it down.
    /// On a TCP or Unix socket the loop runs on a thread of its own with blocking receives: a pending async
    /// receive registers channel 0 with the runtime's epoll thread for good, and then every ACK and every
    /// send-space edge of the bulk stream on channel 0 wakes that thread and a thread-pool worker. The
    /// task completes when the loop has ended.
    /// </summary>
    internal Task RunAsync(CancellationToken stop) => _connection.CanReceiveBlocking
        ? DedicatedThread.Run("streamkit-return-read", () => Run(async: false, stop).GetAwaiter().GetResult())
        : Run(async: true, stop);

    /// <summary>The loop; with <paramref name="async"/> false every receive blocks the calling thread and the task is complete on return.</summary>
    private async Task Run(bool async, CancellationToken stop)
    {
        using var pool = new PinnedBufferPool(1 << 20, 64 << 10);
        using var window = new ReceiveWindow(_connection, pool, 64 << 10);
        var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath, RequireCodecs = false });
        var validator = new ReturnPathValidator(_streamId);
        try
        {
            long needed = StreamKit.Wire.Preamble.Size;
            while (true)
            {
                int minimum = (int)Math.Min(needed, window.MaxReadAhead);
                var result = async
                    ? await window.ReadAtLeastAsync(minimum, stop).ConfigureAwait(false)
                    : window.ReadAtLeast(minimum, stop);
                var buffer = result.Buffer;
                if (!reader.HasPreamble && reader.TryReadPreamble(ref buffer, out var preamble))
                {
                    validator.AcceptPreamble(preamble);
                    _preamble.TrySetResult(preamble);
                }
                while (reader.HasPreamble && reader.TryReadChunk(ref buffer, out var chunk))
                {
                    if (Handle(validator.Accept(chunk)))
                    {
                        window.AdvanceTo(buffer.Start);
                        return;
                    }
                }
                window.AdvanceTo(buffer.Start);
                if (result.IsCompleted)
                {
                    reader.Finish(window.Buffered); // throws: the return path ended without FINAL_ACK or ERROR
                    return;
                }
                needed = Math.Max(reader.HasPreamble ? reader.NextChunkBytes : StreamKit.Wire.Preamble.Size, window.BufferedBytes + 1);
            }
        }
        catch (OperationCanceledException) when (_failure.IsFailed || stop.IsCancellationRequested)
        {
        }
        catch (TransportException) when (_failure.IsFailed)
        {
        }
        catch (StreamFormatException e) when (e.Code == StreamErrorCode.TruncatedStream || e.Code == StreamErrorCode.TruncatedPreamble
                                              || e.Code == StreamErrorCode.TruncatedHeader || e.Code == StreamErrorCode.TruncatedPayload)
        {
            _failure.Set(new MigrationException(StreamErrorCode.ConnectionFailed, MigrationFailureOrigin.Transport,
                $"the receiver closed the return path without FINAL_ACK or ERROR ({e.Message})", e));
        }
        catch (Exception e)
        {
            _failure.Set(e);
        }
        finally
        {
            _preamble.TrySetCanceled();
            _finalAck.TrySetCanceled();
        }
    }

    /// <summary>Acts on one message; true when it ended the return path.</summary>
    private bool Handle(in ReturnPathMessage message)
    {
        switch (message.Type)
        {
            case ChunkType.Ack:
                if (_deviceIndex.TryGetValue(message.Device, out int index))
                {
                    lock (_gate)
                    {
                        _ackEpoch[index] = message.Epoch;
                        _acked[index] = true;
                        _ackedBytes[index] = (long)Math.Min(message.BytesWritten, long.MaxValue);
                    }
                }
                return false;
            case ChunkType.Window:
                _window.OnConsumed((long)Math.Min(message.BytesWritten, long.MaxValue));
                return false;
            case ChunkType.SwitchoverAck:
                lock (_gate)
                {
                    Array.Copy(_ackEpoch, _switchoverAckEpoch, _ackEpoch.Length);
                    Array.Copy(_acked, _switchoverAckSeen, _acked.Length);
                    _switchoverAcks++;
                }
                return false;
            case ChunkType.Error:
            {
                var error = message.Error!.Value;
                _failure.Set(new MigrationException(StreamErrorCode.PeerError, MigrationFailureOrigin.Peer,
                    $"the receiver failed: {Describe(error.Reason)}: {error.Text}", peerCode: error.Reason));
                return true;
            }
            case ChunkType.FinalAck:
            {
                var final = message.FinalAck!.Value;
                if (final.Status != StreamErrorCode.None)
                {
                    _failure.Set(new MigrationException(StreamErrorCode.PeerError, MigrationFailureOrigin.Peer,
                        $"the receiver's FINAL_ACK reports {Describe(final.Status)} ({final.DeviceCount} devices committed)", peerCode: final.Status));
                    return true;
                }
                _finalAck.TrySetResult(final);
                return true;
            }
            default:
                return false; // PADDING (keepalive) and unknown optional types
        }
    }

    internal static string Describe(StreamErrorCode code) =>
        Enum.IsDefined(code) ? $"{code} ({(uint)code})" : $"code {(uint)code}";
}
