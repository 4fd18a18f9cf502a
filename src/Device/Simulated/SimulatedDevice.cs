using System.Diagnostics;

namespace StreamKit.Device;

/// <summary>
/// An in-process VFIO migration device that behaves like a real driver (mtty, mlx5, hisi, or a bulk
/// page device), deterministic from its seed. It walks the kernel's paths (<see cref="MigrationPaths"/>)
/// one arc at a time, opens sessions only on the arcs the kernel opens them on, disables the channel
/// when the session leaves its state group or on reset, and validates resumed state exactly: a
/// destination commits (RESUMING → STOP) only when it rebuilt precisely the state a correct source
/// sent. <see cref="StateDigest"/> lets tests compare source and destination state.
/// Thread-safe: channel calls and state changes serialise on one lock, like the driver's state mutex.
/// </summary>
public sealed class SimulatedDevice : IMigrationDevice
{
    private readonly DeviceModel _model;
    private readonly List<(MigrationState From, MigrationState To)> _arcs = [];
    private volatile MigrationState _state = MigrationState.Running;
    private MigrationState _believed = MigrationState.Running; // the state last set through this object (SetState, Reset)
    private SimulatedDataChannel? _saving;
    private SimulatedDataChannel? _resuming;
    private SimMix.Rng _dirtyRng;
    private double _dirtyCredit;
    private long _dirtyClock;
    private bool _disposed;

