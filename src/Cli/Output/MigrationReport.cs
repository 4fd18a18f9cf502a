using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// The end of a migration command: the result (a table, or a JSON <c>result</c> line) or the failure
/// (a typed message on stderr, or a JSON <c>result</c> line with <c>"ok":false</c>). Simulated devices'
/// state digests are included so scripts and tests can compare source and destination across processes.
/// </summary>
internal sealed class MigrationReport(OutputMode mode, string command, string role, IReadOnlyList<OpenDevice> devices)
{
    /// <summary>Reports success; returns exit code 0.</summary>
    internal int Success(MigrationResult result)
    {
        if (mode == OutputMode.Json)
        {
            JsonLines.Write("result", w =>
            {
                w.WriteBoolean("ok", true);
                w.WriteString("role", role);
                w.WriteNumber("exit_code", ExitCodes.Success);
                WriteResultFields(w, result);
            });
        }
        else
        {
            AnsiConsole.Write(Table(result));
            AnsiConsole.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{command}: {result.Devices.Count} device{(result.Devices.Count == 1 ? "" : "s")} migrated in {Quantities.FormatDuration(result.Elapsed)}, " +
                $"{Quantities.FormatBytes(result.WireBytes)} on {result.Channels} channel{(result.Channels == 1 ? "" : "s")}, stream {result.StreamId}"));
            foreach (var d in devices)
                if (d.Simulated is { } sim)
                    AnsiConsole.WriteLine($"  device {d.Spec.Id} state digest {JsonLines.Hex(sim.StateDigest)}");
        }
        return ExitCodes.Success;
    }

    /// <summary>Reports a failure; returns its exit code.</summary>
    internal int Failure(Exception e)
    {
        var (code, category) = ExitCodes.Classify(e);
        if (mode == OutputMode.Json)
        {
            JsonLines.Write("result", w =>
            {
                w.WriteBoolean("ok", false);
                w.WriteString("role", role);
                w.WriteNumber("exit_code", code);
                ErrorReport.WriteJson(w, e, category);
                w.WriteStartArray("devices");
                foreach (var d in devices)
                {
                    w.WriteStartObject();
                    w.WriteNumber("id", d.Spec.Id);
                    w.WriteString("name", d.Device.Name);
                    w.WriteString("state", StateAfterFailure(d));
                    WriteDigest(w, d);
                    w.WriteEndObject();
                }
                w.WriteEndArray();
            });
        }
        ErrorReport.Print(command, e, category);
        return code;
    }

    /// <summary>The members of a result object after "ok"/"role".</summary>
    internal void WriteResultFields(Utf8JsonWriter w, MigrationResult result)
    {
        w.WriteNumber("elapsed_ms", (long)result.Elapsed.TotalMilliseconds);
        w.WriteNumber("wire_bytes", result.WireBytes);
        w.WriteNumber("channels", result.Channels);
        w.WriteString("stream_id", result.StreamId.ToString());
        w.WriteStartArray("devices");
        foreach (var d in result.Devices)
        {
            w.WriteStartObject();
            w.WriteNumber("id", d.Id);
            w.WriteString("name", d.Name);
            w.WriteString("driver", d.DriverHint);
            w.WriteNumber("precopy_bytes", d.PrecopyBytes);
            w.WriteNumber("stop_copy_bytes", d.StopCopyBytes);
            w.WriteNumber("chunks", d.Chunks);
            w.WriteNumber("wire_bytes", d.WireBytes);
            w.WriteNumber("zero_bytes", d.ZeroBytes);
            w.WriteNumber("discards", d.Discards);
            w.WriteNumber("discarded_bytes", d.DiscardedBytes);
            w.WriteNumber("stop_copy_ms", Math.Round(d.StopCopyTime.TotalMilliseconds, 3));
            w.WriteBoolean("committed", d.Committed);
            if (devices.FirstOrDefault(o => o.Spec.Id == d.Id) is { } open) WriteDigest(w, open);
            else w.WriteNull("state_digest");
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>
    /// Where the device stands after the failure (a failed migration leaves the source Running and resets the destination,
    /// which also comes back Running): operators read it to know the VM's devices are safe. A device too broken to answer says why.
    /// </summary>
    private static string StateAfterFailure(OpenDevice d)
    {
        try
        {
            return d.Device.GetState().ToString();
        }
        catch (Exception e) when (e is StreamKit.Device.DeviceException or ObjectDisposedException)
        {
            return "unknown: " + e.Message;
        }
    }

    private static void WriteDigest(Utf8JsonWriter w, OpenDevice d)
    {
        if (d.Simulated is { } sim) w.WriteString("state_digest", JsonLines.Hex(sim.StateDigest));
        else w.WriteNull("state_digest");
    }

    /// <summary>One row per device (transposed on a narrow terminal): bytes, chunks, wire bytes, ratio, discards, stop-copy time.</summary>
    internal static Table Table(MigrationResult result)
    {
        string[] headers = ["Device", "Pre-copy", "Stop-copy", "Chunks", "Wire", "Ratio", "Throughput", "Discards", "Discarded", "Stop-copy time"];
        var rows = result.Devices.Select(d =>
        {
            long raw = d.PrecopyBytes + d.StopCopyBytes;
            return new[]
            {
                Markup.Escape($"{d.Id} {d.Name}"),
                Quantities.FormatBytes(d.PrecopyBytes),
                Quantities.FormatBytes(d.StopCopyBytes),
                d.Chunks.ToString(CultureInfo.InvariantCulture),
                Quantities.FormatBytes(d.WireBytes),
                Ratio(raw, d.WireBytes),
                Quantities.FormatRate(raw, result.Elapsed),
                d.Discards.ToString(CultureInfo.InvariantCulture),
                Quantities.FormatBytes(d.DiscardedBytes),
                Quantities.FormatDuration(d.StopCopyTime),
            };
        }).ToList();
        return FittedTable.Build(headers, rows, c => c > 0);
    }

    /// <summary>raw / wire as "1.73x", "-" when nothing went on the wire.</summary>
    internal static string Ratio(long raw, long wire) =>
        wire <= 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{(double)raw / wire:0.00}x");
}
