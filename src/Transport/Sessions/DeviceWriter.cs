using System.Buffers;
using System.Diagnostics;
using StreamKit.Device;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// One destination device's writer. Its chunks come in order from its <see cref="DeviceInbox"/>; the
/// shared per-device state machine (<see cref="DeviceStreamState"/>) checks each one (offsets, epochs,
/// phases, the final digest), and it is applied: DEVICE_BEGIN → identity check and RESUMING; DATA →
/// write() straight from the receive buffer (LZ4: from the decoded scratch); ZERO_RUN → zeros; DISCARD →
/// reset and RESUMING again; DEVICE_END (digest matched) → the commit, RESUMING → STOP. Whoever owns the
/// device's writes applies: usually the channel loop that received the chunk, inline (<see cref="Receive"/>:
/// no hand-off between threads per chunk), else the writer thread (<see cref="Run"/>: the chunks whose
/// device operation may block long, and chunks queued while another thread owned the device). A chunk
/// reaches the device only after its CRCs (checked by the channel's reader), its place and its offset
/// were checked.
/// </summary>
internal sealed class DeviceWriter : IStreamEvents
{
    private readonly ReceiverSession _session;
    private readonly DeviceInbox _inbox;
    private readonly object _gate = new();
    private readonly DeviceSummary _summary;
    private readonly DeviceStreamState _state;
    private readonly RawPayloads _raw = new();
    private IMigrationDataChannel? _channel;
    private long _stopCopyStarted;

    // Guarded by _gate (read by the return path and progress).
    private bool _begun;
    private bool _precopyDevice;
    private bool _committed;
    private bool _stopCopySeen;
    private uint _epoch;
    private ulong _written;            // data bytes written in the current epoch (ACK offset)
    private uint _initialReadyEpoch = uint.MaxValue;
    private long _precopyBytes, _stopCopyBytes, _zeroBytes, _chunks, _wireBytes, _discardedBytes;
    private int _discards;
    private ulong _notifiedAt;
    private string _name;
    private string _driver = "";
    private long _stopCopyTicks;

    internal DeviceWriter(ReceiverSession session, ushort id, IMigrationDevice device, DeviceInbox inbox)
    {
        _session = session;
        Id = id;
        Device = device;
        _inbox = inbox;
        _name = device.Name;
        _summary = new DeviceSummary { Device = id };
        _state = new DeviceStreamState(id, _summary);
    }

    internal ushort Id { get; }
    internal IMigrationDevice Device { get; }
    internal DeviceInbox Inbox => _inbox;

    /// <summary>True once the device was moved out of RUNNING (it needs a reset on failure).</summary>
    internal bool Touched { get; private set; }

    /// <summary>Bytes allocated while applying DATA and ZERO_RUN chunks, the steady state (tests: nothing). Updated by the device's owner only.</summary>
    internal long AllocatedWhileWriting { get; private set; }

    /// <summary>Chunks a channel loop applied itself (the rest went through the writer thread). Updated by the device's owner only.</summary>
    internal long InlineChunks => Volatile.Read(ref _inlineChunks);

    private long _inlineChunks;

    internal bool Begun { get { lock (_gate) return _begun; } }
    internal bool Committed { get { lock (_gate) return _committed; } }
    internal long Chunks { get { lock (_gate) return _chunks; } }

    /// <summary>The ACK position: (epoch, contiguous data bytes written in it).</summary>
    internal (uint Epoch, ulong Written) AckPosition
    {
        get { lock (_gate) return (_epoch, _written); }
    }

    /// <summary>
    /// §6.2: false for a device without PRE_COPY; for a pre-copy device, whether its current epoch's
    /// initial data is written (a PRECOPY_INFO with initial_bytes 0 was applied). Null while not begun.
    /// </summary>
    internal bool? InitialDataWritten
    {
        get
        {
            lock (_gate)
            {
                if (!_begun) return null;
                return !_precopyDevice || _initialReadyEpoch == _epoch;
            }
        }
    }

    internal bool PrecopyDevice { get { lock (_gate) return _precopyDevice; } }

    /// <summary>True once any stop-copy data arrived (the switchover happened).</summary>
    internal bool StopCopySeen { get { lock (_gate) return _stopCopySeen; } }

