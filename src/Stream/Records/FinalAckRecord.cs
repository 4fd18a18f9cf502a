using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// FINAL_ACK payload (spec §6.4): the receiver's last word. 16 bytes, little-endian:
/// <code>
/// off size field
///   0   4  status          0 = every device verified and committed; otherwise a StreamErrorCode
///   4   4  device_count    devices committed
///   8   8  bytes_written   raw data bytes written into destination devices (final epochs)
/// </code>
/// </summary>
/// <param name="Status"><see cref="StreamErrorCode.None"/> when everything was committed.</param>
/// <param name="DeviceCount">Devices committed.</param>
/// <param name="BytesWritten">Raw data bytes written into the destination devices.</param>
public readonly record struct FinalAckRecord(StreamErrorCode Status, uint DeviceCount, ulong BytesWritten)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 16;

    /// <summary>Writes the 16 bytes.</summary>
    public void Encode(Span<byte> destination)
    {
        RecordGuard.EnsureRoom(destination, Size, "FINAL_ACK");
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Status);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], DeviceCount);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], BytesWritten);
    }

    /// <summary>Decodes a FINAL_ACK payload.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadPayload"/>: not exactly 16 bytes.</exception>
    public static FinalAckRecord Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        RecordGuard.ExactLength(source, Size, "FINAL_ACK", streamOffset);
        return new FinalAckRecord(
            (StreamErrorCode)BinaryPrimitives.ReadUInt32LittleEndian(source),
            BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[8..]));
    }
}
