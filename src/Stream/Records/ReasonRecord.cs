using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// ABORT (forward) and ERROR (return path) payload (spec §4.9, §6.3). 8 + text_len bytes, little-endian:
/// <code>
/// off size field
///   0   4  reason     StreamErrorCode, non-zero (unknown values are accepted and reported as numbers)
///   4   4  text_len   ≤ 1024
///   8   n  text       UTF-8, human-readable
/// </code>
/// </summary>
/// <param name="Reason">Why the peer gave up.</param>
/// <param name="Text">Human-readable detail, at most 1024 UTF-8 bytes.</param>
public readonly record struct ReasonRecord(StreamErrorCode Reason, string Text)
{
    /// <summary>Size of the fixed part before the text.</summary>
    public const int HeaderSize = 8;

    /// <summary>Encoded size in bytes.</summary>
    /// <exception cref="ArgumentException">The text is longer than 1024 UTF-8 bytes.</exception>
    public int EncodedLength => HeaderSize + RecordGuard.Utf8Length(Text, WireLimits.MaxReasonTextLength, nameof(Text));

    /// <summary>A record whose text is cut to the 1024-byte limit on a UTF-8 boundary (for messages of unknown length).</summary>
    public static ReasonRecord Create(StreamErrorCode reason, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (reason == StreamErrorCode.None) throw new ArgumentException("a reason record needs a non-zero reason", nameof(reason));
        text = System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(text)); // lone surrogates become U+FFFD
        while (System.Text.Encoding.UTF8.GetByteCount(text) > WireLimits.MaxReasonTextLength)
        {
            int cut = Math.Min(text.Length - 1, WireLimits.MaxReasonTextLength);
            if (cut > 0 && char.IsLowSurrogate(text[cut])) cut--;
            text = text[..cut];
        }
        return new ReasonRecord(reason, text);
    }

    /// <summary>Writes the record; returns the bytes written.</summary>
    public int Encode(Span<byte> destination)
    {
        int textLength = RecordGuard.Utf8Length(Text, WireLimits.MaxReasonTextLength, nameof(Text));
        RecordGuard.EnsureRoom(destination, HeaderSize + textLength, "ABORT/ERROR");
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Reason);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], (uint)textLength);
        RecordGuard.Encode(Text, destination[HeaderSize..]);
        return HeaderSize + textLength;
    }

    /// <summary>Decodes an ABORT or ERROR payload.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadPayload"/>.</exception>
    public static ReasonRecord Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        if (source.Length < HeaderSize)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset, $"ABORT/ERROR payload is {source.Length} bytes, needs at least {HeaderSize}");
        uint reason = BinaryPrimitives.ReadUInt32LittleEndian(source);
        if (reason == 0)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset, "ABORT/ERROR reason 0");
        uint textLength = BinaryPrimitives.ReadUInt32LittleEndian(source[4..]);
        if (textLength > WireLimits.MaxReasonTextLength)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset + 4, $"ABORT/ERROR text_len {textLength} exceeds {WireLimits.MaxReasonTextLength}");
        RecordGuard.ExactLength(source, HeaderSize + (int)textLength, "ABORT/ERROR", streamOffset);
        return new ReasonRecord((StreamErrorCode)reason, RecordGuard.Utf8(source[HeaderSize..], "ABORT/ERROR text", streamOffset + HeaderSize));
    }
}
