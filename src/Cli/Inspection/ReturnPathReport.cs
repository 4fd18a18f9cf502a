using System.Globalization;
using Spectre.Console;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary><c>verify</c> and <c>inspect</c> of a captured return path (preamble role 1): the verdict, or every message in a table / JSON.</summary>
internal static class ReturnPathReport
{
    /// <summary>verify: exit 0 when well-formed and ended, 5 with the fault otherwise.</summary>
    internal static int Verify(string path, bool json)
    {
        var scan = ReturnPathScan.Run(path);
        if (json)
        {
            JsonLines.Write("verify", w =>
            {
                w.WriteBoolean("ok", scan.Ok);
                w.WriteNumber("exit_code", scan.Ok ? ExitCodes.Success : ExitCodes.StreamError);
                w.WriteString("direction", "return-path");
                w.WriteString("stream_id", scan.StreamId.ToString());
                w.WriteNumber("messages", scan.Messages.Count);
                w.WriteNumber("bytes", scan.Bytes);
                if (scan.Fault is { } fault) StreamFiles.WriteFault(w, fault, path);
            });
        }
        if (scan.Fault is { } f)
        {
            Console.Error.WriteLine($"streamkit verify: {StreamFiles.Describe(f, path)}");
            if (!json) Console.Out.WriteLine($"FAILED {StreamFiles.Describe(f, path)}");
            return ExitCodes.StreamError;
        }
        if (!json)
        {
            var end = scan.Messages.LastOrDefault();
            string final = end.FinalAck is { } f2
                ? string.Create(CultureInfo.InvariantCulture, $" (status {f2.Status}, {f2.DeviceCount} device(s), {f2.BytesWritten} bytes written)")
                : "";
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"OK return path of stream {scan.StreamId}: {scan.Messages.Count} message(s), receive window {scan.ReceiveWindow}, ends with {end.Type}{final}"));
        }
        return ExitCodes.Success;
    }

    /// <summary>inspect: every message (ACKs, WINDOWs, SWITCHOVER_ACK, FINAL_ACK / ERROR), and the fault if any.</summary>
    internal static int Inspect(string path, bool json)
    {
        var scan = ReturnPathScan.Run(path);
        if (json)
        {
            JsonLines.Write("inspect", w =>
            {
                w.WriteBoolean("ok", scan.Ok);
                w.WriteString("direction", "return-path");
                w.WriteString("stream_id", scan.StreamId.ToString());
                w.WriteNumber("receive_window", scan.ReceiveWindow);
                w.WriteNumber("bytes", scan.Bytes);
                w.WriteStartArray("messages");
                foreach (var m in scan.Messages)
                {
                    w.WriteStartObject();
                    w.WriteString("type", m.Type.ToString());
                    if (m.Device != 0)
                    {
                        w.WriteNumber("device", m.Device);
                        w.WriteNumber("epoch", m.Epoch);
                    }
                    if (m.Type is ChunkType.Ack or ChunkType.Window) w.WriteNumber("bytes", m.BytesWritten);
                    if (m.Error is { } error)
                    {
                        w.WriteString("reason", error.Reason.ToString());
                        w.WriteNumber("reason_code", (uint)error.Reason);
                        w.WriteString("text", error.Text);
                    }
                    if (m.FinalAck is { } final)
                    {
                        w.WriteString("status", final.Status.ToString());
                        w.WriteNumber("devices", final.DeviceCount);
                        w.WriteNumber("bytes_written", final.BytesWritten);
                    }
                    w.WriteEndObject();
                }
                w.WriteEndArray();
                if (scan.Fault is { } fault) StreamFiles.WriteFault(w, fault, path);
            });
        }
        else
        {
            AnsiConsole.MarkupLine($"[bold]return path[/] of stream {scan.StreamId}  receive window {Quantities.FormatBytes(scan.ReceiveWindow)}  {scan.Bytes} bytes");
            var table = new Table().Border(TableBorder.Rounded).AddColumns("#", "Message", "Device", "Epoch", "Bytes", "Detail");
            int i = 0;
            foreach (var m in scan.Messages)
            {
                string detail = m.Error is { } e ? $"{e.Reason} ({(uint)e.Reason}): {e.Text}"
                    : m.FinalAck is { } f ? $"status {f.Status}, {f.DeviceCount} device(s), {f.BytesWritten} bytes written" : "";
                table.AddRow((i++).ToString(CultureInfo.InvariantCulture), m.Type.ToString(), m.Device == 0 ? "" : m.Device.ToString(CultureInfo.InvariantCulture),
                    m.Device == 0 ? "" : m.Epoch.ToString(CultureInfo.InvariantCulture),
                    m.Type is ChunkType.Ack or ChunkType.Window ? m.BytesWritten.ToString(CultureInfo.InvariantCulture) : "", Markup.Escape(detail));
            }
            AnsiConsole.Write(table);
            if (scan.Fault is { } fault)
            {
                AnsiConsole.MarkupLine($"[red]stream error[/] {Markup.Escape(StreamFiles.Describe(fault, path))}");
                Console.Error.WriteLine($"streamkit inspect: {StreamFiles.Describe(fault, path)}");
            }
        }
        return scan.Ok ? ExitCodes.Success : ExitCodes.StreamError;
    }
}