    internal DeviceProgress Snapshot()
    {
        lock (_gate)
        {
            var phase = _committed ? MigrationPhase.Committing : _stopCopySeen ? MigrationPhase.StopCopy : _begun ? MigrationPhase.PreCopy : MigrationPhase.Connecting;
            return new DeviceProgress(Id, _name, phase, _epoch, _precopyBytes, _stopCopyBytes, 0, null, _discards, _discardedBytes);
        }
    }

    internal DeviceMigrationResult Result()
    {
        lock (_gate)
            return new DeviceMigrationResult(Id, _name, _driver, _precopyBytes, _stopCopyBytes, _chunks, _wireBytes, _zeroBytes,
                _discards, _discardedBytes, Stopwatch.GetElapsedTime(0, _stopCopyTicks), _committed);
    }

    /// <summary>
    /// A channel loop's hand-over of a device chunk it has just read (CRC and channel order checked): routed
    /// by the inbox, and applied right here when this loop gets the device's write ownership (then also what
    /// other loops queued meanwhile). <paramref name="chunk"/>'s payload must stay valid until this returns. A
    /// blocking loop passes its <paramref name="hold"/>: an early chunk may then wait in place (see <see cref="DeviceInbox.Route"/>).
    /// </summary>
    /// <exception cref="StreamFormatException">A routing or structure error.</exception>
    /// <exception cref="MigrationException">The device refused a write.</exception>
    internal void Receive(int channel, in Chunk chunk, ReceiveWindow window, ChunkHold? hold)
    {
        var routing = _inbox.Route(channel, chunk, window, hold);
        if (routing == DeviceInbox.Routing.Done) return;
        try
        {
            if (routing == DeviceInbox.Routing.ApplyInline)
            {
                long windowBytes = ChunkHeader.Size + (long)chunk.Header.WireLength;
                try
                {
                    Apply(channel, chunk, windowBytes);
                }
                finally
                {
                    _session.Consumed(windowBytes);
                }
                Interlocked.Increment(ref _inlineChunks);
            }
            while (_inbox.TryTakeInline(out var item))
            {
                ApplyQueued(item);
                Interlocked.Increment(ref _inlineChunks);
            }
        }
        catch (Exception)
        {
            _inbox.EndWrite();
            throw;
        }
    }

    /// <summary>
    /// The writer thread's body: apply what the channel loops leave to it until DEVICE_END was committed or
    /// the stream ended; then, once no loop writes the device any more, close its data channel.
    /// </summary>
    internal void Run()
    {
        var failure = _session.Failure;
        try
        {
            while (_inbox.TryTake(out var item))
            {
                try
                {
                    ApplyQueued(item);
                }
                finally
                {
                    _inbox.EndWrite();
                }
                if (_state.Ended) return;
            }
        }
        catch (Exception e)
        {
            if (!failure.IsFailed) failure.Set(e);
        }
        finally
        {
            // After a failure a channel loop may still be inside a write: the data channel is its until it lets go.
            if (_inbox.WaitIdle(ReceiverSession.WriterStopTimeout))
            {
                _channel?.Dispose();
                _channel = null;
            }
        }
    }

    /// <summary>Applies a queued or held chunk and gives back what it held (its lease or its copy).</summary>
    private void ApplyQueued(in DeviceInbox.Item item)
    {
        try
        {
            Apply(item.Channel, item.Chunk, item.WindowBytes);
        }
        finally
        {
            _inbox.Release(item);
            _session.Consumed(item.WindowBytes);
        }
    }

    /// <summary>Checks and applies one chunk; the caller owns the device's writes.</summary>
    private void Apply(int channel, in Chunk chunk, long windowBytes)
    {
        var type = chunk.Header.Type;
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        _state.Apply(channel, chunk, _raw, this);
        lock (_gate)
        {
            _chunks++;
            _wireBytes += windowBytes;
        }
        MigrationMetrics.Chunk(sender: false, windowBytes, type is ChunkType.Data or ChunkType.ZeroRun ? chunk.Header.RawLength : 0);
        if (type is ChunkType.Data or ChunkType.ZeroRun)
            AllocatedWhileWriting += GC.GetAllocatedBytesForCurrentThread() - allocated;
    }

