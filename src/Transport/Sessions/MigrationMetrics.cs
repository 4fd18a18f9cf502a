using System.Diagnostics.Metrics;

namespace StreamKit.Transport;

/// <summary>
/// Session instruments on the <see cref="Meter"/> named <c>StreamKit.Migration</c>; every record is a
/// counter add with one pre-built tag (side = sender | receiver), which allocates nothing.
/// <code>
/// streamkit.migration.device_bytes     counter  By       raw device data bytes sent / written
/// streamkit.migration.wire_bytes       counter  By       device chunk bytes (header + payload) sent / applied
/// streamkit.migration.chunks           counter  {chunk}  device chunks sent / applied
/// streamkit.migration.discards         counter  {discard} DISCARDs sent / applied (source resets survived)
/// streamkit.migration.discarded_bytes  counter  By       raw data bytes of discarded epochs
/// streamkit.migration.migrations       counter  {migration} finished migrations, tag outcome (completed | failed)
/// </code>
/// </summary>
internal static class MigrationMetrics
{
    /// <summary>The meter name to listen to.</summary>
    public const string MeterName = "StreamKit.Migration";

    private static readonly Meter Meter = new(MeterName, "1.0");
    private static readonly Counter<long> DeviceBytes = Meter.CreateCounter<long>("streamkit.migration.device_bytes", "By", "Raw device data bytes sent (sender) or written (receiver)");
    private static readonly Counter<long> WireBytes = Meter.CreateCounter<long>("streamkit.migration.wire_bytes", "By", "Device chunk bytes, header and payload");
    private static readonly Counter<long> Chunks = Meter.CreateCounter<long>("streamkit.migration.chunks", "{chunk}", "Device chunks sent or applied");
    private static readonly Counter<long> Discards = Meter.CreateCounter<long>("streamkit.migration.discards", "{discard}", "Source device resets survived with DISCARD");
    private static readonly Counter<long> DiscardedBytes = Meter.CreateCounter<long>("streamkit.migration.discarded_bytes", "By", "Raw data bytes of discarded epochs");
    private static readonly Counter<long> Migrations = Meter.CreateCounter<long>("streamkit.migration.migrations", "{migration}", "Finished migrations by outcome");

    private static readonly KeyValuePair<string, object?> Sender = new("side", "sender");
    private static readonly KeyValuePair<string, object?> Receiver = new("side", "receiver");
    private static readonly KeyValuePair<string, object?>[] SenderOutcome = [new("side", "sender"), new("outcome", "completed")];
    private static readonly KeyValuePair<string, object?>[] SenderFailed = [new("side", "sender"), new("outcome", "failed")];
    private static readonly KeyValuePair<string, object?>[] ReceiverOutcome = [new("side", "receiver"), new("outcome", "completed")];
    private static readonly KeyValuePair<string, object?>[] ReceiverFailed = [new("side", "receiver"), new("outcome", "failed")];

    internal static void Chunk(bool sender, long wireBytes, long deviceBytes)
    {
        var tag = sender ? Sender : Receiver;
        Chunks.Add(1, tag);
        WireBytes.Add(wireBytes, tag);
        if (deviceBytes > 0) DeviceBytes.Add(deviceBytes, tag);
    }

    internal static void Discard(bool sender, long discardedBytes)
    {
        var tag = sender ? Sender : Receiver;
        Discards.Add(1, tag);
        DiscardedBytes.Add(discardedBytes, tag);
    }

    internal static void Finished(bool sender, bool completed) =>
        Migrations.Add(1, (sender, completed) switch
        {
            (true, true) => SenderOutcome,
            (true, false) => SenderFailed,
            (false, true) => ReceiverOutcome,
            _ => ReceiverFailed,
        });
}
