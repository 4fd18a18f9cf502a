namespace StreamKit.Device;

/// <summary>
/// The devices of one VM migrated together. Enforces QEMU's multi-device rule: every device is moved
/// to its P2P-quiesced state (RUNNING_P2P, or PRE_COPY_P2P during pre-copy) before any device is
/// stopped, so no device is stopped while a peer can still DMA into it. A group of several devices is
/// refused when one lacks P2P, unless the caller opts out.
/// </summary>
public sealed class DeviceGroup
{
    private readonly IMigrationDevice[] _devices;

    /// <summary>Creates the group.</summary>
    /// <param name="devices">The VM's migratable devices (at least one).</param>
    /// <param name="allowWithoutP2P">Accept several devices even when some lack P2P (those are stopped
    /// without quiescing first; peer-to-peer DMA between the devices must not be in use).</param>
    /// <exception cref="DeviceException"><see cref="DeviceErrorKind.P2PRequired"/>: several devices and one lacks P2P.</exception>
    public DeviceGroup(IReadOnlyList<IMigrationDevice> devices, bool allowWithoutP2P = false)
    {
        ArgumentNullException.ThrowIfNull(devices);
        if (devices.Count == 0) throw new ArgumentException("a device group needs at least one device", nameof(devices));
        _devices = [.. devices];
        if (_devices.Length > 1 && !allowWithoutP2P)
        {
            var lacking = _devices.Where(d => (d.Features & MigrationFeatures.P2P) == 0).Select(d => d.Name).ToArray();
            if (lacking.Length > 0)
                throw new DeviceException(DeviceErrorKind.P2PRequired,
                    $"{_devices.Length} devices migrate together but {string.Join(", ", lacking)} cannot quiesce peer-to-peer DMA " +
                    "(no VFIO_MIGRATION_P2P); allow it explicitly only if the devices do no P2P DMA");
        }
    }

    /// <summary>The devices, in the order they are driven.</summary>
    public IReadOnlyList<IMigrationDevice> Devices => _devices;

    /// <summary>
    /// Moves every P2P-capable device to RUNNING_P2P (from RUNNING) or PRE_COPY_P2P (from PRE_COPY);
    /// devices already quiesced or stopped, and devices without P2P, are left as they are. If one
    /// device fails, the devices already quiesced are returned to their previous state (reset if that
    /// fails too) and the failure is rethrown.
    /// </summary>
    public void Quiesce()
    {
        var done = new List<(IMigrationDevice Device, MigrationState Previous)>(_devices.Length);
        foreach (var device in _devices)
        {
            if ((device.Features & MigrationFeatures.P2P) == 0) continue;
            MigrationState state = device.GetState();
            MigrationState? target = state switch
            {
                MigrationState.Running => MigrationState.RunningP2P,
                MigrationState.PreCopy => MigrationState.PreCopyP2P,
                _ => null,
            };
            if (target is not { } t) continue;
            try
            {
                IMigrationDataChannel? unexpected = device.SetState(t);
                if (unexpected is not null)
                {
                    unexpected.Dispose();
                    throw new DeviceException(DeviceErrorKind.TransitionFailed,
                        $"{device.Name}: {state} → {t} handed out a new data channel (session out of sync)", Errno.EBADF, device.GetState());
                }
                done.Add((device, state));
            }
            catch
            {
                for (int i = done.Count - 1; i >= 0; i--) Restore(done[i].Device, done[i].Previous);
                throw;
            }
        }
    }

    /// <summary>
    /// <see cref="Quiesce"/>, then moves every device to STOP_COPY. Returns, per device, the channel
    /// the transition handed out: null for a device that was in pre-copy (its pre-copy channel
    /// continues), a new channel for a device that was not. A new channel for a device the caller
    /// believed in pre-copy means its session was lost (reset) and the old channel is dead.
    /// On failure the exception propagates and devices already in STOP_COPY stay there: call
    /// <see cref="ReturnToRunning"/> to abort.
    /// </summary>
    public IReadOnlyList<IMigrationDataChannel?> StopAll()
    {
        Quiesce();
        var channels = new IMigrationDataChannel?[_devices.Length];
        for (int i = 0; i < _devices.Length; i++)
            channels[i] = _devices[i].SetState(MigrationState.StopCopy);
        return channels;
    }

    /// <summary>
    /// Aborts a migration: every device back to RUNNING (a source keeps its state); a destination in
    /// RESUMING (or a device in ERROR) is reset, and so is a device that refuses the transition. Never throws for one device's failure;
    /// returns the failures it had to recover from.
    /// </summary>
    public IReadOnlyList<DeviceException> ReturnToRunning()
    {
        var failures = new List<DeviceException>();
        foreach (var device in _devices)
        {
            try
            {
                // Aborting a resume is a reset (UAPI): RESUMING → STOP would try to commit partial state.
                if (device.GetState() is MigrationState.Resuming or MigrationState.Error) device.Reset();
                else device.SetState(MigrationState.Running)?.Dispose();
            }
            catch (DeviceException e)
            {
                failures.Add(e);
                try { device.Reset(); }
                catch (DeviceException e2) { failures.Add(e2); }
            }
        }
        return failures;
    }

    private static void Restore(IMigrationDevice device, MigrationState previous)
    {
        try
        {
            device.SetState(previous)?.Dispose();
        }
        catch (DeviceException)
        {
            try { device.Reset(); } catch (DeviceException) { /* nothing more we can do; the caller sees the original failure */ }
        }
    }
}
