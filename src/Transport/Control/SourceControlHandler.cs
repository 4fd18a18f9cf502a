namespace StreamKit.Transport.Control;

/// <summary>
/// Source-side (`streamkit send`) requests: builds a <see cref="ControlledDevice"/> per add-device
/// and forwards the VMM's handovers to it; switchover, start, status and cancel go to the session.
/// </summary>
internal sealed class SourceControlHandler(ISourceControlSession session) : ControlHandlerBase
{
    /// <inheritdoc/>
    public override ControlRole Role => ControlRole.Source;

    /// <inheritdoc/>
    protected override IControlSession Session => session;

    /// <inheritdoc/>
    protected override async ValueTask<ControlReply?> HandleRoleAsync(ControlRequest request, CancellationToken cancellationToken)
    {
        switch (request)
        {
            case SourceAddDeviceRequest add:
                AddDevice(add, add.Device, () => ControlledDevice.ForSource(add, Events));
                return null;

            case PrecopyInfoRequest info:
            {
                var device = Device(info, info.Device);
                if (!device.InPreCopySession) throw BadState(info, $"device {info.Device} has no PRE_COPY session");
                device.OnPrecopyInfo(info.Info);
                return null;
            }

            case StopCopyRequest stop:
            {
                var device = Device(stop, stop.Device);
                if (device.InStopCopy) throw BadState(stop, $"device {stop.Device} is already in STOP_COPY");
                if (device.InPreCopySession && stop.Fd is not null)
                    throw new ControlRequestException(ControlErrorCode.UnexpectedFd,
                        $"stop-copy: device {stop.Device} has a PRE_COPY session, whose fd continues into STOP_COPY; attach no fd", requestId: stop.Id);
                if (!device.InPreCopySession && stop.Fd is null)
                    throw new ControlRequestException(ControlErrorCode.FdMissing,
                        $"stop-copy: device {stop.Device} has no PRE_COPY session; attach its STOP_COPY data_fd", requestId: stop.Id);
                device.OnStopCopy(stop.Fd?.Claim(), stop.StopCopyEstimate);
                return null;
            }

            case DiscardRequest discard:
            {
                var device = Device(discard, discard.Device);
                if (!device.InPreCopySession)
                    throw BadState(discard, $"device {discard.Device} is not in pre-copy (discard restarts a PRE_COPY session; a reset in STOP_COPY is fatal: cancel)");
                device.OnDiscard(discard.Fd!.Claim(), // the parser requires the fd
                    discard.StopCopyEstimate, discard.Precopy);
                return null;
            }

            case SwitchoverRequest switchover:
            {
                RequireRunning(switchover);
                bool acked = await Run(switchover, () => session.SwitchoverAsync(switchover.WaitAck, cancellationToken)).ConfigureAwait(false);
                return new SwitchoverReply(acked);
            }

            default:
                throw new ControlRequestException(ControlErrorCode.WrongRole, $"{request.Op} is not a source op", "op", request.Id);
        }
    }
}
