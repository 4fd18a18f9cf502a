using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace StreamKit.Wire;

/// <summary>
/// The fixed 48-byte chunk header (spec/wire-format.md §3). Little-endian, 8-byte aligned,
/// independent of the payload codec:
/// <code>
/// off size field
///   0   4  sync           0x48434B53 ("SKCH" in stream order)
///   4   1  type           ChunkType
///   5   1  flags          ChunkFlags
///   6   2  device         device id (0 for stream-scoped chunks)
///   8   4  epoch          discard generation of the device (0 for stream-scoped chunks)
///  12   4  reserved       0
///  16   8  sequence       per-device, per-epoch chunk number, from 0
///  24   8  offset         offset of the payload in the device's current-epoch byte stream
///  32   4  wire_length    payload bytes that follow the header
///  36   4  raw_length     bytes the payload decodes to (zero-run: run length)
///  40   4  payload_crc    CRC32C of the wire_length payload bytes as sent
///  44   4  header_crc     CRC32C of bytes 0..43
/// </code>
/// </summary>
public readonly record struct ChunkHeader(
    ChunkType Type,
    ChunkFlags Flags,
    ushort Device,
    uint Epoch,
    ulong Sequence,
    ulong Offset,
    uint WireLength,
    uint RawLength,
    uint PayloadCrc)
{
    /// <summary>Encoded size of every chunk header.</summary>
    public const int Size = 48;

    /// <summary>Sync word; the bytes "SKCH" read as a little-endian u32.</summary>
    public const uint SyncWord = 0x48434B53;

    internal const int SyncOffset = 0;
    internal const int TypeOffset = 4;
    internal const int FlagsOffset = 5;
    internal const int DeviceOffset = 6;
    internal const int EpochOffset = 8;
    internal const int ReservedOffset = 12;
    internal const int SequenceOffset = 16;
    internal const int OffsetOffset = 24;
    internal const int WireLengthOffset = 32;
    internal const int RawLengthOffset = 36;
    internal const int PayloadCrcOffset = 40;
    internal const int HeaderCrcOffset = 44;

    /// <summary>The payload codec encoded in <see cref="Flags"/>.</summary>
    public PayloadCodec Codec => Flags.Codec();

    /// <summary>Writes the 48 header bytes, computing the header CRC.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Encode(Span<byte> destination)
    {
        if (destination.Length < Size) ThrowTooSmall();
        destination = destination[..Size];
        BinaryPrimitives.WriteUInt32LittleEndian(destination[SyncOffset..], SyncWord);
        destination[TypeOffset] = (byte)Type;
        destination[FlagsOffset] = (byte)Flags;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[DeviceOffset..], Device);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[EpochOffset..], Epoch);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[ReservedOffset..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[SequenceOffset..], Sequence);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[OffsetOffset..], Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[WireLengthOffset..], WireLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[RawLengthOffset..], RawLength);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[PayloadCrcOffset..], PayloadCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[HeaderCrcOffset..], Crc32C.Compute(destination[..HeaderCrcOffset]));
    }

    /// <summary>
    /// Decodes and checks a header: sync word, header CRC, reserved bits and codec.
    /// Length limits and per-type rules are the reader's and validator's job.
    /// </summary>
    /// <param name="source">At least <see cref="Size"/> bytes.</param>
    /// <param name="streamOffset">Absolute offset of <paramref name="source"/>[0], for the error.</param>
    /// <exception cref="StreamFormatException">The header is malformed.</exception>
    public static ChunkHeader Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        if (source.Length < Size)
            throw new StreamFormatException(StreamErrorCode.TruncatedHeader, streamOffset, $"need {Size} header bytes, have {source.Length}");
        source = source[..Size];
        uint sync = BinaryPrimitives.ReadUInt32LittleEndian(source[SyncOffset..]);
        if (sync != SyncWord)
            throw new StreamFormatException(StreamErrorCode.BadSync, streamOffset, $"expected sync 0x{SyncWord:X8}, found 0x{sync:X8}");
        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(source[HeaderCrcOffset..]);
        uint actual = Crc32C.Compute(source[..HeaderCrcOffset]);
        if (stored != actual)
            throw new StreamFormatException(StreamErrorCode.HeaderChecksumMismatch, streamOffset, $"header CRC32C 0x{stored:X8}, computed 0x{actual:X8}");
        var flags = (ChunkFlags)source[FlagsOffset];
        if (((byte)flags & ChunkFlagBits.ReservedMask) != 0 || flags.Codec() > PayloadCodec.Lz4)
            throw new StreamFormatException(StreamErrorCode.BadFlags, streamOffset + FlagsOffset, $"flags 0x{(byte)flags:X2} use reserved bits or codec");
        if (BinaryPrimitives.ReadUInt32LittleEndian(source[ReservedOffset..]) != 0)
            throw new StreamFormatException(StreamErrorCode.BadHeaderField, streamOffset + ReservedOffset, "reserved header field is not zero");
        return new ChunkHeader(
            (ChunkType)source[TypeOffset],
            flags,
            BinaryPrimitives.ReadUInt16LittleEndian(source[DeviceOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[EpochOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[SequenceOffset..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[OffsetOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[WireLengthOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[RawLengthOffset..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[PayloadCrcOffset..]));
    }

    private static void ThrowTooSmall() => throw new ArgumentException($"a chunk header needs {Size} bytes", "destination");
}
