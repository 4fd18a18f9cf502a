using System.Diagnostics.Metrics;

namespace StreamKit.Transport;

/// <summary>
/// The transport's instruments on the <see cref="System.Diagnostics.Metrics.Meter"/> named
/// <c>StreamKit.Transport</c>. Created once; each record is a counter add with at most one
/// pre-built tag, which allocates nothing.
/// <code>
/// streamkit.transport.bytes_sent        counter   By        tag transport (tcp|unix|file|memory)
/// streamkit.transport.bytes_received    counter   By        tag transport
/// streamkit.transport.chunks_sent       counter   {chunk}   header+payload sends
/// streamkit.transport.chunks_received   counter   {chunk}   recorded by the session's chunk reader
/// streamkit.transport.connections       counter   {conn}    opened, tag transport
/// streamkit.transport.active_connections updown   {conn}    tag transport
/// streamkit.transport.errors            counter   {error}   first abort reason per connection, tag kind
/// streamkit.transport.rejected          counter   {conn}    listener refusals (bad preamble, stray, TLS), tag kind
/// </code>
/// </summary>
internal static class TransportMetrics
{
    /// <summary>The meter name to listen to.</summary>
    public const string MeterName = "StreamKit.Transport";

    private static readonly Meter Meter = new(MeterName, "1.0");
    private static readonly Counter<long> BytesSent = Meter.CreateCounter<long>("streamkit.transport.bytes_sent", "By", "Bytes handed to the transport and sent");
    private static readonly Counter<long> BytesReceived = Meter.CreateCounter<long>("streamkit.transport.bytes_received", "By", "Bytes received");
    private static readonly Counter<long> ChunksSent = Meter.CreateCounter<long>("streamkit.transport.chunks_sent", "{chunk}", "Header + payload sends");
    private static readonly Counter<long> ChunksReceived = Meter.CreateCounter<long>("streamkit.transport.chunks_received", "{chunk}", "Chunks parsed by the receive path");
    private static readonly Counter<long> Connections = Meter.CreateCounter<long>("streamkit.transport.connections", "{connection}", "Connections opened");
    private static readonly UpDownCounter<long> ActiveConnections = Meter.CreateUpDownCounter<long>("streamkit.transport.active_connections", "{connection}", "Connections open now");
    private static readonly Counter<long> Errors = Meter.CreateCounter<long>("streamkit.transport.errors", "{error}", "Connections that failed, by kind");
    private static readonly Counter<long> Rejected = Meter.CreateCounter<long>("streamkit.transport.rejected", "{connection}", "Connections a listener refused, by kind");

    private static readonly KeyValuePair<string, object?>[] TransportTags =
        Enum.GetValues<TransportKind>().Select(k => new KeyValuePair<string, object?>("transport", k.ToString().ToLowerInvariant())).ToArray();
    private static readonly KeyValuePair<string, object?>[] KindTags =
        Enum.GetValues<TransportErrorKind>().Select(k => new KeyValuePair<string, object?>("kind", k.ToString())).ToArray();

    internal static void Sent(TransportKind kind, long bytes, bool chunk)
    {
        BytesSent.Add(bytes, TransportTags[(int)kind]);
        if (chunk) ChunksSent.Add(1, TransportTags[(int)kind]);
    }

    internal static void Received(TransportKind kind, long bytes) => BytesReceived.Add(bytes, TransportTags[(int)kind]);

    /// <summary>For the session's chunk reader: one chunk parsed.</summary>
    internal static void ChunkReceived(TransportKind kind) => ChunksReceived.Add(1, TransportTags[(int)kind]);

    internal static void Opened(TransportKind kind)
    {
        Connections.Add(1, TransportTags[(int)kind]);
        ActiveConnections.Add(1, TransportTags[(int)kind]);
    }

    internal static void Closed(TransportKind kind) => ActiveConnections.Add(-1, TransportTags[(int)kind]);

    internal static void Failed(TransportErrorKind kind) => Errors.Add(1, KindTags[(int)kind]);

    internal static void Refused(TransportErrorKind kind) => Rejected.Add(1, KindTags[(int)kind]);
}
