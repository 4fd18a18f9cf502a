namespace StreamKit.Transport;

/// <summary>What a completed migration moved.</summary>
/// <param name="Devices">Per device, by id.</param>
/// <param name="Elapsed">From the start of RunAsync to FINAL_ACK (or the durable end of a file).</param>
/// <param name="WireBytes">Bytes on the forward channels (preambles, headers and payloads).</param>
/// <param name="Channels">Forward channels used.</param>
/// <param name="StreamId">The stream's id.</param>
public sealed record MigrationResult(IReadOnlyList<DeviceMigrationResult> Devices, TimeSpan Elapsed,
    long WireBytes, int Channels, Guid StreamId);

/// <summary>One device's part of a migration.</summary>
/// <param name="Id">Wire device id.</param>
/// <param name="Name">Device name (source: its own; destination: from DEVICE_BEGIN).</param>
/// <param name="DriverHint">Driver hint.</param>
/// <param name="PrecopyBytes">Raw pre-copy data bytes, all epochs.</param>
/// <param name="StopCopyBytes">Raw stop-copy data bytes.</param>
/// <param name="Chunks">Device-scoped chunks sent (receiver: applied).</param>
/// <param name="WireBytes">Header + payload bytes of those chunks.</param>
/// <param name="ZeroBytes">Raw bytes that travelled as ZERO_RUN.</param>
/// <param name="Discards">DISCARDs (source device resets during pre-copy survived).</param>
/// <param name="DiscardedBytes">Raw data bytes of discarded epochs.</param>
/// <param name="StopCopyTime">From entering STOP_COPY to the device's DEVICE_END (receiver: to its commit).</param>
/// <param name="Committed">The destination committed it (sender: FINAL_ACK said so; file: false).</param>
public sealed record DeviceMigrationResult(ushort Id, string Name, string DriverHint,
    long PrecopyBytes, long StopCopyBytes, long Chunks, long WireBytes, long ZeroBytes,
    int Discards, long DiscardedBytes, TimeSpan StopCopyTime, bool Committed);

/// <summary>A snapshot of a running migration.</summary>
/// <param name="Phase">Stream-wide phase.</param>
/// <param name="Elapsed">Since RunAsync started.</param>
/// <param name="WireBytes">Forward bytes sent (sender) or received (receiver) so far.</param>
/// <param name="Devices">Per device.</param>
public sealed record MigrationProgress(MigrationPhase Phase, TimeSpan Elapsed, long WireBytes,
    IReadOnlyList<DeviceProgress> Devices);

/// <summary>One device in a <see cref="MigrationProgress"/>.</summary>
/// <param name="Id">Wire device id.</param>
/// <param name="Name">Device name.</param>
/// <param name="Phase">The device's phase.</param>
/// <param name="Epoch">Current epoch (number of discards so far).</param>
/// <param name="PrecopyBytes">Raw pre-copy bytes so far (sender: sent; receiver: written), all epochs.</param>
/// <param name="StopCopyBytes">Raw stop-copy bytes so far.</param>
/// <param name="PendingPrecopyBytes">Sender: initial + dirty bytes from the last pre-copy info (0 when unknown).</param>
/// <param name="StopCopyEstimate">Sender: the device's stop-copy size estimate, if it gives one.</param>
/// <param name="Discards">Discards so far.</param>
/// <param name="DiscardedBytes">Raw data bytes of discarded epochs.</param>
public sealed record DeviceProgress(ushort Id, string Name, MigrationPhase Phase, uint Epoch,
    long PrecopyBytes, long StopCopyBytes, long PendingPrecopyBytes, long? StopCopyEstimate,
    int Discards, long DiscardedBytes);
