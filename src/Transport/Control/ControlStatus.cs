using System.Text.Json;

namespace StreamKit.Transport.Control;

/// <summary>
/// Progress of one migration as status replies and progress events report it.
/// </summary>
/// <param name="Phase">"setup", "pre-copy", "stop-copy", "completing", "completed", "failed".</param>
/// <param name="StreamBytes">Bytes written to (source) or read from (destination) the stream's channels.</param>
/// <param name="AckedBytes">Device bytes the destination acknowledged as written (0 without a return path).</param>
/// <param name="Devices">One entry per added device, in add order.</param>
internal sealed record ControlStatus(string Phase, ulong StreamBytes, ulong AckedBytes, IReadOnlyList<DeviceStatus> Devices)
{
    internal void WriteFields(Utf8JsonWriter w)
    {
        w.WriteString("phase", Phase);
        w.WriteNumber("stream_bytes", StreamBytes);
        w.WriteNumber("acked_bytes", AckedBytes);
        w.WriteStartArray("devices");
        foreach (var d in Devices) d.Write(w);
        w.WriteEndArray();
    }
}

/// <summary>One device's progress.</summary>
/// <param name="Device">Wire device id.</param>
/// <param name="State">The device's state as StreamKit last learned it: "running", "pre-copy", "stop-copy", "stop", "resuming", …, or "done".</param>
/// <param name="Epoch">Discard generation (source: discards so far; destination: resuming sessions after the first).</param>
/// <param name="PrecopyBytes">Source: data_fd bytes read while in PRE_COPY (all epochs).</param>
/// <param name="StopCopyBytes">Source: data_fd bytes read while in STOP_COPY.</param>
/// <param name="WrittenBytes">Destination: data_fd bytes written in the current epoch.</param>
/// <param name="PendingPrecopyBytes">Source: initial + dirty bytes from the last precopy-info reading; null if never read.</param>
/// <param name="StopCopyEstimate">Source: the last MIG_DATA_SIZE estimate the VMM reported; null if none.</param>
internal sealed record DeviceStatus(ushort Device, string State, uint Epoch, ulong PrecopyBytes, ulong StopCopyBytes,
    ulong WrittenBytes, ulong? PendingPrecopyBytes, ulong? StopCopyEstimate)
{
    internal void Write(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteNumber("device", Device);
        w.WriteString("state", State);
        w.WriteNumber("epoch", Epoch);
        w.WriteNumber("precopy_bytes", PrecopyBytes);
        w.WriteNumber("stop_copy_bytes", StopCopyBytes);
        w.WriteNumber("written_bytes", WrittenBytes);
        if (PendingPrecopyBytes is { } pending) w.WriteNumber("pending_precopy_bytes", pending);
        else w.WriteNull("pending_precopy_bytes");
        if (StopCopyEstimate is { } estimate) w.WriteNumber("stop_copy_estimate", estimate);
        else w.WriteNull("stop_copy_estimate");
        w.WriteEndObject();
    }
}
