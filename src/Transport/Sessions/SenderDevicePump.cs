using System.Diagnostics;
using StreamKit.Device;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// One source device's pump, on its own thread. It announces the device (DEVICE_BEGIN), enters
/// PRE_COPY and loops: VFIO_MIG_GET_PRECOPY_INFO (sent as PRECOPY_INFO when it changed), then read()
/// until a temporary end, each read straight into a pinned buffer behind a reserved 48-byte header;
/// the channel's <see cref="ChunkWriter"/> checksums it in place (ZERO_RUN / LZ4 / stored) and the
/// buffer is sent as it is: by the pump itself when the channel is idle, else through the channel's queue
/// (<see cref="ChannelSender.EnqueueOrClaim"/>). Idle, it polls with a backoff. A reset during pre-copy (a read
/// says DeadSession, the precopy ioctl says the session is gone, or the device is found RUNNING) costs
/// only this device's epoch: DISCARD opens the next one and pre-copy restarts on a new session. At the
/// switchover it parks, then drains STOP_COPY to the final end, sends DEVICE_END and leaves STOP_COPY.
/// A reset in STOP_COPY fails the migration (the stopped device's state cannot be re-read).
/// </summary>
internal sealed class SenderDevicePump : IChunkBufferOwner
{
    private const int BufferCount = 4;
    private static readonly TimeSpan MaxPollInterval = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan PrecopyInfoInterval = TimeSpan.FromMilliseconds(50);

    private readonly SenderSession _session;
    private readonly object _bufferGate = new();
    private readonly Stack<byte[]> _free = new(BufferCount);
    private readonly object _wake = new();
    private readonly int _index;
    private readonly int _chunkSize;
    private IMigrationDataChannel? _data;
    private int _nextChannel;
    private bool _aborted;
    private bool _wakeRequested;

    // Progress: written by the pump thread, read by anyone.
    private long _precopyBytes, _stopCopyBytes, _chunks, _wireBytes, _zeroBytes, _discardedBytes, _epochBytes;
    private int _discards;
    private uint _epoch;
    private long _pendingPrecopy = long.MaxValue; // unknown until the first precopy info
    private long _stopCopyTicks;
    private volatile MigrationPhase _phase = MigrationPhase.Connecting;
    private volatile bool _initialDone;

    internal SenderDevicePump(SenderSession session, int index, ushort id, IMigrationDevice device)
    {
        _session = session;
        _index = index;
        Id = id;
        Device = device;
        HasPrecopy = (device.Features & MigrationFeatures.PreCopy) != 0;
        _chunkSize = session.Options.ChunkSize;
        _nextChannel = index % session.Channels.Length;
        var buffers = new byte[BufferCount][];
        Buffers = buffers;
        for (int i = 0; i < BufferCount; i++)
            _free.Push(buffers[i] = GC.AllocateUninitializedArray<byte>(ChunkHeader.Size + _chunkSize, pinned: true));
        try { StopCopyEstimate = device.GetStopCopySizeEstimate() is { } e ? (long)Math.Min(e, long.MaxValue) : null; }
        catch (DeviceException) { StopCopyEstimate = null; }
    }

    internal ushort Id { get; }
    internal IMigrationDevice Device { get; }

    /// <summary>
    /// Every pinned buffer this pump reads device bytes into (header at [0..48), payload after):
    /// offered to each channel's connection so a DMA transport can send from them in place.
    /// </summary>
    internal IReadOnlyList<byte[]> Buffers { get; }
    internal bool HasPrecopy { get; }
    internal long? StopCopyEstimate { get; }
    internal uint Epoch => Volatile.Read(ref _epoch);
    internal MigrationPhase Phase => _phase;

    /// <summary>Initial + dirty bytes from the latest pre-copy info (0 for devices without pre-copy; long.MaxValue = unknown).</summary>
    internal long PendingPrecopyBytes => HasPrecopy ? Volatile.Read(ref _pendingPrecopy) : 0;

    /// <summary>True once this epoch's initial data was sent (PRECOPY_INFO initial 0).</summary>
    internal bool InitialDone => !HasPrecopy || _initialDone;

    /// <summary>Steady-state allocation probe: bytes this thread allocated while pumping (diagnostics and tests).</summary>
    internal long AllocatedWhilePumping { get; private set; }