    /// <summary>Creates a device in RUNNING with the initial state the spec describes.</summary>
    public SimulatedDevice(SimulatedDeviceSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        _model = spec.Profile switch
        {
            SimulatedProfile.Mtty => new MttyModel(spec),
            SimulatedProfile.Mlx5 => new Mlx5Model(spec),
            SimulatedProfile.Hisi => new HisiModel(spec),
            SimulatedProfile.Bulk => new BulkModel(spec),
            _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Profile, "unknown profile"),
        };
        var features = _model.NativeFeatures;
        if (!spec.P2P) features &= ~MigrationFeatures.P2P;
        if (!spec.PreCopy) features &= ~MigrationFeatures.PreCopy;
        Features = features;
        Injector = new FaultInjector(spec.Faults);
        _dirtyRng = new SimMix.Rng(SimMix.Mix(spec.Seed, 0x6469727479));
        Name = spec.Name ?? $"sim-{spec.Profile.ToString().ToLowerInvariant()}-{spec.Seed}";
    }

    /// <summary>Parses <paramref name="spec"/> (see <see cref="SimulatedDeviceSpec.Parse"/>) and creates the device.</summary>
    /// <exception cref="DeviceSpecException">The spec is malformed.</exception>
    public static SimulatedDevice Create(string spec) => new(SimulatedDeviceSpec.Parse(spec));

    /// <summary>What this device was built from.</summary>
    public SimulatedDeviceSpec Spec { get; }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string DriverHint => _model.DriverHint;

    /// <inheritdoc/>
    public MigrationFeatures Features { get; }

    /// <summary>
    /// Digest of the device state (content function + every unit's version). A destination after a
    /// good commit has the digest the source had when it was stopped.
    /// </summary>
    public ulong StateDigest
    {
        get { lock (Sync) return _model.Digest(); }
    }

    internal object Sync { get; } = new();

    internal FaultInjector Injector { get; }

    internal SimulatedFaults Faults => Spec.Faults;

    internal MigrationState StateUnlocked => _state;

    /// <summary>Every arc walked, in order (tests compare them with the kernel's paths).</summary>
    internal IReadOnlyList<(MigrationState From, MigrationState To)> Arcs
    {
        get { lock (Sync) return [.. _arcs]; }
    }

    /// <summary>Resets so far, requested or injected.</summary>
    internal int ResetCount { get; private set; }

    /// <summary>State units (pages, ports).</summary>
    internal int UnitCount => _model.UnitCount;

    /// <summary>Why the last commit or resume write failed, if it did.</summary>
    internal string? LastResumeProblem { get; private set; }

    /// <inheritdoc/>
    public MigrationState GetState()
    {
        lock (Sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _state;
        }
    }

    /// <summary>
    /// Walks the kernel's path to <paramref name="target"/>, with <see cref="Vfio.VfioDevice"/>'s guards, so
    /// transport code sees the same behaviour from both: a device that is no longer in the state last set
    /// (reset behind our back: an injected reset, <see cref="SimulateHiddenReset"/>) fails with
    /// <see cref="DeviceErrorKind.DeadSession"/> before any arc (the next call starts from the real state),
    /// and a resuming session with a failed write is never committed (<see cref="DeviceErrorKind.TransitionRefused"/>).
    /// </summary>
    public IMigrationDataChannel? SetState(MigrationState target)
    {
        lock (Sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            MigrationState actual = _state;
            if (actual != _believed && MigrationPaths.IsSupported(target, Features) && !MigrationPaths.IsForbidden(actual, target))
            {
                // The sessions died with the reset; the caller learns it here, and starts over from the real state.
                MigrationState believed = _believed;
                _believed = actual;
                if (actual == target && believed != MigrationState.Resuming) return null; // never a silent "commit"
                throw new DeviceException(DeviceErrorKind.DeadSession, believed == MigrationState.Resuming
                    ? $"{Name} is in {actual}, not RESUMING as last set: it was reset behind our back and nothing written to it was committed"
                    : $"{Name} is in {actual}, not {believed} as last set: it was reset behind our back and its data session is dead",
                    state: actual);
            }
            // Refused before any arc is taken; the device state is unchanged (and reported).
            IReadOnlyList<MigrationState> path = MigrationPaths.Path(actual, target, Features);
            if (path.Count == 0) return null;
            if (actual == MigrationState.Resuming && _resuming is { Load.FailedErrno: not 0 and var failed })
                throw new DeviceException(DeviceErrorKind.TransitionRefused,
                    $"{Name}: a write of this resuming session failed (errno {failed} {Errno.Name(failed)}); " +
                    "committing could load partial state, so reset the device instead", failed, actual);
            SimulatedDataChannel? opened = null;
            try
            {
                foreach (MigrationState next in path)
                {
                    MigrationState from = _state;
                    SimulatedDataChannel? channel = TakeArc(from, next);
                    _state = next;
                    _arcs.Add((from, next));
                    if (channel is not null)
                    {
                        // The kernel's path rule puts a session-opening arc only last; anything else is our bug.
                        Debug.Assert(next == target, "a session opened on an interior arc");
                        opened = channel;
                    }
                }
            }
            finally
            {
                _believed = _state; // a failed SET is read back, as VfioDevice does
            }
            return opened;
        }
    }

    /// <inheritdoc/>
    public ulong? GetStopCopySizeEstimate()
    {
        lock (Sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return (ulong)_model.StopCopyEstimate();
        }
    }

    /// <summary>VFIO_DEVICE_RESET: state RUNNING, every session disabled; the device state (the VM's) is kept,
    /// and whatever a resuming session had written is discarded.</summary>
    public void Reset()
    {
        lock (Sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ResetLocked();
            _believed = _state;
        }
    }

    /// <summary>
    /// A reset this object's user is not told about (guest FLR, another user of the device): state RUNNING,
    /// every session dead, as <see cref="Reset"/>, but the next <see cref="SetState"/> reports it
    /// (<see cref="DeviceErrorKind.DeadSession"/>), as injected resets are.
    /// </summary>
    internal void SimulateHiddenReset()
    {
        lock (Sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ResetLocked();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        lock (Sync)
        {
            if (_disposed) return;
            EndSaving();
            EndResuming();
            _disposed = true;
        }
    }

    /// <summary>The guest changes <paramref name="units"/> random units (pages, ports). Only while the device runs.</summary>
    /// <exception cref="InvalidOperationException">The device is stopped (STOP, STOP_COPY, RESUMING, ERROR).</exception>
    internal void SimulateGuestActivity(int units)
    {
        lock (Sync)
        {
            if (!IsRunning(_state)) throw new InvalidOperationException($"{Name} is {_state}: a stopped device's state cannot change");
            for (int i = 0; i < units; i++) _model.Touch(_dirtyRng.Below(_model.UnitCount));
        }
    }

    /// <summary>Injected reset from inside a channel call (lock held).</summary>
    internal void FaultReset(string phase, long position)
    {
        Injector.ResetFired();
        LastInjectedFault = $"reset in {phase} at stream byte {position}";
        ResetLocked();
    }

    /// <summary>The last injected reset, for diagnostics.</summary>
    internal string? LastInjectedFault { get; private set; }

    /// <summary>Dirty-rate bookkeeping after <paramref name="bytes"/> were read (lock held).</summary>
    internal void AfterSaveRead(int bytes)
    {
        if (!IsPreCopy(_state)) return;
        if (Spec.DirtyUnitsPerMiB > 0) _dirtyCredit += bytes * Spec.DirtyUnitsPerMiB / (1 << 20);
        TickDirtyClock();
    }

    /// <summary>Applies the time-based dirty rate and any accumulated credit (lock held).</summary>
    internal void TickDirtyClock()
    {
        if (!IsPreCopy(_state)) return;
        if (Spec.DirtyUnitsPerSecond > 0)
        {
            long now = Stopwatch.GetTimestamp();
            _dirtyCredit += (now - _dirtyClock) * Spec.DirtyUnitsPerSecond / Stopwatch.Frequency;
            _dirtyClock = now;
        }
        if (_dirtyCredit < 1) return;
        long touches = Math.Min((long)_dirtyCredit, _model.UnitCount);
        _dirtyCredit -= Math.Floor(_dirtyCredit);
        for (long i = 0; i < touches; i++) _model.Touch(_dirtyRng.Below(_model.UnitCount));
    }

    private SimulatedDataChannel? TakeArc(MigrationState from, MigrationState to)
    {
        if (Injector.TakeSetError(to) is var injected and not 0)
            throw new DeviceException(DeviceErrorKind.TransitionFailed, $"{Name}: injected failure of {from} → {to}", injected, from);
        switch (from, to)
        {
            case (MigrationState.Running, MigrationState.PreCopy):
            case (MigrationState.RunningP2P, MigrationState.PreCopyP2P):
                return OpenSaving(precopy: true, p2p: to == MigrationState.PreCopyP2P);
            case (MigrationState.Stop, MigrationState.StopCopy):
                return OpenSaving(precopy: false, p2p: false);
            case (MigrationState.Stop, MigrationState.Resuming):
                return OpenResuming();
            case (MigrationState.PreCopy, MigrationState.PreCopyP2P):
            case (MigrationState.PreCopyP2P, MigrationState.PreCopy):
                _saving!.Save!.P2P = to == MigrationState.PreCopyP2P;
                return null;
            case (MigrationState.PreCopy, MigrationState.StopCopy):
            case (MigrationState.PreCopyP2P, MigrationState.StopCopy):
                TickDirtyClock(); // last changes before the device stops
                _saving!.Save!.EnterStopCopy();
                return null;
            case (MigrationState.StopCopy, MigrationState.Stop):
            case (MigrationState.PreCopy, MigrationState.Running):
            case (MigrationState.PreCopyP2P, MigrationState.RunningP2P):
                EndSaving();
                return null;
            case (MigrationState.Resuming, MigrationState.Stop):
                Commit();
                return null;
            case (MigrationState.Running, MigrationState.RunningP2P):
            case (MigrationState.RunningP2P, MigrationState.Running):
            case (MigrationState.Stop, MigrationState.RunningP2P):
            case (MigrationState.RunningP2P, MigrationState.Stop):
            case (MigrationState.Running, MigrationState.Stop):
            case (MigrationState.Stop, MigrationState.Running):
                return null; // P2P quiescing and plain stop/start change no session
            default:
                throw new DeviceException(DeviceErrorKind.TransitionFailed, $"{Name}: no arc {from} → {to}", Errno.EINVAL, from);
        }
    }

    private SimulatedDataChannel OpenSaving(bool precopy, bool p2p)
    {
        EndSaving(); // cannot be open: entering the saving group ends nothing else; defensive
        SaveStream save = _model.OpenSave(precopy);
        if (!precopy) save.EnterStopCopy();
        save.P2P = p2p;
        _model.ActiveSave = save;
        _dirtyClock = Stopwatch.GetTimestamp();
        _dirtyCredit = 0;
        _saving = new SimulatedDataChannel(this, save, Injector.PlanSave(_model.FullImageBytes));
        return _saving;
    }

    private SimulatedDataChannel OpenResuming()
    {
        EndResuming();
        LastResumeProblem = null;
        _resuming = new SimulatedDataChannel(this, _model.OpenLoad(), Injector.PlanWriteError(_model.FullImageBytes));
        return _resuming;
    }

    private void Commit()
    {
        LoadStream load = _resuming!.Load!;
        int errno = Injector.TakeCommitError();
        string? why = errno != 0 ? "injected commit error" : null;
        if (errno == 0)
        {
            errno = load.Validate();
            why = load.Problem;
        }
        if (errno != 0)
        {
            // Like mtty: the SET fails, the device stays RESUMING; only a reset gets it out.
            LastResumeProblem = why;
            throw new DeviceException(DeviceErrorKind.CommitFailed,
                $"{Name}: RESUMING → STOP refused: {why}", errno, MigrationState.Resuming);
        }
        _model.Adopt(load);
        EndResuming();
    }

    private void ResetLocked()
    {
        ResetCount++;
        EndSaving();
        EndResuming();
        _state = MigrationState.Running;
    }

    private void EndSaving()
    {
        if (_saving is null) return;
        _saving.Dead = true;
        _saving = null;
        _model.ActiveSave = null;
    }

    private void EndResuming()
    {
        if (_resuming is null) return;
        if (_resuming.Load!.FailedErrno != 0) LastResumeProblem ??= _resuming.Load.Problem;
        _resuming.Dead = true;
        _resuming = null;
    }

    private static bool IsPreCopy(MigrationState s) => s is MigrationState.PreCopy or MigrationState.PreCopyP2P;

    private static bool IsRunning(MigrationState s) =>
        s is MigrationState.Running or MigrationState.RunningP2P or MigrationState.PreCopy or MigrationState.PreCopyP2P;
}
