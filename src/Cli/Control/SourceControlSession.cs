using StreamKit.Transport;
using StreamKit.Transport.Control;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit send --control</c>: the control protocol's source session over a
/// <see cref="MigrationSender"/> whose devices are the VMM's <see cref="ControlledDevice"/>s. The VMM's
/// <c>start</c> connects to the destination; <c>switchover</c> maps to
/// <see cref="MigrationSender.RequestSwitchover"/> (the sender runs in manual switchover mode: only
/// the VMM knows when the vCPUs stop); stop-copy, discard and precopy-info reach the sender through
/// the devices themselves.
/// </summary>
internal sealed class SourceControlSession(SenderOptions options, TransportAddress destination) : ControlledRun, ISourceControlSession
{
    private readonly TaskCompletionSource _stopping = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MigrationSender? _sender;

    /// <inheritdoc/>
    public async ValueTask StartAsync(IReadOnlyList<ControlledDevice> devices, IControlEventSink events, CancellationToken cancellationToken)
    {
        var sender = new MigrationSender(options);
        foreach (var device in devices) sender.AddDevice(device.Id, new StopProbeDevice(device, () => _stopping.TrySetResult()));
        sender.ProgressChanged += p => OnProgress(p, devices, events);
        var run = sender.RunAsync(destination, RunToken);

        // "Started" means connected: wait for the handshake, so a refused connection fails start
        // (operation-failed) and the VMM may send start again.
        while (!run.IsCompleted && sender.GetProgress().Phase is MigrationPhase.Connecting or MigrationPhase.Failed)
            await Task.WhenAny(run, Task.Delay(10, CancellationToken.None)).ConfigureAwait(false);
        if (run.IsFaulted || run.IsCanceled)
        {
            await sender.DisposeAsync().ConfigureAwait(false);
            await run.ConfigureAwait(false); // throws: start fails with the reason
        }
        _sender = sender;
        Attach(run, sender.GetProgress, devices, events);
        if (options.WaitForSwitchoverAck && destination.Scheme != TransportScheme.File)
            _ = PublishSwitchoverReadyAsync(sender.Session, run, events);
    }

    /// <summary>
    /// switchover-ready each time the destination's SWITCHOVER_ACK comes to cover every device's current
    /// epoch (again after a discard). Polled: the ack arrives on the return path's reader, which must not
    /// block on the control connection.
    /// </summary>
    private static async Task PublishSwitchoverReadyAsync(SenderSession session, Task run, IControlEventSink events)
    {
        bool ready = false;
        while (!run.IsCompleted && session.GetProgress().Phase is MigrationPhase.Connecting or MigrationPhase.PreCopy or MigrationPhase.Switchover)
        {
            bool acknowledged = session.SwitchoverAcknowledged;
            if (acknowledged && !ready) events.Publish(new SwitchoverReadyEvent());
            ready = acknowledged;
            await Task.WhenAny(run, Task.Delay(20, CancellationToken.None)).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<bool> SwitchoverAsync(bool waitForAck, CancellationToken cancellationToken)
    {
        var sender = _sender ?? throw new InvalidOperationException("switchover before start");
        sender.RequestSwitchover();
        bool acked = waitForAck && options.WaitForSwitchoverAck && destination.Scheme != TransportScheme.File;
        if (!acked) return false;
        // The sender starts stopping the devices only after the destination's SWITCHOVER_ACK; the
        // devices then wait for the VMM's stop-copy, which it sends after this reply.
        await Task.WhenAny(_stopping.Task, Ended).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!_stopping.Task.IsCompleted)
            throw new ControlRequestException(ControlErrorCode.Cancelled, "switchover: the migration ended while waiting for the destination's SWITCHOVER_ACK");
        return true;
    }

    /// <inheritdoc/>
    public SessionProgress GetProgress() => SessionStatus();

    /// <inheritdoc/>
    public ValueTask CancelAsync(string reason, CancellationToken cancellationToken) => CancelRunAsync(reason);
}
