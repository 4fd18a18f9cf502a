using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// STREAM_END payload (spec §4.8): the last chunk of every forward channel. 24 bytes, little-endian:
/// <code>
/// off size field
///   0   4  device_count    devices announced in the whole stream (same on every channel)
///   4   4  reserved        0
///   8   8  chunks_before   chunks on this channel before this one (every type, unknown ones too)
///  16   8  device_bytes    raw_length sum of DATA and ZERO_RUN chunks on this channel, all epochs
/// </code>
/// </summary>
/// <param name="DeviceCount">Devices in the stream.</param>
/// <param name="ChunksBefore">Chunks that preceded this one on its channel.</param>
/// <param name="DeviceBytes">Raw data bytes carried on this channel.</param>
public readonly record struct StreamEndRecord(uint DeviceCount, ulong ChunksBefore, ulong DeviceBytes)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 24;

    /// <summary>Writes the 24 bytes.</summary>
    public void Encode(Span<byte> destination)
    {
        RecordGuard.EnsureRoom(destination, Size, "STREAM_END");
        BinaryPrimitives.WriteUInt32LittleEndian(destination, DeviceCount);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], ChunksBefore);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], DeviceBytes);
    }

    /// <summary>Decodes a STREAM_END payload.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadPayload"/>: wrong length or reserved ≠ 0.</exception>
    public static StreamEndRecord Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        RecordGuard.ExactLength(source, Size, "STREAM_END", streamOffset);
        RecordGuard.Reserved(BinaryPrimitives.ReadUInt32LittleEndian(source[4..]), "STREAM_END", streamOffset + 4);
        return new StreamEndRecord(
            BinaryPrimitives.ReadUInt32LittleEndian(source),
            BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[16..]));
    }
}
