using System.Text.Json;
using StreamKit.Device;
using StreamKit.Wire;

namespace StreamKit.Transport.Control;

/// <summary>An unsolicited message from the server: <c>{"event":Name,...}</c> (spec §6.2, §7.2).</summary>
internal abstract record ControlEvent
{
    /// <summary>The event name on the wire.</summary>
    internal abstract string Name { get; }

    /// <summary>Writes the event's members after <c>"event"</c>.</summary>
    internal abstract void WriteFields(Utf8JsonWriter writer);
}

/// <summary>progress (both roles): the same members as a status reply.</summary>
internal sealed record ProgressEvent(ControlStatus Status) : ControlEvent
{
    internal override string Name => "progress";
    internal override void WriteFields(Utf8JsonWriter w) => Status.WriteFields(w);
}

/// <summary>switchover-ready (source): the destination absorbed every device's initial pre-copy bytes.</summary>
internal sealed record SwitchoverReadyEvent : ControlEvent
{
    internal override string Name => "switchover-ready";
    internal override void WriteFields(Utf8JsonWriter w) { }
}

/// <summary>
/// data-fd-dead (source): a read on the device's data_fd failed with ENODEV (reset, or the device
/// left its saving group). The VMM answers with discard (new PRE_COPY fd) or cancel.
/// </summary>
internal sealed record DataFdDeadEvent(ushort Device, uint Epoch, string Phase) : ControlEvent
{
    internal override string Name => "data-fd-dead";
    internal override void WriteFields(Utf8JsonWriter w)
    {
        w.WriteNumber("device", Device);
        w.WriteNumber("epoch", Epoch);
        w.WriteString("phase", Phase);
    }
}

/// <summary>
/// device-done (source): StreamKit read the device's STOP_COPY stream to its end and closed its copy
/// of the fd; the VMM may now leave STOP_COPY (→ STOP).
/// </summary>
internal sealed record DeviceDoneEvent(ushort Device, uint Epoch, ulong PrecopyBytes, ulong StopCopyBytes) : ControlEvent
{
    internal override string Name => "device-done";
    internal override void WriteFields(Utf8JsonWriter w)
    {
        w.WriteNumber("device", Device);
        w.WriteNumber("epoch", Epoch);
        w.WriteNumber("precopy_bytes", PrecopyBytes);
        w.WriteNumber("stop_copy_bytes", StopCopyBytes);
    }
}

/// <summary>device-announced (destination): the stream's DEVICE_BEGIN for a device.</summary>
internal sealed record DeviceAnnouncedEvent(ushort Device, string DeviceName, string Driver, MigrationFeatures Flags, ulong? StopCopyEstimate) : ControlEvent
{
    internal override string Name => "device-announced";
    internal override void WriteFields(Utf8JsonWriter w)
    {
        w.WriteNumber("device", Device);
        w.WriteString("name", DeviceName);
        w.WriteString("driver", Driver);
        w.WriteNumber("migration_flags", (ulong)Flags);
        if (StopCopyEstimate is { } estimate) w.WriteNumber("stop_copy_estimate", estimate);
        else w.WriteNull("stop_copy_estimate");
    }
}

/// <summary>
/// resume-fd-needed (destination): the source discarded the device's state; StreamKit closed its copy
/// of the old fd. The VMM resets the device, moves it to RESUMING and answers with resume-fd (same epoch).
/// </summary>
internal sealed record ResumeFdNeededEvent(ushort Device, uint Epoch) : ControlEvent
{
    internal override string Name => "resume-fd-needed";
    internal override void WriteFields(Utf8JsonWriter w)
    {
        w.WriteNumber("device", Device);
        w.WriteNumber("epoch", Epoch);
    }
}

/// <summary>
/// device-complete (destination): every byte of the device's final epoch is written and verified.
/// The VMM does RESUMING → STOP and answers with commit-result (same epoch).
/// </summary>
internal sealed record DeviceCompleteEvent(ushort Device, uint Epoch, ulong Bytes) : ControlEvent
{
    internal override string Name => "device-complete";
    internal override void WriteFields(Utf8JsonWriter w)
    {
        w.WriteNumber("device", Device);
        w.WriteNumber("epoch", Epoch);
        w.WriteNumber("bytes", Bytes);
    }
}

/// <summary>completed (both roles): the destination committed every device (FINAL_ACK status 0).</summary>
internal sealed record CompletedEvent(int Devices, ulong Bytes) : ControlEvent
{
    internal override string Name => "completed";
    internal override void WriteFields(Utf8JsonWriter w)
    {
        w.WriteNumber("devices", Devices);
        w.WriteNumber("bytes", Bytes);
    }
}

/// <summary>
/// failed (both roles): the migration ended without success. <paramref name="Reason"/> is a wire-format
/// error code, sent by name and value. The VMM restores its devices (source → RUNNING, destination reset).
/// </summary>
internal sealed record FailedEvent(StreamErrorCode Reason, string Message, ushort? Device = null) : ControlEvent
{
    internal override string Name => "failed";
    internal override void WriteFields(Utf8JsonWriter w)
    {
        w.WriteString("reason", Reason.ToString());
        w.WriteNumber("reason_code", (uint)Reason);
        w.WriteString("message", Message);
        if (Device is { } device) w.WriteNumber("device", device);
    }
}
