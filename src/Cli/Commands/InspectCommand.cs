using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit inspect FILE...</c>: what a saved stream holds, per device and epoch (phases, discards,
/// chunk sizes, compression), like QEMU's analyze-migration.py or CRIU's crit. The whole stream is
/// validated on the way; a fault is shown after what was read before it (exit 5).
/// </summary>
internal static class InspectCommand
{
    internal static Command Create()
    {
        var files = StreamFiles.Argument();
        var json = CommonOptions.Json();
        var chunks = new Option<bool>("--chunks") { Description = "Also list every chunk header in read order (channel, offset, type, device, epoch, sequence, lengths, flags)." };
        var command = new Command("inspect", "Show what a saved stream holds: per device its phases, epochs, discards, chunk sizes and compression ratio. " +
                                             "Validates the stream on the way (exit 5 on a fault, with its code and stream offset).")
        {
            files, json, chunks,
        };
        command.SetAction(parse => Run(parse.GetValue(files)!, parse.GetValue(json), parse.GetValue(chunks)));
        return command;
    }

    private static int Run(string[] paths, bool json, bool listChunks)
    {
        var inspector = new StreamInspector { Listing = listChunks ? [] : null };
        ScanResult scan;
        try
        {
            var files = StreamFiles.Check(paths);
            if (ReturnPathScan.Single(files) is { } returnPath) return ReturnPathReport.Inspect(returnPath, json);
            scan = StreamScan.Run(files, inspector, inspector.OnChunk);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CliUsageException)
        {
            return StreamFiles.ReportUnreadable("inspect", e, json);
        }

        if (json) WriteJson(scan, inspector);
        else WriteText(scan, inspector);
        return scan.Ok ? ExitCodes.Success : ExitCodes.StreamError;
    }

    private static void WriteText(ScanResult scan, StreamInspector inspector)
    {
        var s = scan.Summary;
        if (inspector.Listing is { } listing)
            foreach (var (channel, text) in listing) AnsiConsole.WriteLine($"ch{channel} {text}");

        AnsiConsole.MarkupLine($"[bold]stream[/] {s.StreamId}  format {s.FormatVersion}  {s.ChannelCount} channel(s)  capabilities {Markup.Escape(s.Capabilities.ToString())}");
        var channels = new Table().Border(TableBorder.Rounded).AddColumns("Channel", "File", "Bytes", "Chunks", "Device bytes", "Ended");
        foreach (var c in s.Channels)
        {
            string file = scan.Channels.FirstOrDefault(f => f.Index == c.Index)?.Path ?? "";
            channels.AddRow(c.Index.ToString(CultureInfo.InvariantCulture), Markup.Escape(file), c.Bytes.ToString(CultureInfo.InvariantCulture),
                c.Chunks.ToString(CultureInfo.InvariantCulture), Quantities.FormatBytes(c.DeviceBytes), c.Ended ? "yes" : "[red]no[/]");
        }
        AnsiConsole.Write(channels);

        string[] deviceHeaders = ["Device", "Driver", "Epochs", "Discards", "Pre-copy", "Stop-copy", "Discarded", "Zero", "Chunks (stored/lz4/zero)", "LZ4 ratio", "Verified"];
        var deviceRows = new List<string[]>();
        foreach (var d in s.Devices)
        {
            deviceRows.Add([
                Markup.Escape($"{d.Device} {d.Begin?.Name}"),
                Markup.Escape(d.Begin?.Driver ?? ""),
                (d.FinalEpoch + 1).ToString(CultureInfo.InvariantCulture),
                d.Discards.ToString(CultureInfo.InvariantCulture),
                Quantities.FormatBytes(d.PreCopyBytes),
                Quantities.FormatBytes(d.StopCopyBytes),
                Quantities.FormatBytes(d.DiscardedBytes),
                Quantities.FormatBytes(d.ZeroRunBytes),
                $"{d.StoredChunks}/{d.Lz4Chunks}/{d.ZeroRunChunks}",
                string.Create(CultureInfo.InvariantCulture, $"{d.CompressionRatio:0.00}x"),
                d.End is { } end ? $"[green]yes[/] crc32c {end.DataCrc:x8}" : "[red]no[/]"]);
        }
        AnsiConsole.Write(FittedTable.Build(deviceHeaders, deviceRows, _ => false));

        string[] epochHeaders = ["Device/epoch", "Opened by", "Pre-copy", "Stop-copy", "DATA chunks", "Chunk size min/avg/max", "LZ4 chunks", "Zero runs", "LZ4 ratio", "End"];
        var epochRows = new List<string[]>();
        foreach (var (device, list) in inspector.Devices)
        {
            foreach (var e in list.Values)
            {
                epochRows.Add([
                    string.Create(CultureInfo.InvariantCulture, $"{device} e{e.Epoch}"),
                    e.OpenedBy is { } discard ? $"DISCARD: {Reason(discard.Reason)}, {Quantities.FormatBytes(discard.BytesDiscarded)} dropped" : e.Epoch == 0 ? "DEVICE_BEGIN" : "?",
                    Quantities.FormatBytes(e.PreCopyBytes),
                    Quantities.FormatBytes(e.StopCopyBytes),
                    e.DataChunks.ToString(CultureInfo.InvariantCulture),
                    e.DataChunks == 0 ? "-" : $"{Quantities.FormatBytes(e.MinChunk)}/{Quantities.FormatBytes((double)e.DataRawBytes / e.DataChunks)}/{Quantities.FormatBytes(e.MaxChunk)}",
                    e.Lz4Chunks.ToString(CultureInfo.InvariantCulture),
                    $"{e.ZeroRuns} ({Quantities.FormatBytes(e.ZeroBytes)})",
                    string.Create(CultureInfo.InvariantCulture, $"{e.Ratio:0.00}x"),
                    e.Ended ? "DEVICE_END" : ""]);
            }
        }
        AnsiConsole.Write(FittedTable.Build(epochHeaders, epochRows, _ => false));

        if (s.Abort is { } abort)
            AnsiConsole.MarkupLine($"[red]the sender aborted the stream:[/] {Markup.Escape($"{abort.Reason} ({(uint)abort.Reason}): {abort.Text}")}");
        if (scan.Fault is { } fault)
        {
            AnsiConsole.MarkupLine($"[red]stream error[/] {Markup.Escape(StreamFiles.Describe(fault, scan.FaultFile))}");
            Console.Error.WriteLine($"streamkit inspect: {StreamFiles.Describe(fault, scan.FaultFile)}");
        }
        else
        {
            AnsiConsole.MarkupLine($"[green]complete and verified[/]: {s.Devices.Count} device(s), peak reassembly {Quantities.FormatBytes(s.PeakReassemblyBytes)}");
        }
    }

    private static string Reason(DiscardReason reason) => reason switch
    {
        DiscardReason.SourceDeviceReset => "source device reset",
        DiscardReason.SourceSessionEnded => "source session ended",
        _ => $"reason {(uint)reason}",
    };

    private static void WriteJson(ScanResult scan, StreamInspector inspector)
    {
        var s = scan.Summary;
        JsonLines.Write("inspect", w =>
        {
            w.WriteBoolean("ok", scan.Ok);
            w.WriteString("stream_id", s.StreamId.ToString());
            w.WriteString("format_version", s.FormatVersion.ToString());
            w.WriteNumber("channel_count", s.ChannelCount);
            w.WriteNumber("capabilities", (uint)s.Capabilities);
            w.WriteStartArray("channels");
            foreach (var c in s.Channels)
            {
                w.WriteStartObject();
                w.WriteNumber("index", c.Index);
                w.WriteString("path", scan.Channels.FirstOrDefault(f => f.Index == c.Index)?.Path);
                w.WriteNumber("bytes", c.Bytes);
                w.WriteNumber("chunks", c.Chunks);
                w.WriteNumber("device_bytes", c.DeviceBytes);
                w.WriteBoolean("ended", c.Ended);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("devices");
            foreach (var d in s.Devices) WriteDevice(w, d, inspector);
            w.WriteEndArray();
            if (s.Abort is { } abort)
            {
                w.WriteStartObject("abort");
                w.WriteString("reason", abort.Reason.ToString());
                w.WriteNumber("reason_code", (uint)abort.Reason);
                w.WriteString("text", abort.Text);
                w.WriteEndObject();
            }
            if (scan.Fault is { } fault) StreamFiles.WriteFault(w, fault, scan.FaultFile);
            if (inspector.Listing is { } listing)
            {
                w.WriteStartArray("chunks");
                foreach (var (channel, text) in listing) w.WriteStringValue($"ch{channel} {text}");
                w.WriteEndArray();
            }
        });
    }

    private static void WriteDevice(Utf8JsonWriter w, DeviceSummary d, StreamInspector inspector)
    {
        w.WriteStartObject();
        w.WriteNumber("id", d.Device);
        w.WriteString("name", d.Begin?.Name);
        w.WriteString("driver", d.Begin?.Driver);
        if (d.Begin is { } begin)
        {
            w.WriteNumber("migration_flags", begin.MigrationFlags);
            if (begin.StopCopyEstimate == DeviceBeginRecord.UnknownEstimate) w.WriteNull("stop_copy_estimate");
            else w.WriteNumber("stop_copy_estimate", begin.StopCopyEstimate);
        }
        w.WriteNumber("final_epoch", d.FinalEpoch);
        w.WriteNumber("discards", d.Discards);
        w.WriteNumber("precopy_bytes", d.PreCopyBytes);
        w.WriteNumber("stop_copy_bytes", d.StopCopyBytes);
        w.WriteNumber("discarded_bytes", d.DiscardedBytes);
        w.WriteNumber("zero_bytes", d.ZeroRunBytes);
        w.WriteNumber("raw_data_bytes", d.RawDataBytes);
        w.WriteNumber("wire_data_bytes", d.WireDataBytes);
        w.WriteNumber("compression_ratio", Math.Round(d.CompressionRatio, 4));
        w.WriteNumber("stored_chunks", d.StoredChunks);
        w.WriteNumber("lz4_chunks", d.Lz4Chunks);
        w.WriteNumber("zero_run_chunks", d.ZeroRunChunks);
        w.WriteNumber("config_bytes", d.ConfigBytes);
        w.WriteNumber("precopy_info_chunks", d.PrecopyInfoChunks);
        w.WriteNumber("stale_chunks_dropped", d.StaleChunksDropped);
        w.WriteBoolean("verified", d.End is not null);
        if (d.End is { } end)
        {
            w.WriteNumber("data_bytes", end.DataBytes);
            w.WriteString("data_crc32c", end.DataCrc.ToString("x8", CultureInfo.InvariantCulture));
        }
        w.WriteStartArray("epochs");
        if (inspector.Devices.TryGetValue(d.Device, out var epochs))
        {
            foreach (var e in epochs.Values)
            {
                w.WriteStartObject();
                w.WriteNumber("epoch", e.Epoch);
                if (e.OpenedBy is { } discard)
                {
                    w.WriteStartObject("opened_by_discard");
                    w.WriteNumber("reason", (uint)discard.Reason);
                    w.WriteNumber("bytes_discarded", discard.BytesDiscarded);
                    w.WriteEndObject();
                }
                w.WriteNumber("precopy_bytes", e.PreCopyBytes);
                w.WriteNumber("stop_copy_bytes", e.StopCopyBytes);
                w.WriteNumber("data_chunks", e.DataChunks);
                w.WriteNumber("lz4_chunks", e.Lz4Chunks);
                w.WriteNumber("zero_runs", e.ZeroRuns);
                w.WriteNumber("zero_bytes", e.ZeroBytes);
                w.WriteNumber("min_chunk", e.DataChunks == 0 ? 0 : e.MinChunk);
                w.WriteNumber("max_chunk", e.MaxChunk);
                w.WriteNumber("avg_chunk", e.DataChunks == 0 ? 0 : Math.Round((double)e.DataRawBytes / e.DataChunks, 1));
                w.WriteNumber("compression_ratio", Math.Round(e.Ratio, 4));
                w.WriteNumber("precopy_info_chunks", e.PrecopyInfos);
                w.WriteBoolean("final", e.Ended);
                w.WriteEndObject();
            }
        }
        w.WriteEndArray();
        w.WriteEndObject();
    }
}
