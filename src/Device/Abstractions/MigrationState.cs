namespace StreamKit.Device;

/// <summary>
/// VFIO migration v2 device states with the kernel's numeric values
/// (<c>enum vfio_device_mig_state</c>, include/uapi/linux/vfio.h).
/// </summary>
public enum MigrationState : uint
{
    /// <summary>Device failed; only a reset recovers it (to RUNNING). Never settable.</summary>
    Error = 0,
    /// <summary>Stopped, state frozen.</summary>
    Stop = 1,
    /// <summary>Normal operation.</summary>
    Running = 2,
    /// <summary>Stopped; the saving session streams the full state, then read() returns 0 for good.</summary>
    StopCopy = 3,
    /// <summary>Stopped; loading new state from data_fd writes.</summary>
    Resuming = 4,
    /// <summary>Running without initiating new peer-to-peer DMA.</summary>
    RunningP2P = 5,
    /// <summary>Running while the saving session streams state and tracks changes.</summary>
    PreCopy = 6,
    /// <summary>PRE_COPY with P2P quiescence.</summary>
    PreCopyP2P = 7,
}

/// <summary>Migration capability flags (<c>struct vfio_device_feature_migration.flags</c>).</summary>
[Flags]
public enum MigrationFeatures : ulong
{
    /// <summary>No migration support.</summary>
    None = 0,
    /// <summary>STOP, STOP_COPY, RESUMING (mandatory for migration).</summary>
    StopCopy = 1 << 0,
    /// <summary>RUNNING_P2P (and PRE_COPY_P2P with PRE_COPY).</summary>
    P2P = 1 << 1,
    /// <summary>PRE_COPY (and PRE_COPY_P2P with P2P).</summary>
    PreCopy = 1 << 2,
}
