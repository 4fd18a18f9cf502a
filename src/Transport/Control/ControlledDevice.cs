using StreamKit.Device;

namespace StreamKit.Transport.Control;

/// <summary>
/// An <see cref="IMigrationDevice"/> whose state transitions are performed by the VMM, not by
/// StreamKit: the VMM drives its VFIO device and hands StreamKit the data_fds over the control
/// socket. Senders and receivers use it exactly like a device they drive themselves; each
/// <see cref="SetState"/> completes when the VMM's matching handover has arrived:
/// <list type="table">
/// <item><term>source RUNNING → PRE_COPY(_P2P)</term><description>returns the PRE_COPY fd from add-device or discard (waits for it)</description></item>
/// <item><term>source PRE_COPY(_P2P) → STOP_COPY</term><description>waits for stop-copy (no fd), returns null; a discard meanwhile fails it with DeadSession</description></item>
/// <item><term>source RUNNING/STOP → STOP_COPY</term><description>waits for stop-copy with its fd and returns that channel (device without a PRE_COPY session)</description></item>
/// <item><term>source RUNNING → STOP</term><description>waits for stop-copy (the VMM stopped the device); the fd is returned by the following → STOP_COPY</description></item>
/// <item><term>source STOP_COPY → STOP</term><description>publishes device-done: the VMM may now leave STOP_COPY</description></item>
/// <item><term>destination → RESUMING</term><description>returns the fd from add-device, or publishes resume-fd-needed and waits for resume-fd</description></item>
/// <item><term>destination RESUMING → STOP</term><description>publishes device-complete and waits for commit-result; a failed commit throws CommitFailed</description></item>
/// <item><term>anything → RUNNING, STOP → RUNNING(_P2P), P2P steps</term><description>recorded only: the VMM does them (after completed, or to roll back after failed)</description></item>
/// </list>
/// <see cref="Reset"/> kills the current channel (the VMM resets the real device). <see cref="Abort"/>
/// ends every wait with a DeviceException. Control messages arrive through the <c>On…</c> methods,
/// called by <see cref="SourceControlHandler"/> / <see cref="DestinationControlHandler"/>.
/// </summary>
internal sealed class ControlledDevice : IMigrationDevice, PassedFdDataChannel.IChannelOwner
{
    private readonly object _gate = new();
    private readonly IControlEventSink _events;
    private readonly TaskCompletionSource _stopCopyHandedOver = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private MigrationState _state = MigrationState.Running; // as the sender/receiver sees it
    private PassedFdDataChannel? _offered;                   // handed over by the VMM, not yet taken by SetState
    private PassedFdDataChannel? _current;                   // taken by SetState
    private bool _vmmStopCopy;                               // the VMM reported STOP_COPY for this epoch
    private uint _epoch;
    private uint _resumeFdRequested = uint.MaxValue;         // epoch of an outstanding resume-fd-needed
    private uint _commitRequested = uint.MaxValue;           // epoch of an outstanding device-complete
    private (bool Ok, int Errno, string? Message)? _commit;
    private bool _doneReported;
    private string? _abortReason;
    private PrecopyInfo? _hint;
    private ulong? _stopCopyEstimate;
    private ulong _precopyBytesBefore, _stopCopyBytesBefore; // from channels of earlier epochs

    private ControlledDevice(ushort id, ControlRole role, string name, string driver, MigrationFeatures features,
        ulong? stopCopyEstimate, bool precopyIoctl, IControlEventSink events)
    {
        Id = id;
        Role = role;
        Name = name;
        DriverHint = driver;
        Features = features;
        _stopCopyEstimate = stopCopyEstimate;
        PrecopyIoctl = precopyIoctl;
        _events = events;
    }

    /// <summary>A source device from add-device; <paramref name="request"/>'s fd (if any) must be claimed already.</summary>
    internal static ControlledDevice ForSource(SourceAddDeviceRequest request, IControlEventSink events)
    {
        var device = new ControlledDevice(request.Device, ControlRole.Source, request.Name, request.Driver, request.Flags,
            request.StopCopyEstimate, request.PrecopyIoctl, events);
        device._hint = request.Precopy;
        if (request.Fd is { } fd)
            device._offered = new PassedFdDataChannel(fd, saving: true, stopCopy: false, request.PrecopyIoctl, device);
        return device;
    }

