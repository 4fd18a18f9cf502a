using StreamKit.Device;
using StreamKit.Transport.Control;

namespace StreamKit.Cli;

/// <summary>
/// A VMM-driven source device as the sender sees it, reporting the moment the sender starts stopping
/// it (the first SetState(STOP_COPY)). The sender only gets there after the switchover decision, the
/// destination's SWITCHOVER_ACK and the P2P quiesce; and for a <see cref="ControlledDevice"/> that call
/// then waits for the VMM's stop-copy, which the VMM sends only after its switchover reply. So this
/// moment is when the control session answers switchover: answering any later would deadlock.
/// </summary>
internal sealed class StopProbeDevice(ControlledDevice inner, Action stopping) : IMigrationDevice
{
    /// <summary>The VMM's device.</summary>
    internal ControlledDevice Inner => inner;

    /// <inheritdoc/>
    public string Name => inner.Name;

    /// <inheritdoc/>
    public string DriverHint => inner.DriverHint;

    /// <inheritdoc/>
    public MigrationFeatures Features => inner.Features;

    /// <inheritdoc/>
    public MigrationState GetState() => inner.GetState();

    /// <inheritdoc/>
    public IMigrationDataChannel? SetState(MigrationState target)
    {
        if (target == MigrationState.StopCopy) stopping();
        return inner.SetState(target);
    }

    /// <inheritdoc/>
    public ulong? GetStopCopySizeEstimate() => inner.GetStopCopySizeEstimate();

    /// <inheritdoc/>
    public void Reset() => inner.Reset();

    /// <summary>The control handler owns the VMM's device and closes it.</summary>
    public void Dispose() { }
}
