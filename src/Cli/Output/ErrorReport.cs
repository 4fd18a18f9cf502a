using System.Text.Json;
using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>How failures are described: one line on stderr, and the <c>"error"</c> object of JSON results.</summary>
internal static class ErrorReport
{
    /// <summary>Prints <c>streamkit COMMAND: …</c> on stderr.</summary>
    internal static void Print(string command, Exception e, string? category = null)
    {
        category ??= ExitCodes.Classify(e).Category;
        Console.Error.WriteLine($"streamkit {command}: {Describe(e, category)}");
        Console.Error.Flush();
    }

    /// <summary>One line saying what failed, with the typed reason (and the stream offset for format errors).</summary>
    internal static string Describe(Exception e, string category) => e switch
    {
        MigrationException m => $"migration failed: {m.Code} ({(uint)m.Code}){(m.PeerCode is { } peer ? $" [peer: {peer} ({(uint)peer})]" : "")}, {OriginText(m.Origin)}: {m.Reason}",
        StreamFormatException f => $"stream error {f.Code} ({(uint)f.Code}) at stream offset {f.StreamOffset}: {StripPrefix(f)}",
        DeviceException d => $"device error: {d.Message}",
        TransportException t => $"transport error: {t.Message}",
        OperationCanceledException => "cancelled",
        CliUsageException or DeviceSpecException => e.Message,
        _ => $"{category} error: {e.GetType().Name}: {e.Message}",
    };

    /// <summary>Writes <c>"error":{"category","code","code_value","origin","message","stream_offset"}</c>.</summary>
    internal static void WriteJson(Utf8JsonWriter w, Exception e, string category)
    {
        w.WriteStartObject("error");
        w.WriteString("category", category);
        switch (e)
        {
            case MigrationException m:
                w.WriteString("code", m.Code.ToString());
                w.WriteNumber("code_value", (uint)m.Code);
                w.WriteString("origin", m.Origin.ToString());
                if (m.PeerCode is { } peer)
                {
                    w.WriteString("peer_code", peer.ToString());
                    w.WriteNumber("peer_code_value", (uint)peer);
                }
                w.WriteString("message", m.Reason);
                break;
            case StreamFormatException f:
                w.WriteString("code", f.Code.ToString());
                w.WriteNumber("code_value", (uint)f.Code);
                w.WriteNumber("stream_offset", f.StreamOffset);
                w.WriteString("message", StripPrefix(f));
                break;
            case DeviceException d:
                w.WriteString("code", d.Kind.ToString());
                if (d.Errno != 0) w.WriteString("errno", Errno.Name(d.Errno));
                w.WriteString("message", d.Message);
                break;
            case TransportException t:
                w.WriteString("code", t.Kind.ToString());
                w.WriteString("message", t.Message);
                break;
            default:
                w.WriteString("message", e.Message);
                break;
        }
        w.WriteEndObject();
    }

    private static string OriginText(MigrationFailureOrigin origin) => origin switch
    {
        MigrationFailureOrigin.Local => "detected here",
        MigrationFailureOrigin.Peer => "reported by the peer",
        MigrationFailureOrigin.SourceDevice => "source device",
        MigrationFailureOrigin.DestinationDevice => "destination device",
        MigrationFailureOrigin.Transport => "transport",
        _ => origin.ToString(),
    };

    /// <summary>The format exception's message without its "Code at stream offset N: " prefix (printed separately).</summary>
    private static string StripPrefix(StreamFormatException f)
    {
        string prefix = $"{f.Code} at stream offset {f.StreamOffset}: ";
        return f.Message.StartsWith(prefix, StringComparison.Ordinal) ? f.Message[prefix.Length..] : f.Message;
    }
}
