using StreamKit.Device;

namespace StreamKit.Transport.Control;

/// <summary>
/// A parsed, well-formed control request (spec/control-protocol.md §5-§8). Fds attached to the line
/// are in <see cref="Fds"/> (at most the number the op takes); handlers <see cref="PassedFd.Claim"/>
/// the ones they keep, the connection closes the rest after the handler returns.
/// </summary>
internal abstract record ControlRequest(long Id)
{
    /// <summary>The op name on the wire.</summary>
    internal abstract string Op { get; }

    /// <summary>Fds this request carries.</summary>
    internal virtual IReadOnlyList<PassedFd> Fds => [];
}

/// <summary>Base of requests carrying at most one fd.</summary>
internal abstract record FdRequest(long Id, PassedFd? Fd) : ControlRequest(Id)
{
    internal override IReadOnlyList<PassedFd> Fds => Fd is null ? [] : [Fd];
}

/// <summary><c>hello</c>: version negotiation; must be the first request.</summary>
internal sealed record HelloRequest(long Id, int Version, string? Client) : ControlRequest(Id)
{
    internal override string Op => "hello";
}

/// <summary><c>start</c>: every device is added; begin the migration (source) or accept the stream (destination).</summary>
internal sealed record StartRequest(long Id) : ControlRequest(Id)
{
    internal override string Op => "start";
}

/// <summary><c>status</c>: progress snapshot.</summary>
internal sealed record StatusRequest(long Id) : ControlRequest(Id)
{
    internal override string Op => "status";
}

/// <summary><c>cancel</c>: abort the migration.</summary>
internal sealed record CancelRequest(long Id, string? Reason) : ControlRequest(Id)
{
    internal override string Op => "cancel";
}

/// <summary>
/// Source <c>add-device</c>: a device to migrate, with its PRE_COPY data_fd (the VMM already moved
/// it RUNNING → PRE_COPY), or no fd when it will hand over its state only in STOP_COPY.
/// </summary>
/// <param name="Id">Request id.</param>
/// <param name="Device">Wire device id, 1-65535.</param>
/// <param name="Name">Device name for DEVICE_BEGIN (1-255 UTF-8 bytes).</param>
/// <param name="Driver">Driver hint for DEVICE_BEGIN (0-255 UTF-8 bytes).</param>
/// <param name="Flags">VFIO migration flags as read with VFIO_DEVICE_FEATURE_MIGRATION.</param>
/// <param name="StopCopyEstimate">VFIO_DEVICE_FEATURE_MIG_DATA_SIZE, if read.</param>
/// <param name="PrecopyIoctl">StreamKit may call VFIO_MIG_GET_PRECOPY_INFO on the fd itself.</param>
/// <param name="Precopy">The VMM's first precopy-info reading, if any.</param>
/// <param name="Fd">The PRE_COPY data_fd, or null.</param>
internal sealed record SourceAddDeviceRequest(long Id, ushort Device, string Name, string Driver, MigrationFeatures Flags,
    ulong? StopCopyEstimate, bool PrecopyIoctl, PrecopyInfo? Precopy, PassedFd? Fd) : FdRequest(Id, Fd)
{
    internal override string Op => "add-device";
}

/// <summary>Source <c>precopy-info</c>: the VMM's VFIO_MIG_GET_PRECOPY_INFO reading.</summary>
internal sealed record PrecopyInfoRequest(long Id, ushort Device, PrecopyInfo Info) : ControlRequest(Id)
{
    internal override string Op => "precopy-info";
}

/// <summary>
/// Source <c>stop-copy</c>: the VMM moved the device to STOP_COPY. No fd: the PRE_COPY fd continues;
/// an fd: the new STOP_COPY session of a device that had no PRE_COPY session.
/// </summary>
internal sealed record StopCopyRequest(long Id, ushort Device, ulong? StopCopyEstimate, PassedFd? Fd) : FdRequest(Id, Fd)
{
    internal override string Op => "stop-copy";
}

/// <summary>Source <c>discard</c>: the device was reset during pre-copy; <see cref="FdRequest.Fd"/> is its new PRE_COPY fd.</summary>
internal sealed record DiscardRequest(long Id, ushort Device, ulong? StopCopyEstimate, PrecopyInfo? Precopy, PassedFd Fd) : FdRequest(Id, Fd)
{
    internal override string Op => "discard";
}

/// <summary>Source <c>switchover</c>: may the VMM stop the VM now? Answered after the destination's switchover-ack when <paramref name="WaitAck"/>.</summary>
internal sealed record SwitchoverRequest(long Id, bool WaitAck) : ControlRequest(Id)
{
    internal override string Op => "switchover";
}

/// <summary>Destination <c>add-device</c>: a device in RESUMING and its data_fd.</summary>
/// <param name="Id">Request id.</param>
/// <param name="Device">Wire device id, 1-65535 (the id the source's VMM gave the same device).</param>
/// <param name="Name">Expected DEVICE_BEGIN name; null accepts any.</param>
/// <param name="Flags">The destination device's VFIO migration flags, if the VMM sent them.</param>
/// <param name="Fd">The RESUMING data_fd.</param>
internal sealed record DestinationAddDeviceRequest(long Id, ushort Device, string? Name, MigrationFeatures? Flags, PassedFd Fd) : FdRequest(Id, Fd)
{
    internal override string Op => "add-device";
}

/// <summary>Destination <c>resume-fd</c>: answer to resume-fd-needed; the device was reset and re-entered RESUMING.</summary>
internal sealed record ResumeFdRequest(long Id, ushort Device, uint Epoch, PassedFd Fd) : FdRequest(Id, Fd)
{
    internal override string Op => "resume-fd";
}

/// <summary>Destination <c>commit-result</c>: outcome of RESUMING → STOP after device-complete.</summary>
internal sealed record CommitResultRequest(long Id, ushort Device, uint Epoch, bool Ok, int Errno, string? Message) : ControlRequest(Id)
{
    internal override string Op => "commit-result";
}