    void IStreamEvents.OnDeviceBegin(ushort device, DeviceBeginRecord record)
    {
        if (_session.Options.CheckDeviceIdentity)
        {
            if (record.Driver.Length > 0 && Device.DriverHint.Length > 0 && record.Driver != Device.DriverHint)
                throw Rejected($"the stream's device {device} is driver '{record.Driver}', this destination device is '{Device.DriverHint}' (ReceiverOptions.CheckDeviceIdentity)");
            if (record.Name.Length > 0 && Device.Name.Length > 0 && record.Name != Device.Name)
                throw Rejected($"the stream's device {device} is '{record.Name}', this destination device is '{Device.Name}' (ReceiverOptions.CheckDeviceIdentity)");
        }
        if ((record.MigrationFlags & (ulong)MigrationFeatures.StopCopy) == 0)
            throw Rejected($"the stream's device {device} ('{record.Name}') does not announce STOP_COPY migration");
        Touched = true;
        _channel = Device.SetState(MigrationState.Resuming) ?? throw Rejected($"{Device.Name}: entering RESUMING opened no data channel");
        lock (_gate)
        {
            _begun = true;
            _precopyDevice = (record.MigrationFlags & (ulong)MigrationFeatures.PreCopy) != 0;
            _name = record.Name;
            _driver = record.Driver;
        }
        _session.NotifyReturnPath();
    }

    void IStreamEvents.OnData(ushort device, uint epoch, ulong offset, DataPhase phase, ReadOnlySequence<byte> raw)
    {
        var channel = _channel!;
        if (raw.IsSingleSegment)
        {
            channel.Write(raw.FirstSpan);
        }
        else
        {
            foreach (var segment in raw) channel.Write(segment.Span);
        }
        Written((ulong)raw.Length, phase, zero: false);
    }

    void IStreamEvents.OnZeroRun(ushort device, uint epoch, ulong offset, uint length, DataPhase phase)
    {
        _channel!.WriteZeros(length); // the device gets the zero bytes (spec §ZERO_RUN); the channel picks how
        Written(length, phase, zero: true);
    }

    void IStreamEvents.OnPrecopyInfo(ushort device, uint epoch, ulong offset, PrecopyInfoRecord info)
    {
        if (info.InitialBytes != 0) return;
        lock (_gate) _initialReadyEpoch = epoch; // everything before this position is written: the chunks are applied in order
        _session.NotifyReturnPath();
    }

    void IStreamEvents.OnDiscard(ushort device, uint newEpoch, DiscardRecord record)
    {
        // RESUMING can only be left by a reset, which drops what was written; then resume again.
        _channel?.Dispose();
        _channel = null;
        Device.Reset();
        _channel = Device.SetState(MigrationState.Resuming) ?? throw Rejected($"{Device.Name}: re-entering RESUMING after DISCARD opened no data channel");
        long dropped;
        lock (_gate)
        {
            dropped = (long)_written;
            _discardedBytes += dropped;
            _discards++;
            _epoch = newEpoch;
            _written = 0;
            _notifiedAt = 0;
        }
        MigrationMetrics.Discard(sender: false, dropped);
        _session.NotifyReturnPath();
    }

    void IStreamEvents.OnDeviceEnd(ushort device, uint epoch, DeviceEndRecord record)
    {
        // The digest matched: commit. RESUMING → STOP is where the driver validates the whole image.
        try
        {
            Device.SetState(MigrationState.Stop)?.Dispose();
        }
        catch (DeviceException e)
        {
            throw new MigrationException(StreamErrorCode.DeviceRejected, MigrationFailureOrigin.DestinationDevice,
                $"{Device.Name} refused the state at the commit (RESUMING → STOP): {e.Message}", e);
        }
        _channel?.Dispose();
        _channel = null;
        lock (_gate)
        {
            _committed = true;
            if (_stopCopyStarted != 0) _stopCopyTicks = Stopwatch.GetTimestamp() - _stopCopyStarted;
        }
        _session.NotifyReturnPath();
    }

    private void Written(ulong bytes, DataPhase phase, bool zero)
    {
        bool notify;
        lock (_gate)
        {
            _written += bytes;
            if (zero) _zeroBytes += (long)bytes;
            if (phase == DataPhase.StopCopy)
            {
                if (!_stopCopySeen) _stopCopyStarted = Stopwatch.GetTimestamp();
                _stopCopySeen = true;
                _stopCopyBytes += (long)bytes;
            }
            else
            {
                _precopyBytes += (long)bytes;
            }
            notify = _written - _notifiedAt >= 8 << 20;
            if (notify) _notifiedAt = _written;
        }
        if (notify) _session.NotifyReturnPath();
    }

    private MigrationException Rejected(string why) =>
        new(StreamErrorCode.DeviceRejected, MigrationFailureOrigin.DestinationDevice, why);
}
