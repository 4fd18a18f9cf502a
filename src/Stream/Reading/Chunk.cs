using System.Buffers;

namespace StreamKit.Wire;

/// <summary>
/// One chunk as read from a channel: its checked header and its payload bytes exactly as sent (CRC
/// verified, not decompressed). <see cref="Payload"/> is a slice of the reader's input and is valid
/// only until that input is released (e.g. PipeReader.AdvanceTo).
/// </summary>
public readonly struct Chunk
{
    internal Chunk(in ChunkHeader header, ReadOnlySequence<byte> payload, long streamOffset, long index)
    {
        Header = header;
        Payload = payload;
        StreamOffset = streamOffset;
        Index = index;
    }

    /// <summary>The decoded, checked header.</summary>
    public ChunkHeader Header { get; }

    /// <summary>The wire_length payload bytes (LZ4 block, stored bytes, or empty).</summary>
    public ReadOnlySequence<byte> Payload { get; }

    /// <summary>Absolute channel offset of the chunk header.</summary>
    public long StreamOffset { get; }

    /// <summary>Absolute channel offset of the payload.</summary>
    public long PayloadOffset => StreamOffset + ChunkHeader.Size;

    /// <summary>0-based position of this chunk among the chunks of its channel.</summary>
    public long Index { get; }

    /// <summary>False for an unknown (necessarily OPTIONAL) type, which consumers skip.</summary>
    public bool IsKnownType => ChunkTypeRules.IsKnown(Header.Type);

    /// <inheritdoc/>
    public override string ToString() =>
        $"#{Index} @{StreamOffset} {ChunkTypeRules.Name(Header.Type)} dev={Header.Device} epoch={Header.Epoch} seq={Header.Sequence} off={Header.Offset} wire={Header.WireLength} raw={Header.RawLength} flags=0x{(byte)Header.Flags:X2}";
}
