using System.Buffers.Binary;

namespace StreamKit.Wire;

/// <summary>Why a sender discarded a device's earlier epochs (DISCARD reason field).</summary>
public enum DiscardReason : uint
{
    /// <summary>The source device was reset during pre-copy; its saving session died (ENODEV).</summary>
    SourceDeviceReset = 1,
    /// <summary>The source's saving session ended for another reason and was restarted.</summary>
    SourceSessionEnded = 2,
}

/// <summary>
/// DISCARD payload (spec §4.6). The header's epoch field is the new epoch N ≥ 1. 16 bytes, little-endian:
/// <code>
/// off size field
///   0   4  reason            DiscardReason (non-zero; unknown values are accepted and reported)
///   4   4  reserved          0
///   8   8  bytes_discarded   raw data bytes of this device the sender sent in epochs &lt; N (diagnostic)
/// </code>
/// </summary>
/// <param name="Reason">Why the earlier epochs were dropped.</param>
/// <param name="BytesDiscarded">Raw data bytes of all earlier epochs of the device.</param>
public readonly record struct DiscardRecord(DiscardReason Reason, ulong BytesDiscarded)
{
    /// <summary>Encoded size.</summary>
    public const int Size = 16;

    /// <summary>Writes the 16 bytes.</summary>
    public void Encode(Span<byte> destination)
    {
        RecordGuard.EnsureRoom(destination, Size, "DISCARD");
        BinaryPrimitives.WriteUInt32LittleEndian(destination, (uint)Reason);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], 0);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], BytesDiscarded);
    }

    /// <summary>Decodes a DISCARD payload.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadPayload"/>: wrong length, reason 0, reserved ≠ 0.</exception>
    public static DiscardRecord Decode(ReadOnlySpan<byte> source, long streamOffset)
    {
        RecordGuard.ExactLength(source, Size, "DISCARD", streamOffset);
        uint reason = BinaryPrimitives.ReadUInt32LittleEndian(source);
        if (reason == 0)
            throw new StreamFormatException(StreamErrorCode.BadPayload, streamOffset, "DISCARD reason 0");
        RecordGuard.Reserved(BinaryPrimitives.ReadUInt32LittleEndian(source[4..]), "DISCARD", streamOffset + 4);
        return new DiscardRecord((DiscardReason)reason, BinaryPrimitives.ReadUInt64LittleEndian(source[8..]));
    }
}
