using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// WINDOW payload (return path, spec §6.5): how many forward bytes the receiver has finished with, so
/// the sender can keep (bytes sent − bytes consumed) within the receive window announced in the
/// return-path preamble. 8 bytes, little-endian:
/// <code>
/// off size field
///   0   8  consumed_bytes   cumulative header + payload bytes of device-scoped forward chunks, all
///                           channels, that the receiver applied or dropped (never decreases)
/// </code>
/// </summary>
/// <param name="ConsumedBytes">Cumulative consumed forward bytes.</param>
public readonly record struct WindowRecord(ulong ConsumedBytes)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 8;

    /// <summary>Writes the 8 bytes.</summary>
    public void Encode(Span<byte> destination)
    {
        RecordGuard.EnsureRoom(destination, Size, "WINDOW");
        BinaryPrimitives.WriteUInt64LittleEndian(destination, ConsumedBytes);
    }

    /// <summary>Decodes a WINDOW payload.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadPayload"/>: not exactly 8 bytes.</exception>
    public static WindowRecord Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        RecordGuard.ExactLength(source, Size, "WINDOW", streamOffset);
        return new WindowRecord(BinaryPrimitives.ReadUInt64LittleEndian(source));
    }
}
