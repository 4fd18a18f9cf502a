using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>
/// PRECOPY_INFO payload (spec §4.5): the source's <c>VFIO_MIG_GET_PRECOPY_INFO</c> hints at the
/// header's data offset. 16 bytes, little-endian:
/// <code>
/// off size field
///   0   8  initial_bytes   initial data not yet read (0 = the initial image has been sent)
///   8   8  dirty_bytes     data changed since it was read
/// </code>
/// </summary>
/// <param name="InitialBytes">Initial bytes the source had not yet read.</param>
/// <param name="DirtyBytes">Dirty bytes reported by the source.</param>
public readonly record struct PrecopyInfoRecord(ulong InitialBytes, ulong DirtyBytes)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 16;

    /// <summary>Writes the 16 bytes.</summary>
    public void Encode(Span<byte> destination)
    {
        RecordGuard.EnsureRoom(destination, Size, "PRECOPY_INFO");
        BinaryPrimitives.WriteUInt64LittleEndian(destination, InitialBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], DirtyBytes);
    }

    /// <summary>Decodes a PRECOPY_INFO payload.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadPayload"/>: not exactly 16 bytes.</exception>
    public static PrecopyInfoRecord Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        RecordGuard.ExactLength(source, Size, "PRECOPY_INFO", streamOffset);
        return new PrecopyInfoRecord(BinaryPrimitives.ReadUInt64LittleEndian(source), BinaryPrimitives.ReadUInt64LittleEndian(source[8..]));
    }
}