    internal DeviceProgress Snapshot() => new(Id, Device.Name, _phase, Epoch,
        Volatile.Read(ref _precopyBytes), Volatile.Read(ref _stopCopyBytes),
        PendingPrecopyBytes == long.MaxValue ? 0 : PendingPrecopyBytes, StopCopyEstimate,
        Volatile.Read(ref _discards), Volatile.Read(ref _discardedBytes));

    internal DeviceMigrationResult Result(bool committed) => new(Id, Device.Name, Device.DriverHint,
        _precopyBytes, _stopCopyBytes, _chunks, _wireBytes, _zeroBytes, _discards, _discardedBytes,
        Stopwatch.GetElapsedTime(0, _stopCopyTicks), committed);

    internal long Chunks => Volatile.Read(ref _chunks);

    /// <summary>Wakes the pump from a poll wait (switchover requested).</summary>
    internal void Wake()
    {
        lock (_wake)
        {
            _wakeRequested = true;
            Monitor.PulseAll(_wake);
        }
    }

    /// <summary>Wakes every blocking wait with a failure.</summary>
    internal void Abort()
    {
        lock (_bufferGate)
        {
            _aborted = true;
            Monitor.PulseAll(_bufferGate);
        }
        Wake();
    }

    /// <summary>The pump's thread body.</summary>
    internal void Run()
    {
        var failure = _session.Failure;
        try
        {
            Begin();
            bool stopped;
            IMigrationDataChannel? stopChannel;
            if (HasPrecopy)
            {
                _data = Device.SetState(MigrationState.PreCopy)
                    ?? throw new MigrationException(StreamErrorCode.SourceDeviceFailed, MigrationFailureOrigin.SourceDevice, $"{Device.Name}: RUNNING → PRE_COPY opened no data channel");
                _phase = MigrationPhase.PreCopy;
                do
                {
                    PrecopyUntilPause();
                    stopped = _session.Gate.Park(_index, untilStopped: false, out stopChannel);
                } while (!stopped);
            }
            else
            {
                _phase = MigrationPhase.PreCopy; // the device runs; nothing to send until the VM stops
                _session.Gate.Park(_index, untilStopped: true, out stopChannel);
            }
            StopCopy(stopChannel);
        }
        catch (OperationCanceledException) when (failure.IsFailed)
        {
        }
        catch (Exception e)
        {
            failure.Set(e);
        }
    }

    private void Begin()
    {
        ulong estimate = StopCopyEstimate is { } e ? (ulong)e : DeviceBeginRecord.UnknownEstimate;
        var record = new DeviceBeginRecord((ulong)Device.Features, estimate, Device.Name, Device.DriverHint);
        SendControl(record.EncodedLength, record, static (writer, id, r) => writer.BeginDevice(id, r));
    }

