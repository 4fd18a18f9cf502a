using System.Text;
using System.Text.Json;

namespace StreamKit.Transport.Control;

/// <summary>
/// Typed access to the members of one request object; every failure is a
/// <see cref="ControlRequestException"/> naming the member (missing-field, bad-type, bad-value).
/// A member that is JSON null counts as absent. Unknown members are never looked at.
/// </summary>
internal readonly struct JsonFields(JsonElement root, string op, long? id)
{
    private ControlRequestException Fail(ControlErrorCode code, string field, string message) =>
        new(code, $"{op}: \"{field}\" {message}", field, id);

    private bool TryGet(string field, out JsonElement value) =>
        root.TryGetProperty(field, out value) && value.ValueKind != JsonValueKind.Null;

    private JsonElement Required(string field) =>
        TryGet(field, out var value) ? value : throw Fail(ControlErrorCode.MissingField, field, "is required");

    internal string RequiredString(string field, int minBytes, int maxBytes) =>
        ReadString(field, Required(field), minBytes, maxBytes);

    internal string? OptionalString(string field, int maxBytes) =>
        TryGet(field, out var value) ? ReadString(field, value, 0, maxBytes) : null;

    private string ReadString(string field, JsonElement value, int minBytes, int maxBytes)
    {
        if (value.ValueKind != JsonValueKind.String) throw Fail(ControlErrorCode.BadType, field, $"must be a string, not {Kind(value)}");
        string text;
        try
        {
            text = value.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            // Escapes that decode to invalid UTF-16 (lone surrogates).
            throw new ControlRequestException(ControlErrorCode.BadValue, $"{op}: \"{field}\" is not valid Unicode text", field, id, e);
        }
        int bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes < minBytes || bytes > maxBytes)
            throw Fail(ControlErrorCode.BadValue, field, $"must be {minBytes}-{maxBytes} UTF-8 bytes, got {bytes}");
        return text;
    }

    internal ulong RequiredUInt64(string field) => ReadUInt64(field, Required(field), ulong.MaxValue);

    internal ulong? OptionalUInt64(string field) => TryGet(field, out var value) ? ReadUInt64(field, value, ulong.MaxValue) : null;

    internal uint RequiredUInt32(string field) => (uint)ReadUInt64(field, Required(field), uint.MaxValue);

    internal int OptionalInt32(string field, int min, int max, int fallback)
    {
        if (!TryGet(field, out var value)) return fallback;
        if (value.ValueKind != JsonValueKind.Number) throw Fail(ControlErrorCode.BadType, field, $"must be an integer, not {Kind(value)}");
        if (!value.TryGetInt32(out int n) || n < min || n > max)
            throw Fail(ControlErrorCode.BadValue, field, $"must be an integer {min}-{max}, got {Truncate(value.GetRawText())}");
        return n;
    }

    internal int RequiredInt32(string field, int min, int max)
    {
        _ = Required(field);
        return OptionalInt32(field, min, max, 0);
    }

    /// <summary>A wire device id: integer 1-65535.</summary>
    internal ushort RequiredDevice(string field = "device")
    {
        var value = Required(field);
        if (value.ValueKind != JsonValueKind.Number) throw Fail(ControlErrorCode.BadType, field, $"must be an integer, not {Kind(value)}");
        if (!value.TryGetUInt16(out ushort device) || device == 0)
            throw Fail(ControlErrorCode.BadValue, field, $"must be a device id 1-65535, got {Truncate(value.GetRawText())}");
        return device;
    }

    private ulong ReadUInt64(string field, JsonElement value, ulong max)
    {
        if (value.ValueKind != JsonValueKind.Number) throw Fail(ControlErrorCode.BadType, field, $"must be an integer, not {Kind(value)}");
        if (!value.TryGetUInt64(out ulong n) || n > max)
            throw Fail(ControlErrorCode.BadValue, field, $"must be an integer 0-{max}, got {Truncate(value.GetRawText())}");
        return n;
    }

    internal bool RequiredBool(string field) => ReadBool(field, Required(field));

    internal bool OptionalBool(string field, bool fallback) => TryGet(field, out var value) ? ReadBool(field, value) : fallback;

    private bool ReadBool(string field, JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Fail(ControlErrorCode.BadType, field, $"must be true or false, not {Kind(value)}"),
    };

    /// <summary>True when the member is present and not null.</summary>
    internal bool Has(string field) => TryGet(field, out _);

    private static string Kind(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static string Truncate(string text) => text.Length <= 40 ? text : text[..40] + "…";
}
