using System.CommandLine;
using System.Globalization;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit verify FILE...</c>: the full integrity check of a saved stream with the same validator
/// a live receiver uses (preamble, every header and payload CRC32C, ordering, epochs and discards,
/// DEVICE_END digests, STREAM_END totals). Exit 0 when complete and verified, 5 with the typed error
/// and its stream offset otherwise.
/// </summary>
internal static class VerifyCommand
{
    internal static Command Create()
    {
        var files = StreamFiles.Argument();
        var json = CommonOptions.Json();
        var command = new Command("verify", "Check a saved stream end to end (CRC32C of every header and payload, ordering, epochs, " +
                                            "per-device digests, stream totals). Exit 0 if verified, 5 with the error code and stream offset if not.")
        {
            files, json,
        };
        command.SetAction(parse => Run(parse.GetValue(files)!, parse.GetValue(json)));
        return command;
    }

    private static int Run(string[] arguments, bool json)
    {
        ScanResult scan;
        try
        {
            var paths = StreamFiles.Check(arguments);
            if (ReturnPathScan.Single(paths) is { } returnPath) return ReturnPathReport.Verify(returnPath, json);
            scan = StreamScan.Run(paths, events: null);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CliUsageException)
        {
            return StreamFiles.ReportUnreadable("verify", e, json);
        }

        var s = scan.Summary;
        long bytes = s.Channels.Sum(c => c.Bytes);
        if (json)
        {
            JsonLines.Write("verify", w =>
            {
                w.WriteBoolean("ok", scan.Ok);
                w.WriteNumber("exit_code", scan.Ok ? ExitCodes.Success : ExitCodes.StreamError);
                w.WriteString("stream_id", s.StreamId.ToString());
                w.WriteNumber("channels", s.ChannelCount);
                w.WriteNumber("devices", s.Devices.Count);
                w.WriteNumber("bytes", bytes);
                if (scan.Fault is { } fault) StreamFiles.WriteFault(w, fault, scan.FaultFile);
            });
        }
        if (scan.Fault is { } f)
        {
            Console.Error.WriteLine($"streamkit verify: {StreamFiles.Describe(f, scan.FaultFile)}");
            if (!json) Console.Out.WriteLine($"FAILED {StreamFiles.Describe(f, scan.FaultFile)}");
            return ExitCodes.StreamError;
        }
        if (!json)
        {
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"OK stream {s.StreamId}: {s.ChannelCount} channel(s), {s.Devices.Count} device(s) verified, {bytes} bytes"));
            foreach (var d in s.Devices)
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  device {d.Device} {d.Begin?.Name}: epoch {d.FinalEpoch}, {d.End?.DataBytes} data bytes, crc32c {d.End?.DataCrc:x8}, {d.Discards} discard(s)"));
        }
        return ExitCodes.Success;
    }
}
