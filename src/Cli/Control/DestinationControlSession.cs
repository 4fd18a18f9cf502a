using StreamKit.Transport;
using StreamKit.Transport.Control;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit receive --control</c>: the control protocol's destination session over a
/// <see cref="MigrationReceiver"/> that is already listening (the bound address was printed at
/// start-up, so the source can be pointed at it). The VMM's <c>start</c> hands over its
/// <see cref="ControlledDevice"/>s and begins accepting; resume-fd and commit-result reach the
/// receiver through the devices (a DISCARD asks the VMM for a new RESUMING fd, a verified
/// DEVICE_END asks it to commit).
/// </summary>
internal sealed class DestinationControlSession(MigrationReceiver receiver) : ControlledRun, IDestinationControlSession
{
    /// <inheritdoc/>
    public ValueTask StartAsync(IReadOnlyList<ControlledDevice> devices, IControlEventSink events, CancellationToken cancellationToken)
    {
        if (Started) throw new ControlRequestException(ControlErrorCode.BadState, "start: the receiver is already running");
        foreach (var device in devices) receiver.AddDevice(device.Id, device);
        receiver.ProgressChanged += p => OnProgress(p, devices, events);
        Attach(receiver.RunAsync(RunToken), receiver.GetProgress, devices, events);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public SessionProgress GetProgress() => SessionStatus();

    /// <inheritdoc/>
    public ValueTask CancelAsync(string reason, CancellationToken cancellationToken) => CancelRunAsync(reason);
}
