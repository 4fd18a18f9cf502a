using System.Text.Json;

namespace StreamKit.Cli;

/// <summary>
/// <c>--json</c> output: one JSON object per line on stdout, each written whole and flushed at once,
/// so a script can read line by line while the command runs. Every object has an <c>"event"</c>
/// member ("listening", "progress", "result", …). Thread-safe.
/// </summary>
internal static class JsonLines
{
    private static readonly object Gate = new();
    private static Stream _out = Console.OpenStandardOutput();

    /// <summary>Sends the lines to stderr instead (stdout carries the stream itself: save --to file:/dev/stdout).</summary>
    internal static void UseStderr() => _out = Console.OpenStandardError();

    /// <summary>Writes <c>{"event":name, …}</c> with the members <paramref name="body"/> adds.</summary>
    internal static void Write(string name, Action<Utf8JsonWriter> body)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = false }))
        {
            w.WriteStartObject();
            w.WriteString("event", name);
            body(w);
            w.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        lock (Gate)
        {
            _out.Write(buffer.GetBuffer(), 0, (int)buffer.Length);
            _out.Flush();
        }
    }

    /// <summary>A digest as the 16-digit hex string tests compare.</summary>
    internal static string Hex(ulong value) => value.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
}
