namespace StreamKit.Device.Vfio;

/// <summary>
/// A real Linux VFIO device with migration v2 (the <c>VFIO_DEVICE_FEATURE</c> MIG_DEVICE_STATE protocol),
/// opened through the iommufd cdev (<see cref="OpenCdev"/>) or the group/container API (<see cref="OpenGroup"/>).
/// <para>
/// The device remembers the state it last set. <see cref="SetState"/> reads the kernel's state first: a
/// mismatch means the device was reset behind our back (guest FLR, another user), so the data session
/// is dead and the call fails with <see cref="DeviceErrorKind.DeadSession"/> instead of silently
/// walking a different path. Forbidden arcs (STOP_COPY → PRE_COPY(_P2P)) are refused before any SET
/// reaches the kernel. After a failed SET the state is read back into the exception.
/// </para>
/// </summary>
public sealed class VfioDevice : IMigrationDevice
{
    private readonly VfioDeviceFds _fds;
    private readonly Lock _gate = new();
    private MigrationState _believed;
    private FdDataChannel? _saving;
    private FdDataChannel? _resuming;
    private int _setCalls;

    private VfioDevice(VfioDeviceFds fds, string name, string driver)
    {
        _fds = fds;
        Name = name;
        DriverHint = driver;
        int errno = VfioFeature.GetMigrationFlags(fds.Device, out var features);
        if (errno != 0)
            throw new DeviceException(DeviceErrorKind.Unavailable, errno == Errno.ENOTTY
                ? $"{name} has no VFIO migration support (driver {driver})"
                : $"{name}: VFIO_DEVICE_FEATURE GET MIGRATION failed", errno);
        if ((features & MigrationFeatures.StopCopy) == 0)
            throw new DeviceException(DeviceErrorKind.Unavailable, $"{name} advertises migration flags 0x{(ulong)features:x} without STOP_COPY");
        Features = features;
        _believed = ReadKernelState();
    }

