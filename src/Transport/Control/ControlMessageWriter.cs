using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace StreamKit.Transport.Control;

/// <summary>
/// Serializes replies and events as single lines: compact JSON (strings escape every control
/// character, so no raw LF can appear inside) followed by one LF. Non-ASCII text and quotes are
/// written readably (the relaxed encoder is "unsafe" only for embedding in HTML, which this is not).
/// </summary>
internal static class ControlMessageWriter
{
    private static readonly JsonWriterOptions Options = new()
    {
        Indented = false,
        SkipValidation = false,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary><c>{"id":N,"ok":true,...}</c>.</summary>
    internal static byte[] OkReply(long id, ControlReply? reply) => Line(w =>
    {
        w.WriteNumber("id", id);
        w.WriteBoolean("ok", true);
        reply?.WriteFields(w);
    });

    /// <summary><c>{"id":N|null,"ok":false,"error":{"code":"...","message":"...","field":"..."}}</c>.</summary>
    internal static byte[] ErrorReply(long? id, ControlErrorCode code, string message, string? field = null) => Line(w =>
    {
        if (id is { } value) w.WriteNumber("id", value);
        else w.WriteNull("id");
        w.WriteBoolean("ok", false);
        w.WriteStartObject("error");
        w.WriteString("code", code.Name());
        w.WriteString("message", message);
        if (field is not null) w.WriteString("field", field);
        w.WriteEndObject();
    });

    /// <summary><c>{"event":"name",...}</c>.</summary>
    internal static byte[] Event(ControlEvent e) => Line(w =>
    {
        w.WriteString("event", e.Name);
        e.WriteFields(w);
    });

    /// <summary>A request line (client side): <c>{"id":N,"op":"name",...}</c>.</summary>
    internal static byte[] Request(long id, string op, Action<Utf8JsonWriter>? fields) => Line(w =>
    {
        w.WriteNumber("id", id);
        w.WriteString("op", op);
        fields?.Invoke(w);
    });

    private static byte[] Line(Action<Utf8JsonWriter> body)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, Options))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        buffer.Write("\n"u8);
        return buffer.WrittenSpan.ToArray();
    }
}
