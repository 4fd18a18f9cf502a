namespace StreamKit.Transport.Control;

/// <summary>
/// Destination-side (`streamkit receive`) requests: builds a <see cref="ControlledDevice"/> per
/// add-device, and feeds resume-fd and commit-result to the device waiting for them.
/// </summary>
internal sealed class DestinationControlHandler(IDestinationControlSession session) : ControlHandlerBase
{
    /// <inheritdoc/>
    public override ControlRole Role => ControlRole.Destination;

    /// <inheritdoc/>
    protected override IControlSession Session => session;

    /// <inheritdoc/>
    protected override ValueTask<ControlReply?> HandleRoleAsync(ControlRequest request, CancellationToken cancellationToken)
    {
        switch (request)
        {
            case DestinationAddDeviceRequest add:
                AddDevice(add, add.Device, () => ControlledDevice.ForDestination(add, Events));
                break;

            case ResumeFdRequest resume:
            {
                var device = Device(resume, resume.Device);
                if (!device.IsAwaitingResumeFd(resume.Epoch))
                    throw BadState(resume, $"no resume-fd-needed is outstanding for device {resume.Device} epoch {resume.Epoch}");
                device.OnResumeFd(resume.Fd!.Claim()); // the parser requires the fd
                break;
            }

            case CommitResultRequest commit:
            {
                var device = Device(commit, commit.Device);
                if (!device.IsAwaitingCommit(commit.Epoch))
                    throw BadState(commit, $"no device-complete is outstanding for device {commit.Device} epoch {commit.Epoch}");
                device.OnCommitResult(commit.Ok, commit.Errno, commit.Message);
                break;
            }

            default:
                throw new ControlRequestException(ControlErrorCode.WrongRole, $"{request.Op} is not a destination op", "op", request.Id);
        }
        return ValueTask.FromResult<ControlReply?>(null);
    }
}