    /// <summary>
    /// Opens a device through its iommufd character device (<c>/dev/vfio/devices/vfioN</c>): opens
    /// <c>/dev/iommu</c>, allocates an IOAS, binds the device and attaches it to the IOAS.
    /// </summary>
    /// <exception cref="DeviceException"><see cref="DeviceErrorKind.Unavailable"/>: no VFIO/iommufd, no such device, busy, no permission, no migration support.</exception>
    public static VfioDevice OpenCdev(string cdevPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(cdevPath);
        var fds = VfioDeviceFds.OpenCdev(cdevPath);
        try
        {
            var (name, driver) = VfioSysfs.DescribeCdev(cdevPath);
            return new VfioDevice(fds, name, driver);
        }
        catch
        {
            fds.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Opens a device through the legacy group/container API: <c>/dev/vfio/vfio</c> with a TYPE1v2 IOMMU,
    /// group <paramref name="groupPath"/> (<c>/dev/vfio/N</c>), device <paramref name="deviceName"/> (mdev uuid or PCI address).
    /// </summary>
    /// <exception cref="DeviceException"><see cref="DeviceErrorKind.Unavailable"/>: no VFIO, group missing/busy/not viable, unknown device, no migration support.</exception>
    public static VfioDevice OpenGroup(string groupPath, string deviceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupPath);
        var fds = VfioDeviceFds.OpenGroup(groupPath, deviceName);
        try
        {
            return new VfioDevice(fds, deviceName, VfioSysfs.DescribeGroupDevice(groupPath, deviceName));
        }
        catch
        {
            fds.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public string DriverHint { get; }

    /// <inheritdoc/>
    public MigrationFeatures Features { get; }

    /// <summary>"iommufd" or "group": how the device was opened.</summary>
    internal string Api => _fds.Api;

    /// <summary>The device fd (lab tests use it to reset the device behind this object's back).</summary>
    internal SafeFdHandle DeviceFd => _fds.Device;

    /// <summary>
    /// Read the kernel's state before every SET (default). Lab tests turn it off to drive the kernel into
    /// the second line of defence: a SET that hands out an unexpected data_fd.
    /// </summary>
    internal bool CheckKernelStateBeforeSet { get; set; } = true;

    /// <summary>SET MIG_DEVICE_STATE ioctls issued so far: proves refused transitions never reached the kernel.</summary>
    internal int StateSetCalls => Volatile.Read(ref _setCalls);

    /// <summary>
    /// Reads the kernel's current state (GET MIG_DEVICE_STATE). It does not update the state this object
    /// believes in, so a reset behind our back is still reported by the next <see cref="SetState"/>.
    /// </summary>
    public MigrationState GetState() => ReadKernelState();

    /// <inheritdoc/>
    public IMigrationDataChannel? SetState(MigrationState target)
    {
        lock (_gate)
        {
            if (!MigrationPaths.IsSupported(target, Features))
                throw new DeviceException(DeviceErrorKind.TransitionRefused,
                    $"{Name} cannot be set to {target}: features {Features}", state: _believed);

            // The truth is the kernel's state: the forbidden-arc guard must see it, or a reset device
            // could be sent down a path we never planned.
            var actual = CheckKernelStateBeforeSet ? ReadKernelState() : _believed;
            if (MigrationPaths.IsForbidden(actual, target))
                throw new DeviceException(DeviceErrorKind.TransitionRefused,
                    $"{actual} → {target} is never requested: the kernel forbids it and older kernels lock up on it", state: actual);
            if (actual != _believed)
            {
                var believed = _believed;
                EndSessions();
                _believed = actual;
                // Already where the caller wants it: fine for a cancel or abort, never for a commit (RESUMING →
                // RUNNING would otherwise "succeed" with the resumed state silently discarded by the reset).
                if (actual == target && believed != MigrationState.Resuming) return null;
                throw new DeviceException(DeviceErrorKind.DeadSession, believed == MigrationState.Resuming
                    ? $"{Name} is in {actual}, not RESUMING as last set: it was reset behind our back and nothing written to it was committed"
                    : $"{Name} is in {actual}, not {believed} as last set: it was reset behind our back and its data session is dead",
                    state: actual);
            }

            var path = MigrationPaths.Path(actual, target, Features);
            if (path.Count == 0) return null;
            var lastFrom = path.Count >= 2 ? path[^2] : actual;
            bool opensSession = MigrationPaths.OpensSession(lastFrom, target);
            if (actual == MigrationState.Resuming && _resuming is { WriteFailure: not 0 } poisoned)
                throw new DeviceException(DeviceErrorKind.TransitionRefused,
                    $"a write of this resuming session failed (errno {poisoned.WriteFailure} {Errno.Name(poisoned.WriteFailure)}); " +
                    "committing could load partial state, so reset the device instead", poisoned.WriteFailure, actual);

            Interlocked.Increment(ref _setCalls);
            int errno = VfioFeature.SetState(_fds.Device, target, out int dataFd);
            if (errno != 0)
            {
                var after = TryGetKernelState();
                _believed = after ?? MigrationState.Error;
                UpdateSessions(after ?? MigrationState.Error);
                bool commitFailed = actual == MigrationState.Resuming && after is null or MigrationState.Resuming or MigrationState.Error;
                throw new DeviceException(commitFailed ? DeviceErrorKind.CommitFailed : DeviceErrorKind.TransitionFailed,
                    commitFailed
                        ? $"{Name}: RESUMING → STOP failed: the device rejected the resumed state as incomplete or invalid"
                        : $"{Name}: {actual} → {target} failed (path {string.Join(" → ", path)})",
                    errno, after);
            }

            if (dataFd >= 0 && !opensSession)
            {
                new SafeFdHandle(dataFd).Dispose();
                var now = TryGetKernelState();
                _believed = now ?? target;
                EndSessions();
                throw new DeviceException(DeviceErrorKind.DeadSession,
                    $"{Name}: data_fd out of sync: the kernel opened a new session on {actual} → {target} where the current one should continue " +
                    "(asynchronous reset?); the new fd was closed", state: now);
            }
            _believed = target;
            UpdateSessions(target);
            if (!opensSession) return null;
            if (dataFd < 0)
                throw new DeviceException(DeviceErrorKind.IoFailed, $"{Name}: {lastFrom} → {target} returned no data_fd", state: target);

            var channel = FdDataChannel.ForVfioSession(new SafeFdHandle(dataFd), target, TryGetKernelState);
            if (target == MigrationState.Resuming) _resuming = channel;
            else _saving = channel;
            return channel;
        }
    }

    /// <inheritdoc/>
    public ulong? GetStopCopySizeEstimate()
    {
        int errno = VfioFeature.GetDataSize(_fds.Device, out ulong size);
        if (errno == 0) return size;
        if (errno is Errno.ENOTTY or Errno.EINVAL) return null;
        throw new DeviceException(DeviceErrorKind.IoFailed, $"{Name}: VFIO_DEVICE_FEATURE GET MIG_DATA_SIZE failed", errno, TryGetKernelState());
    }

    /// <inheritdoc/>
    public void Reset()
    {
        lock (_gate)
        {
            if (LibC.Ioctl(_fds.Device, VfioIoctl.DeviceReset, 0) != 0)
            {
                int errno = LibC.LastErrno;
                throw new DeviceException(DeviceErrorKind.IoFailed, $"{Name}: VFIO_DEVICE_RESET failed", errno, TryGetKernelState());
            }
            EndSessions();
            _believed = ReadKernelState();
        }
    }

    /// <summary>Closes the device (and its iommufd or group and container). Open data channels stay usable until disposed.</summary>
    public void Dispose() => _fds.Dispose();

    /// <summary>GET MIG_DEVICE_STATE, null if even that fails (for error reports).</summary>
    internal MigrationState? TryGetKernelState() =>
        !_fds.Device.IsClosed && VfioFeature.GetState(_fds.Device, out var state) == 0 ? state : null;

    private MigrationState ReadKernelState()
    {
        int errno = VfioFeature.GetState(_fds.Device, out var state);
        if (errno != 0)
            throw new DeviceException(DeviceErrorKind.IoFailed, $"{Name}: VFIO_DEVICE_FEATURE GET MIG_DEVICE_STATE failed", errno);
        return state;
    }

    /// <summary>Keeps the open sessions' phases in step with the device: a session ends when its state group is left.</summary>
    private void UpdateSessions(MigrationState now)
    {
        if (_saving is { } saving)
        {
            if (MigrationPaths.IsSavingGroup(now)) saving.Phase = now;
            else { saving.Ended = true; _saving = null; }
        }
        if (_resuming is { } resuming && now != MigrationState.Resuming)
        {
            resuming.Ended = true;
            _resuming = null;
        }
    }

    private void EndSessions()
    {
        if (_saving is { } s) s.Ended = true;
        if (_resuming is { } r) r.Ended = true;
        _saving = _resuming = null;
    }

    // Region access for device-specific set-up and tests (mtty: BAR n = UART n, one byte per register).

    /// <summary><c>VFIO_DEVICE_GET_INFO</c>.</summary>
    internal unsafe VfioDeviceInfo GetDeviceInfo()
    {
        Span<byte> info = stackalloc byte[VfioDeviceInfo.StructSize];
        info.Clear();
        HostOrder.WriteU32(info, 0, VfioDeviceInfo.StructSize);
        fixed (byte* p = info)
            if (LibC.Ioctl(_fds.Device, VfioIoctl.DeviceGetInfo, p) != 0)
                throw new DeviceException(DeviceErrorKind.IoFailed, $"{Name}: VFIO_DEVICE_GET_INFO failed", LibC.LastErrno);
        return new VfioDeviceInfo(HostOrder.ReadU32(info, 4), HostOrder.ReadU32(info, 8), HostOrder.ReadU32(info, 12));
    }

    /// <summary><c>VFIO_DEVICE_GET_REGION_INFO</c> for region <paramref name="index"/>.</summary>
    internal unsafe VfioRegionInfo GetRegionInfo(uint index)
    {
        Span<byte> info = stackalloc byte[VfioRegionInfo.StructSize];
        info.Clear();
        HostOrder.WriteU32(info, 0, VfioRegionInfo.StructSize);
        HostOrder.WriteU32(info, 8, index);
        fixed (byte* p = info)
            if (LibC.Ioctl(_fds.Device, VfioIoctl.DeviceGetRegionInfo, p) != 0)
                throw new DeviceException(DeviceErrorKind.IoFailed, $"{Name}: VFIO_DEVICE_GET_REGION_INFO({index}) failed", LibC.LastErrno);
        return new VfioRegionInfo(index, HostOrder.ReadU32(info, 4), HostOrder.ReadU64(info, 16), HostOrder.ReadU64(info, 24));
    }

    /// <summary>pwrite into a region at <paramref name="offset"/> (bounds-checked against the region size).</summary>
    internal unsafe void WriteRegion(in VfioRegionInfo region, ulong offset, ReadOnlySpan<byte> data)
    {
        CheckBounds(region, offset, data.Length);
        fixed (byte* start = data)
            TransferRegion(region, offset, start, data.Length, write: true);
    }

    /// <summary>pread from a region at <paramref name="offset"/> (bounds-checked against the region size).</summary>
    internal unsafe void ReadRegion(in VfioRegionInfo region, ulong offset, Span<byte> buffer)
    {
        CheckBounds(region, offset, buffer.Length);
        fixed (byte* start = buffer)
            TransferRegion(region, offset, start, buffer.Length, write: false);
    }

    /// <summary>pread/pwrite loop over partial transfers and EINTR; a 0-byte transfer is EIO (never spin).</summary>
    private unsafe void TransferRegion(in VfioRegionInfo region, ulong offset, byte* start, int length, bool write)
    {
        int done = 0;
        while (done < length)
        {
            long at = (long)(region.Offset + offset) + done;
            nint n = write
                ? LibC.PWrite(_fds.Device, start + done, (nuint)(length - done), at)
                : LibC.PRead(_fds.Device, start + done, (nuint)(length - done), at);
            if (n > 0) { done += (int)n; continue; }
            int errno = n == 0 ? Errno.EIO : LibC.LastErrno;
            if (errno == Errno.EINTR) continue;
            throw new DeviceException(DeviceErrorKind.IoFailed,
                $"{Name}: region {region.Index} {(write ? "write" : "read")} at {offset + (ulong)done} failed", errno);
        }
    }

    private void CheckBounds(in VfioRegionInfo region, ulong offset, int length)
    {
        if (offset > region.Size || (ulong)length > region.Size - offset)
            throw new ArgumentOutOfRangeException(nameof(offset), $"{Name}: {length} bytes at {offset} exceed region {region.Index} ({region.Size} bytes)");
    }
}
