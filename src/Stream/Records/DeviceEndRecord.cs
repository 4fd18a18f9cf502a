using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// DEVICE_END payload (spec §4.7): the digest of the device's final epoch. 24 bytes, little-endian:
/// <code>
/// off size field
///   0   8  data_bytes      raw bytes of DATA + ZERO_RUN chunks of the epoch
///   8   8  config_bytes    raw bytes of CONFIG chunks of the epoch
///  16   4  data_crc32c     CRC32C over those data bytes, decoded, in offset order
///  20   4  config_crc32c   CRC32C over the config bytes, decoded, in offset order
/// </code>
/// </summary>
/// <param name="DataBytes">Raw data bytes of the epoch.</param>
/// <param name="ConfigBytes">Raw config bytes of the epoch.</param>
/// <param name="DataCrc">CRC32C of the raw data bytes.</param>
/// <param name="ConfigCrc">CRC32C of the raw config bytes.</param>
public readonly record struct DeviceEndRecord(ulong DataBytes, ulong ConfigBytes, uint DataCrc, uint ConfigCrc)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 24;

    /// <summary>Writes the 24 bytes.</summary>
    public void Encode(Span<byte> destination)
    {
        RecordGuard.EnsureRoom(destination, Size, "DEVICE_END");
        BinaryPrimitives.WriteUInt64LittleEndian(destination, DataBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], ConfigBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], DataCrc);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], ConfigCrc);
    }

    /// <summary>Decodes a DEVICE_END payload.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadPayload"/>: not exactly 24 bytes.</exception>
    public static DeviceEndRecord Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        RecordGuard.ExactLength(source, Size, "DEVICE_END", streamOffset);
        return new DeviceEndRecord(
            BinaryPrimitives.ReadUInt64LittleEndian(source),
            BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[16..]),
            BinaryPrimitives.ReadUInt32LittleEndian(source[20..]));
    }
}