    /// <summary>Pre-copy rounds until the coordinator asks pumps to park.</summary>
    private void PrecopyUntilPause()
    {
        TimeSpan backoff = _session.Options.PrecopyPollInterval;
        bool hints = _session.PrecopyHints;
        PrecopyInfoRecord? lastSent = null;
        long lastSentAt = 0;
        bool temporaryEndSeen = false;
        while (!_session.Gate.PauseRequested)
        {
            _session.Failure.Token.ThrowIfCancellationRequested();
            PrecopyInfo? info = _data!.GetPrecopyInfo();
            if (info is null || Device.GetState() == MigrationState.Running)
            {
                Restart(info is null ? "the pre-copy session is gone (VFIO_MIG_GET_PRECOPY_INFO: ENODEV)" : "the device is RUNNING again");
                lastSent = null;
                temporaryEndSeen = false;
                continue;
            }
            PrecopyInfo current = info.Value;
            if (!current.IsAvailable)
            {
                // No hints (the fd has no precopy ioctl): the first temporary end marks the end of the initial data.
                Volatile.Write(ref _pendingPrecopy, temporaryEndSeen ? 0 : long.MaxValue);
                if (temporaryEndSeen && !_initialDone && hints) SendPrecopyInfo(new PrecopyInfoRecord(0, 0));
                if (temporaryEndSeen) _initialDone = true;
            }
            else
            {
                var record = new PrecopyInfoRecord(current.InitialBytes, current.DirtyBytes);
                Volatile.Write(ref _pendingPrecopy, (long)Math.Min(current.InitialBytes + Math.Min(current.DirtyBytes, long.MaxValue / 2), long.MaxValue / 2));
                bool firstZero = current.InitialBytes == 0 && !_initialDone;
                if (hints && record != lastSent && (firstZero || Stopwatch.GetElapsedTime(lastSentAt) >= PrecopyInfoInterval))
                {
                    SendPrecopyInfo(record);
                    lastSent = record;
                    lastSentAt = Stopwatch.GetTimestamp();
                }
                if (current.InitialBytes == 0) _initialDone = true;
            }

            switch (Drain(DataPhase.PreCopy, stopOnPause: true))
            {
                case DrainEnd.Dead:
                    Restart("a pre-copy read found the session gone (ENODEV)");
                    lastSent = null;
                    temporaryEndSeen = false;
                    continue;
                case DrainEnd.Paused:
                    return;
                case DrainEnd.MoreData:
                    backoff = _session.Options.PrecopyPollInterval;
                    continue;
                case DrainEnd.Idle:
                    temporaryEndSeen = true;
                    WaitForPoll(backoff);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxPollInterval.Ticks));
                    break;
            }
        }
    }

    private enum DrainEnd { Idle, MoreData, Dead, Paused, Final }

    /// <summary>Reads until a temporary (pre-copy) or final (stop-copy) end, sending every read as a chunk.</summary>
    private DrainEnd Drain(DataPhase phase, bool stopOnPause)
    {
        long allocatedAtStart = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            return DrainCore(phase, stopOnPause);
        }
        finally
        {
            AllocatedWhilePumping += GC.GetAllocatedBytesForCurrentThread() - allocatedAtStart;
        }
    }

    private DrainEnd DrainCore(DataPhase phase, bool stopOnPause)
    {
        bool any = false;
        while (true)
        {
            if (stopOnPause && _session.Gate.PauseRequested) return DrainEnd.Paused;
            byte[] buffer = TakeBuffer();
            DataReadResult r;
            try
            {
                r = _data!.Read(buffer.AsSpan(ChunkHeader.Size, _chunkSize));
            }
            catch
            {
                ReturnBuffer(buffer);
                throw;
            }
            switch (r.Status)
            {
                case DataReadStatus.Data:
                    SendData(buffer, r.Count, phase);
                    any = true;
                    continue;
                case DataReadStatus.TemporaryEnd:
                    ReturnBuffer(buffer);
                    if (phase == DataPhase.StopCopy) continue; // not expected in STOP_COPY; keep reading to the final end
                    return any ? DrainEnd.MoreData : DrainEnd.Idle;
                case DataReadStatus.FinalEnd:
                    ReturnBuffer(buffer);
                    return phase == DataPhase.StopCopy ? DrainEnd.Final : (any ? DrainEnd.MoreData : DrainEnd.Idle);
                default:
                    ReturnBuffer(buffer);
                    return DrainEnd.Dead;
            }
        }
    }

    private void WaitForPoll(TimeSpan delay)
    {
        lock (_wake)
        {
            if (!_wakeRequested && !_session.Gate.PauseRequested) Monitor.Wait(_wake, delay);
            _wakeRequested = false;
        }
    }

    /// <summary>DISCARD: the device was reset during pre-copy. Opens the next epoch and a new PRE_COPY session.</summary>
    private void Restart(string why)
    {
        SendDiscard(why);
        try
        {
            _data = EnterPrecopyAfterReset();
        }
        catch (DeviceException e)
        {
            throw new MigrationException(StreamErrorCode.SourceDeviceFailed, MigrationFailureOrigin.SourceDevice,
                $"{Device.Name} was reset during pre-copy ({why}) and could not re-enter PRE_COPY: {e.Message}", e);
        }
        if (_data is null)
            throw new MigrationException(StreamErrorCode.SourceDeviceFailed, MigrationFailureOrigin.SourceDevice,
                $"{Device.Name} was reset during pre-copy ({why}); re-entering PRE_COPY opened no data channel");
    }

    /// <summary>
    /// RUNNING → PRE_COPY after a reset. A device that was reset behind our back reports that once, as
    /// DeadSession on the next SET (VfioDevice reads the kernel state before every SET and refuses to act on a
    /// stale one); the request after that starts from the state it read back.
    /// </summary>
    private IMigrationDataChannel? EnterPrecopyAfterReset()
    {
        try
        {
            return Device.SetState(MigrationState.PreCopy);
        }
        catch (DeviceException e) when (e.Kind == DeviceErrorKind.DeadSession)
        {
            return Device.SetState(MigrationState.PreCopy);
        }
    }

    /// <summary>Closes the dead session and sends DISCARD, opening the device's next epoch.</summary>
    private void SendDiscard(string why)
    {
        _data?.Dispose();
        _data = null;
        long dropped = _epochBytes;
        SendControl(DiscardRecord.Size, DiscardReason.SourceDeviceReset, static (writer, id, reason) => writer.Discard(id, reason));
        Volatile.Write(ref _epoch, _epoch + 1);
        _epochBytes = 0;
        _initialDone = false;
        Volatile.Write(ref _pendingPrecopy, long.MaxValue);
        Volatile.Write(ref _discards, _discards + 1);
        Volatile.Write(ref _discardedBytes, _discardedBytes + dropped);
        MigrationMetrics.Discard(sender: true, dropped);
        _session.OnDiscard(this, why);
    }

    private void StopCopy(IMigrationDataChannel? stopChannel)
    {
        long started = Stopwatch.GetTimestamp();
        if (stopChannel is not null)
        {
            if (HasPrecopy)
            {
                // The switchover handed out a new session: this device was reset after it parked. Its old
                // epoch is void; the new one starts with stop-copy data (no stop-copy data was sent yet).
                SendDiscard("the device was reset during the switchover");
            }
            _data = stopChannel;
        }
        else if (_data is null)
        {
            throw new MigrationException(StreamErrorCode.SourceDeviceFailed, MigrationFailureOrigin.SourceDevice, $"{Device.Name}: entering STOP_COPY opened no data channel");
        }
        _phase = MigrationPhase.StopCopy;
        if (Drain(DataPhase.StopCopy, stopOnPause: false) == DrainEnd.Dead)
            throw new MigrationException(StreamErrorCode.SourceDeviceFailed, MigrationFailureOrigin.SourceDevice,
                $"{Device.Name} was reset during STOP_COPY (epoch {Epoch}, {_epochBytes} bytes read): its stopped state cannot be read again");

        SendControl(DeviceEndRecord.Size, 0, static (writer, id, _) => writer.EndDevice(id));
        _stopCopyTicks = Stopwatch.GetTimestamp() - started;
        _phase = MigrationPhase.Committing;
        // Leave STOP_COPY (outside the downtime window: the data is queued already).
        Device.SetState(MigrationState.Stop)?.Dispose();
        _data?.Dispose();
        _data = null;
    }

    private void SendPrecopyInfo(PrecopyInfoRecord record) =>
        SendControl(PrecopyInfoRecord.Size, record, static (writer, id, r) => writer.WritePrecopyInfo(id, r));

    /// <summary>
    /// Sends one device-scoped control chunk (DEVICE_BEGIN, PRECOPY_INFO, DISCARD, DEVICE_END) of
    /// <paramref name="payloadLength"/> bytes: one of this pump's buffers, window reserved, encoded under the
    /// next channel's writer lock so its sequence number and its place in the queue agree.
    /// </summary>
    private void SendControl<TState>(int payloadLength, TState state, Action<ChunkWriter, ushort, TState> write)
    {
        var buffer = TakeBuffer();
        int length = ChunkHeader.Size + payloadLength;
        _session.Window.Reserve(length);
        var channel = NextChannel();
        bool inline;
        int written;
        lock (channel.WriterLock)
        {
            channel.Sink.Attach(buffer);
            write(channel.Writer, Id, state);
            written = channel.Sink.Written;
            inline = channel.EnqueueOrClaim(buffer, written, this);
        }
        CountControl(length);
        if (inline) channel.SendClaimed(buffer, written, this);
    }

    /// <summary>
    /// Sends one device read as chunks: zero runs of a page or more (<see cref="ZeroRunScanner"/>) become
    /// header-only ZERO_RUN chunks, the bytes between them DATA chunks. All of them are encoded into the
    /// read's own buffer: each DATA segment is moved down to sit right behind its header (the header slot
    /// in front of the buffer, or 48 bytes of the zero run before it), so the chunks end up contiguous and
    /// go out as one send. The wire length never exceeds 48 + the read (a zero run of ≥ 96 bytes pays for
    /// its own header and the next DATA header).
    /// </summary>
    private void SendData(byte[] buffer, int count, DataPhase phase)
    {
        long reserved = ChunkHeader.Size + (long)count;
        try
        {
            _session.Window.Reserve(reserved);
        }
        catch
        {
            ReturnBuffer(buffer);
            throw;
        }
        var channel = NextChannel();
        int length;
        bool inline;
        long zero = 0;
        lock (channel.WriterLock)
        {
            var sink = channel.Sink;
            var writer = channel.Writer;
            sink.Attach(buffer);
            ReadOnlySpan<byte> read = buffer.AsSpan(ChunkHeader.Size, count);
            int position = 0;
            while (position < count)
            {
                int run = ZeroRunScanner.Next(read, position, out int runLength);
                int dataEnd = run < 0 ? count : run;
                if (dataEnd > position)
                {
                    int segment = dataEnd - position;
                    int target = sink.Written + ChunkHeader.Size;
                    if (target != ChunkHeader.Size + position)
                        buffer.AsSpan(ChunkHeader.Size + position, segment).CopyTo(buffer.AsSpan(target));
                    int before = sink.Written;
                    writer.GetPayloadMemory(segment); // the payload memory is where the data now is
                    var header = writer.CommitData(Id, segment, phase);
                    if (header.Type == ChunkType.ZeroRun) zero += segment;
                    CountChunk(sink.Written - before, segment);
                    position = dataEnd;
                }
                if (run >= 0)
                {
                    int before = sink.Written;
                    writer.WriteZeroRun(Id, (uint)runLength, phase);
                    zero += runLength;
                    CountChunk(sink.Written - before, runLength);
                    position = run + runLength;
                }
            }
            length = sink.Written;
            inline = channel.EnqueueOrClaim(buffer, length, this);
        }
        _session.Window.Refund(reserved - length);
        _zeroBytes += zero;
        _epochBytes += count;
        if (phase == DataPhase.StopCopy) Volatile.Write(ref _stopCopyBytes, _stopCopyBytes + count);
        else Volatile.Write(ref _precopyBytes, _precopyBytes + count);
        // Outside the writer lock: chunks handed over meanwhile queue behind this one.
        if (inline) channel.SendClaimed(buffer, length, this);
    }

    private void CountChunk(int wireLength, int deviceBytes)
    {
        Volatile.Write(ref _chunks, _chunks + 1);
        Volatile.Write(ref _wireBytes, _wireBytes + wireLength);
        MigrationMetrics.Chunk(sender: true, wireLength, deviceBytes);
    }

    private void CountControl(int length)
    {
        Volatile.Write(ref _chunks, _chunks + 1);
        Volatile.Write(ref _wireBytes, _wireBytes + length);
        MigrationMetrics.Chunk(sender: true, length, 0);
    }

    /// <summary>
    /// The channel for the next chunk: round robin, except that the first idle channel from there on is
    /// preferred (the chunk is then sent inline, without waking its loop). Any choice is correct: the
    /// receiver orders a device's chunks by sequence number, whichever channel they came on.
    /// </summary>
    private ChannelSender NextChannel()
    {
        var channels = _session.Channels;
        int pick = _nextChannel;
        for (int i = 0; i < channels.Length; i++)
        {
            int candidate = pick + i < channels.Length ? pick + i : pick + i - channels.Length;
            if (channels[candidate].IsIdle)
            {
                pick = candidate;
                break;
            }
        }
        _nextChannel = pick + 1 < channels.Length ? pick + 1 : 0;
        return channels[pick];
    }

    private byte[] TakeBuffer()
    {
        lock (_bufferGate)
        {
            while (_free.Count == 0 && !_aborted) Monitor.Wait(_bufferGate);
            if (_aborted) throw new OperationCanceledException("the migration failed");
            return _free.Pop();
        }
    }

    public void ReturnBuffer(byte[] buffer)
    {
        lock (_bufferGate)
        {
            _free.Push(buffer);
            Monitor.Pulse(_bufferGate);
        }
    }
}
