namespace StreamKit.Device;

/// <summary>What kind of device failure happened.</summary>
public enum DeviceErrorKind
{
    /// <summary>A state transition failed (SET returned an error).</summary>
    TransitionFailed,
    /// <summary>A transition was refused before reaching the kernel (unsupported state, forbidden arc).</summary>
    TransitionRefused,
    /// <summary>The destination refused written state as incompatible or malformed (EFAULT, ENOMEM, EOPNOTSUPP, EINVAL on write).</summary>
    Incompatible,
    /// <summary>RESUMING → STOP failed: the state was incomplete or invalid.</summary>
    CommitFailed,
    /// <summary>The data session is dead (ENODEV): reset or left its state group.</summary>
    DeadSession,
    /// <summary>Any other I/O failure on the device or its data channel.</summary>
    IoFailed,
    /// <summary>The device cannot be opened or is not migratable.</summary>
    Unavailable,
    /// <summary>A multi-device migration was refused because a device lacks P2P (RUNNING_P2P), as QEMU refuses it.</summary>
    P2PRequired,
}

/// <summary>A typed device failure: kind, errno (0 if none) and the state read back after it.</summary>
public sealed class DeviceException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DeviceException(DeviceErrorKind kind, string message, int errno = 0, MigrationState? state = null, Exception? inner = null)
        : base(Format(kind, message, errno, state), inner)
    {
        Kind = kind;
        Errno = errno;
        State = state;
    }

    /// <summary>What failed.</summary>
    public DeviceErrorKind Kind { get; }

    /// <summary>The errno the kernel (or simulated driver) returned, 0 if none.</summary>
    public int Errno { get; }

    /// <summary>The device state read back after the failure, if known.</summary>
    public MigrationState? State { get; }

    private static string Format(DeviceErrorKind kind, string message, int errno, MigrationState? state)
    {
        string text = $"{kind}: {message}";
        if (errno != 0) text += $" (errno {errno} {StreamKit.Device.Errno.Name(errno)})";
        if (state is { } s) text += $"; device now {s}";
        return text;
    }
}
