using System.Text;

namespace StreamKit.Wire;

/// <summary>Shared checks for payload record decoders: every fault is <see cref="StreamErrorCode.BadPayload"/>.</summary>
internal static class RecordGuard
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    internal static void ExactLength(ReadOnlySpan<byte> source, int expected, string record, long streamOffset)
    {
        if (source.Length != expected)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset, $"{record} payload is {source.Length} bytes, must be {expected}");
    }

    internal static void Reserved(uint value, string record, long streamOffset)
    {
        if (value != 0)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset, $"{record} reserved field is 0x{value:X8}, must be 0");
    }

    /// <summary>Decodes strict UTF-8 (no BOM stripping, invalid sequences rejected).</summary>
    internal static string Utf8(ReadOnlySpan<byte> bytes, string field, long streamOffset)
    {
        try
        {
            return StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset, $"{field} is not valid UTF-8", e);
        }
    }

    /// <summary>UTF-8 byte count of a string the writer is about to encode, with its cap.</summary>
    internal static int Utf8Length(string value, int max, string field)
    {
        ArgumentNullException.ThrowIfNull(value, field);
        int n;
        try
        {
            n = StrictUtf8.GetByteCount(value);
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"{field} is not valid Unicode (lone surrogate)", field, e);
        }
        if (n > max) throw new ArgumentException($"{field} is {n} UTF-8 bytes; the format allows {max}", field);
        return n;
    }

    internal static void EnsureRoom(Span<byte> destination, int needed, string record)
    {
        if (destination.Length < needed) throw new ArgumentException($"{record} needs {needed} bytes, destination has {destination.Length}", nameof(destination));
    }

    internal static int Encode(string value, Span<byte> destination) => StrictUtf8.GetBytes(value, destination);
}
