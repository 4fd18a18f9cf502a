namespace StreamKit.Device;

/// <summary>
/// Faults a <see cref="SimulatedDevice"/> injects on demand. Each fault hits at most
/// <see cref="Repeat"/> sessions of the device (default 1), so a retried migration succeeds.
/// Reset and read faults apply to saving sessions, write and commit faults to resuming sessions.
/// </summary>
public sealed record SimulatedFaults
{
    /// <summary>No faults.</summary>
    public static SimulatedFaults None { get; } = new();

    /// <summary>Device reset once the saving session's stream reaches this point (PRE_COPY or STOP_COPY):
    /// the device goes RUNNING, the channel dies (ENODEV), the device state is kept.</summary>
    public FaultPoint? ResetAt { get; init; }

    /// <summary>Device reset this long after the saving session opened (checked on every channel call).</summary>
    public TimeSpan? ResetAfter { get; init; }

    /// <summary>Reads fail with <see cref="ReadErrno"/> from this point of the saving stream on.</summary>
    public FaultPoint? ReadErrorAt { get; init; }

    /// <summary>errno of injected read errors (default EIO).</summary>
    public int ReadErrno { get; init; } = Errno.EIO;

    /// <summary>When non-zero, the resuming write that covers <see cref="WriteErrorAt"/> fails with this errno and poisons the session.</summary>
    public int WriteErrno { get; init; }

    /// <summary>Where the injected write error hits (default: the first write).</summary>
    public FaultPoint WriteErrorAt { get; init; } = FaultPoint.AtBytes(0);

    /// <summary>When non-zero, RESUMING → STOP fails with this errno and the device stays RESUMING.</summary>
    public int CommitErrno { get; init; }

    /// <summary>When set, the arc into this state fails with <see cref="SetErrno"/> (the device stays in the
    /// state before the arc, as the drivers leave it), e.g. a failing RUNNING → RUNNING_P2P at switchover.</summary>
    public MigrationState? SetErrorState { get; init; }

    /// <summary>errno of the injected SET failure (default EIO).</summary>
    public int SetErrno { get; init; } = Errno.EIO;

    /// <summary>Delay added to every read of a saving channel.</summary>
    public TimeSpan SlowRead { get; init; }

    /// <summary>Delay added to every write of a resuming channel.</summary>
    public TimeSpan SlowWrite { get; init; }

    /// <summary>How many sessions each fault hits (≥ 1).</summary>
    public int Repeat { get; init; } = 1;

    /// <summary>True when nothing is injected.</summary>
    public bool IsEmpty => ResetAt is null && ResetAfter is null && ReadErrorAt is null && WriteErrno == 0
        && CommitErrno == 0 && SetErrorState is null && SlowRead == TimeSpan.Zero && SlowWrite == TimeSpan.Zero;
}