    /// <summary>A destination device from add-device; the fd must be claimed already.</summary>
    internal static ControlledDevice ForDestination(DestinationAddDeviceRequest request, IControlEventSink events)
    {
        var device = new ControlledDevice(request.Device, ControlRole.Destination, request.Name ?? "", "",
            request.Flags ?? MigrationFeatures.StopCopy, null, false, events);
        device.ExpectedName = request.Name;
        device._offered = new PassedFdDataChannel(request.Fd!, saving: false, stopCopy: false, false, device);
        return device;
    }

    /// <summary>Wire device id.</summary>
    internal ushort Id { get; }

    /// <summary>Which side this device is on.</summary>
    internal ControlRole Role { get; }

    /// <summary>Destination: the DEVICE_BEGIN name the VMM expects (null: any).</summary>
    internal string? ExpectedName { get; private set; }

    /// <summary>Source: StreamKit may call VFIO_MIG_GET_PRECOPY_INFO on the fd.</summary>
    internal bool PrecopyIoctl { get; }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string DriverHint { get; }

    /// <inheritdoc/>
    public MigrationFeatures Features { get; }

    /// <summary>Completes when the VMM handed over STOP_COPY (sessions may pump pre-copy until then instead of blocking in SetState).</summary>
    internal Task StopCopyHandedOver => _stopCopyHandedOver.Task;

    /// <summary>Discard generation: source discards so far; destination resuming sessions after the first.</summary>
    internal uint Epoch { get { lock (_gate) return _epoch; } }

    /// <summary>Source: the device has a PRE_COPY session (handed over, taken or not) and is not yet in STOP_COPY.</summary>
    internal bool InPreCopySession
    {
        get { lock (_gate) return !_vmmStopCopy && (_offered ?? _current) is { IsSaving: true, InStopCopy: false }; }
    }

    /// <summary>Source: the VMM already reported STOP_COPY for the current epoch.</summary>
    internal bool InStopCopy { get { lock (_gate) return _vmmStopCopy; } }

    // ---- messages from the VMM (via the control handler) ----------------------------------------

    /// <summary>precopy-info: the VMM's reading, used when StreamKit may not or cannot ioctl the fd.</summary>
    internal void OnPrecopyInfo(PrecopyInfo info)
    {
        lock (_gate) _hint = info;
    }

    /// <summary>stop-copy: the VMM moved the device to STOP_COPY; <paramref name="fd"/> (claimed) is the new session's fd, or null when the PRE_COPY fd continues.</summary>
    internal void OnStopCopy(PassedFd? fd, ulong? stopCopyEstimate)
    {
        lock (_gate)
        {
            if (stopCopyEstimate is not null) _stopCopyEstimate = stopCopyEstimate;
            if (fd is not null)
                _offered = new PassedFdDataChannel(fd, saving: true, stopCopy: true, false, this);
            else
                (_offered ?? _current)?.EnterStopCopy();
            _vmmStopCopy = true;
            Monitor.PulseAll(_gate);
        }
        _stopCopyHandedOver.TrySetResult();
    }

