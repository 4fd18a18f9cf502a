namespace StreamKit.Device;

/// <summary>
/// One VFIO-migratable device, real (<c>VfioDevice</c>) or simulated. Senders and receivers
/// use only this.
/// </summary>
public interface IMigrationDevice : IDisposable
{
    /// <summary>Human-readable name (mdev uuid, PCI address, simulated profile).</summary>
    string Name { get; }

    /// <summary>Driver hint carried in DEVICE_BEGIN (e.g. "mtty", "mlx5_vfio_pci").</summary>
    string DriverHint { get; }

    /// <summary>Advertised migration features.</summary>
    MigrationFeatures Features { get; }

    /// <summary>Reads the current state from the device.</summary>
    MigrationState GetState();

    /// <summary>
    /// Moves the device to <paramref name="target"/> along the kernel's path. Returns the new
    /// data channel when the last arc opens a session (RUNNING→PRE_COPY, RUNNING_P2P→PRE_COPY_P2P,
    /// STOP→STOP_COPY, STOP→RESUMING), else null (PRE_COPY→STOP_COPY keeps the existing channel).
    /// </summary>
    /// <exception cref="DeviceException">The transition failed or is refused; the state was read back
    /// into <see cref="DeviceException.State"/>.</exception>
    IMigrationDataChannel? SetState(MigrationState target);

    /// <summary><c>VFIO_DEVICE_FEATURE_MIG_DATA_SIZE</c>: estimated STOP_COPY bytes; null when the device cannot tell.</summary>
    ulong? GetStopCopySizeEstimate();

    /// <summary>Resets the device: state RUNNING, every open data channel dead.</summary>
    void Reset();
}
