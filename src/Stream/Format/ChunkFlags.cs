namespace StreamKit.Wire;

/// <summary>
/// The chunk header's flags byte (offset 5). Layout:
/// <code>
/// bit 0     OPTIONAL   an unknown type with this bit is skipped; without it, it is an error
/// bits 1-2  CODEC      0 = stored, 1 = LZ4 block, 2-3 reserved (error)
/// bit 3     STOP_COPY  data/zero-run produced in STOP_COPY (clear: PRE_COPY)
/// bits 4-7  reserved   writers write 0; readers reject non-zero
/// </code>
/// </summary>
[Flags]
public enum ChunkFlags : byte
{
    /// <summary>No flags: mandatory, stored, pre-copy phase.</summary>
    None = 0,
    /// <summary>Receivers that do not know the chunk type skip it.</summary>
    Optional = 1 << 0,
    /// <summary>Payload is one LZ4 block (codec field = 1).</summary>
    Lz4 = 1 << 1,
    /// <summary>Payload was read in STOP_COPY (data and zero-run only).</summary>
    StopCopy = 1 << 3,
}

/// <summary>Payload codecs (chunk flags bits 1–2).</summary>
public enum PayloadCodec : byte
{
    /// <summary>Payload bytes are the raw bytes.</summary>
    Stored = 0,
    /// <summary>Payload is a single LZ4 block that decodes to exactly raw-length bytes.</summary>
    Lz4 = 1,
}

internal static class ChunkFlagBits
{
    internal const byte CodecMask = 0b0000_0110;
    internal const int CodecShift = 1;
    internal const byte ReservedMask = 0b1111_0000;

    internal static PayloadCodec Codec(this ChunkFlags flags) => (PayloadCodec)(((byte)flags & CodecMask) >> CodecShift);
}