    /// <summary>discard: the device was reset during pre-copy; the old session is dead, <paramref name="fd"/> (claimed) is the new PRE_COPY fd.</summary>
    internal void OnDiscard(PassedFd fd, ulong? stopCopyEstimate, PrecopyInfo? precopy)
    {
        lock (_gate)
        {
            RetireChannels();
            _epoch++;
            _hint = precopy;
            _state = MigrationState.Running; // as after a reset: the sender asks for PRE_COPY again
            if (stopCopyEstimate is not null) _stopCopyEstimate = stopCopyEstimate;
            _offered = new PassedFdDataChannel(fd, saving: true, stopCopy: false, PrecopyIoctl, this);
            _doneReported = false;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>resume-fd: the VMM reset the device and re-entered RESUMING; <paramref name="fd"/> is claimed.</summary>
    internal void OnResumeFd(PassedFd fd)
    {
        lock (_gate)
        {
            _resumeFdRequested = uint.MaxValue;
            _offered?.Dispose();
            _offered = new PassedFdDataChannel(fd, saving: false, stopCopy: false, false, this);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>commit-result: the outcome of the VMM's RESUMING → STOP.</summary>
    internal void OnCommitResult(bool ok, int errno, string? message)
    {
        lock (_gate)
        {
            _commitRequested = uint.MaxValue;
            _commit = (ok, errno, message);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>True when a resume-fd-needed for <paramref name="epoch"/> is outstanding.</summary>
    internal bool IsAwaitingResumeFd(uint epoch) { lock (_gate) return _resumeFdRequested == epoch; }

    /// <summary>True when a device-complete for <paramref name="epoch"/> is outstanding.</summary>
    internal bool IsAwaitingCommit(uint epoch) { lock (_gate) return _commitRequested == epoch; }

    /// <summary>Ends every wait (now and later) with a DeviceException; the migration is over.</summary>
    internal void Abort(string reason)
    {
        lock (_gate)
        {
            _abortReason ??= reason;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Progress for status replies and progress events.</summary>
    internal DeviceStatus Snapshot()
    {
        lock (_gate)
        {
            var channel = _current ?? _offered;
            ulong pre = _precopyBytesBefore + (channel?.PrecopyBytes ?? 0);
            ulong stop = _stopCopyBytesBefore + (channel?.StopCopyBytes ?? 0);
            ulong? pending = _hint is { } h ? h.InitialBytes + h.DirtyBytes : null;
            return new DeviceStatus(Id, Describe(), _epoch, pre, stop, channel?.WrittenBytes ?? 0, pending, _stopCopyEstimate);
        }
    }

    private string Describe()
    {
        if (_abortReason is not null) return "aborted";
        if (Role == ControlRole.Source)
        {
            if (_doneReported) return "done";
            if (_vmmStopCopy) return "stop-copy";
            return (_offered ?? _current) is null ? "running" : "pre-copy";
        }
        if (_commit is { Ok: true }) return "committed";
        if (_commit is { Ok: false }) return "commit-failed";
        if (_commitRequested != uint.MaxValue) return "committing";
        if (_resumeFdRequested != uint.MaxValue) return "waiting-fd";
        return "resuming";
    }

    // ---- IMigrationDevice --------------------------------------------------------------------

    /// <inheritdoc/>
    public MigrationState GetState()
    {
        lock (_gate) return _state;
    }

    /// <inheritdoc/>
    public ulong? GetStopCopySizeEstimate()
    {
        lock (_gate) return _stopCopyEstimate;
    }

    /// <inheritdoc/>
    public IMigrationDataChannel? SetState(MigrationState target)
    {
        ControlEvent? publish = null;
        IMigrationDataChannel? result;
        lock (_gate)
        {
            MigrationState from = _state;
            if (from == target) return null;
            if (target == MigrationState.Error || !MigrationPaths.IsSupported(target, Features) && target != MigrationState.Running)
                throw Refused(from, target, $"{target} is not available on this device");
            if (MigrationPaths.IsForbidden(from, target))
                throw Refused(from, target, "the kernel forbids this arc");
            result = Role == ControlRole.Source ? SourceTransition(from, target, ref publish) : DestinationTransition(from, target, ref publish);
        }
        if (publish is not null) _events.Publish(publish);
        return result;
    }

    private IMigrationDataChannel? SourceTransition(MigrationState from, MigrationState target, ref ControlEvent? publish)
    {
        switch (target)
        {
            case MigrationState.PreCopy or MigrationState.PreCopyP2P when from is MigrationState.PreCopy or MigrationState.PreCopyP2P:
                _state = target; // P2P quiescence is the VMM's business
                return null;
            case MigrationState.PreCopy or MigrationState.PreCopyP2P when from is MigrationState.Running or MigrationState.RunningP2P:
            {
                uint epoch = _epoch;
                Wait(() => _offered is { InStopCopy: false } || _vmmStopCopy || _epoch != epoch, from, target);
                if (_offered is not { InStopCopy: false } channel)
                    throw new DeviceException(DeviceErrorKind.TransitionFailed, "the VMM moved the device to STOP_COPY instead of handing over a PRE_COPY session", state: from);
                _current = channel;
                _offered = null;
                _state = target;
                return channel;
            }
            case MigrationState.StopCopy when from is MigrationState.PreCopy or MigrationState.PreCopyP2P:
            {
                uint epoch = _epoch;
                Wait(() => _vmmStopCopy || _epoch != epoch, from, target);
                if (_epoch != epoch)
                    throw new DeviceException(DeviceErrorKind.DeadSession, "the device was reset (discard) before the VMM moved it to STOP_COPY", Errno.ENODEV, MigrationState.Running);
                _state = target;
                return null; // same fd continues
            }
            case MigrationState.StopCopy or MigrationState.Stop when from is MigrationState.Running or MigrationState.RunningP2P or MigrationState.Stop:
            {
                Wait(() => _vmmStopCopy && _offered is not null, from, target);
                if (target == MigrationState.Stop)
                {
                    _state = MigrationState.Stop; // the channel waits in _offered for → STOP_COPY
                    return null;
                }
                var channel = _offered!;
                _current = channel;
                _offered = null;
                _state = target;
                return channel;
            }
            case MigrationState.Stop when from == MigrationState.StopCopy:
                _state = target;
                publish = DeviceDone();
                return null;
            case MigrationState.Running or MigrationState.RunningP2P or MigrationState.Stop:
                // Leaving the saving group (or rolling back): only the VMM can; it is told by failed/completed.
                if (from == MigrationState.StopCopy) publish = DeviceDone();
                _state = target;
                return null;
            default:
                throw Refused(from, target, "not a transition a source device controlled by the VMM makes");
        }
    }

    private IMigrationDataChannel? DestinationTransition(MigrationState from, MigrationState target, ref ControlEvent? publish)
    {
        switch (target)
        {
            case MigrationState.Resuming when from is MigrationState.Running or MigrationState.RunningP2P or MigrationState.Stop:
            {
                if (_offered is null && _resumeFdRequested != _epoch)
                {
                    _resumeFdRequested = _epoch;
                    PublishUnlocked(new ResumeFdNeededEvent(Id, _epoch));
                }
                Wait(() => _offered is not null, from, target);
                var channel = _offered!;
                _offered = null;
                _current = channel;
                _commit = null;
                _state = target;
                return channel;
            }
            case MigrationState.Stop or MigrationState.Running or MigrationState.RunningP2P when from == MigrationState.Resuming:
            {
                uint epoch = _epoch;
                _commit = null;
                _commitRequested = epoch;
                PublishUnlocked(new DeviceCompleteEvent(Id, epoch, _current?.WrittenBytes ?? 0));
                Wait(() => _commit is not null || _epoch != epoch, from, target);
                if (_epoch != epoch)
                    throw new DeviceException(DeviceErrorKind.DeadSession, "the device was reset while the VMM was committing it", Errno.ENODEV, MigrationState.Running);
                var (ok, errno, message) = _commit!.Value;
                if (!ok)
                {
                    _state = MigrationState.Error; // unknown: the VMM reads it back and resets
                    throw new DeviceException(DeviceErrorKind.CommitFailed, $"the VMM's RESUMING → STOP failed: {message ?? "no message"}", errno);
                }
                _current?.Dispose(); // the session ended; close StreamKit's copy
                _state = target;
                return null;
            }
            case MigrationState.Running or MigrationState.RunningP2P or MigrationState.Stop:
                _state = target; // the VMM runs the device when it decides to
                return null;
            default:
                throw Refused(from, target, "not a transition a destination device controlled by the VMM makes");
        }
    }

    /// <summary>
    /// The VMM resets the real device; here the current session dies. On the destination the next
    /// → RESUMING asks the VMM for a fresh fd (resume-fd-needed, next epoch).
    /// </summary>
    public void Reset()
    {
        lock (_gate)
        {
            if (Role == ControlRole.Destination)
            {
                // The add-device fd is still unused only before the first RESUMING: keep it then.
                if (_current is not null || _state != MigrationState.Running)
                {
                    RetireChannels();
                    _epoch++;
                    _commit = null;
                    _commitRequested = uint.MaxValue;
                }
            }
            else
            {
                _current?.MarkDead();
            }
            _state = MigrationState.Running;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Closes StreamKit's copies of every fd of this device.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _abortReason ??= "device disposed";
            _offered?.Dispose();
            _current?.Dispose();
            Monitor.PulseAll(_gate);
        }
    }

    // ---- channel callbacks -------------------------------------------------------------------

    PrecopyInfo? PassedFdDataChannel.IChannelOwner.PrecopyHint { get { lock (_gate) return _hint; } }

    bool PassedFdDataChannel.IChannelOwner.IsAborted { get { lock (_gate) return _abortReason is not null; } }

    void PassedFdDataChannel.IChannelOwner.OnDeadSession(PassedFdDataChannel channel)
    {
        ControlEvent? publish;
        lock (_gate)
        {
            if (channel != _current && channel != _offered) return; // already superseded by a discard
            publish = new DataFdDeadEvent(Id, _epoch, channel.InStopCopy ? "stop-copy" : "pre-copy");
            if (channel == _current && Role == ControlRole.Source) _state = MigrationState.Running; // reset or left the group
        }
        _events.Publish(publish);
    }

    void PassedFdDataChannel.IChannelOwner.OnFinalEnd(PassedFdDataChannel channel)
    {
        ControlEvent? publish;
        lock (_gate)
        {
            if (channel != _current) return;
            publish = DeviceDone();
        }
        if (publish is not null) _events.Publish(publish);
    }

    // ---- helpers (called with _gate held) ----------------------------------------------------

    private DeviceDoneEvent? DeviceDone()
    {
        if (_doneReported) return null;
        _doneReported = true;
        var channel = _current;
        return new DeviceDoneEvent(Id, _epoch, _precopyBytesBefore + (channel?.PrecopyBytes ?? 0), _stopCopyBytesBefore + (channel?.StopCopyBytes ?? 0));
    }

    /// <summary>
    /// Kills the epoch's channels and closes StreamKit's copies of their fds at once (a read or write in
    /// progress keeps its reference until it returns; afterwards every call reports a dead session).
    /// Their byte counts are kept for status.
    /// </summary>
    private void RetireChannels()
    {
        foreach (var channel in new[] { _current, _offered })
        {
            if (channel is null) continue;
            channel.MarkDead();
            _precopyBytesBefore += channel.PrecopyBytes;
            _stopCopyBytesBefore += channel.StopCopyBytes;
            channel.Dispose();
        }
        _offered = null;
        _current = null;
        _vmmStopCopy = false;
    }

    /// <summary>
    /// Publishes with the lock released (as Monitor.Wait would), so a sink can never deadlock against
    /// this device; callers re-check their conditions afterwards, as they do after a wait.
    /// </summary>
    private void PublishUnlocked(ControlEvent controlEvent)
    {
        Monitor.Exit(_gate);
        try
        {
            _events.Publish(controlEvent);
        }
        finally
        {
            Monitor.Enter(_gate);
        }
    }

    private void Wait(Func<bool> ready, MigrationState from, MigrationState target)
    {
        while (!ready())
        {
            if (_abortReason is not null)
                throw new DeviceException(DeviceErrorKind.Unavailable, $"{from} → {target} abandoned: {_abortReason}", state: from);
            Monitor.Wait(_gate);
        }
    }

    private static DeviceException Refused(MigrationState from, MigrationState target, string why) =>
        new(DeviceErrorKind.TransitionRefused, $"{from} → {target}: {why}", state: from);
}
