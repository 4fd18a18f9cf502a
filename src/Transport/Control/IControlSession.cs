using StreamKit.Device;

namespace StreamKit.Transport.Control;

/// <summary>
/// What the migration session layer implements to be driven over the control socket. The control
/// handlers own the devices (<see cref="ControlledDevice"/>, an <see cref="IMigrationDevice"/> whose
/// transitions the VMM performs) and call these methods for the session-wide ops; device-level ops
/// (stop-copy, discard, precopy-info, resume-fd, commit-result) reach the session only through the
/// devices' SetState/Read/Write, exactly as with devices the session drives itself.
/// Throw <see cref="ControlRequestException"/> to refuse a request with a specific code; any other
/// exception becomes an <c>operation-failed</c> reply carrying its message.
/// </summary>
internal interface IControlSession
{
    /// <summary>
    /// <c>start</c>: every device is added. Source: connect to the destination and begin pre-copy.
    /// Destination: accept the stream. Return once started (not when the migration ends). If it
    /// throws, nothing may have started: the VMM can fix the cause and send start again. It runs on
    /// the connection's receive loop, so it should not block for long.
    /// </summary>
    /// <param name="devices">The devices in add order.</param>
    /// <param name="events">Where to publish progress, switchover-ready, device-announced, completed and failed.</param>
    /// <param name="cancellationToken">Cancelled when the control connection ends.</param>
    ValueTask StartAsync(IReadOnlyList<ControlledDevice> devices, IControlEventSink events, CancellationToken cancellationToken);

    /// <summary>Session-wide progress for status/progress (the handler adds the per-device part).</summary>
    SessionProgress GetProgress();

    /// <summary>
    /// <c>cancel</c>, or the VMM disconnected before the end: abort the stream (ABORT chunk with
    /// Cancelled) and publish failed. The handler has already aborted every device's waits.
    /// </summary>
    ValueTask CancelAsync(string reason, CancellationToken cancellationToken);
}

/// <summary>Source side: `streamkit send`.</summary>
internal interface ISourceControlSession : IControlSession
{
    /// <summary>
    /// <c>switchover</c>: the VMM wants to stop the VM. With <paramref name="waitForAck"/>, complete
    /// once the destination's SWITCHOVER_ACK arrived (true); without, or when the stream did not
    /// negotiate switchover-ack, at once (false).
    /// </summary>
    ValueTask<bool> SwitchoverAsync(bool waitForAck, CancellationToken cancellationToken);
}

/// <summary>Destination side: `streamkit receive`.</summary>
internal interface IDestinationControlSession : IControlSession;

/// <summary>The session-wide part of a status reply.</summary>
/// <param name="Phase">"setup", "pre-copy", "stop-copy", "completing", "completed", "failed".</param>
/// <param name="StreamBytes">Bytes sent (source) or received (destination) on the stream's channels.</param>
/// <param name="AckedBytes">Device bytes the destination acknowledged.</param>
internal readonly record struct SessionProgress(string Phase, ulong StreamBytes, ulong AckedBytes);
