using System.Buffers.Binary;

namespace StreamKit.Wire.Fuzzing;

/// <summary>Which CRCs are recomputed after mutation: all (so faults reach the deeper layers), none, or one kind.</summary>
internal enum SealMode
{
    All,
    None,
    PayloadsOnly,
    HeadersOnly,
}

/// <summary>
/// One chunk of a <see cref="ChannelImage"/>: its 48 header bytes and its payload, editable field by
/// field. Sealing recomputes the payload CRC and then the header CRC unless a mutation pinned them.
/// </summary>
internal sealed class ChunkImage
{
    internal ChunkImage(byte[] header, byte[] payload)
    {
        Header = header;
        Payload = payload;
    }

    internal byte[] Header { get; }
    internal byte[] Payload { get; set; }
    /// <summary>Stray bytes serialized in front of the header (garbage between chunks).</summary>
    internal byte[] Before { get; set; } = [];
    /// <summary>A mutation chose this chunk's payload CRC: sealing keeps it.</summary>
    internal bool KeepPayloadCrc { get; set; }
    /// <summary>A mutation chose this chunk's header CRC or sync word: sealing keeps it.</summary>
    internal bool KeepHeaderCrc { get; set; }

    internal ChunkImage Clone() => new((byte[])Header.Clone(), (byte[])Payload.Clone())
    {
        Before = (byte[])Before.Clone(), KeepPayloadCrc = KeepPayloadCrc, KeepHeaderCrc = KeepHeaderCrc,
    };

    internal ChunkType Type { get => (ChunkType)Header[ChunkHeader.TypeOffset]; set => Header[ChunkHeader.TypeOffset] = (byte)value; }
    internal ChunkFlags Flags { get => (ChunkFlags)Header[ChunkHeader.FlagsOffset]; set => Header[ChunkHeader.FlagsOffset] = (byte)value; }
    internal ushort Device { get => BinaryPrimitives.ReadUInt16LittleEndian(Header.AsSpan(ChunkHeader.DeviceOffset)); set => BinaryPrimitives.WriteUInt16LittleEndian(Header.AsSpan(ChunkHeader.DeviceOffset), value); }
    internal uint Epoch { get => U32(ChunkHeader.EpochOffset); set => U32(ChunkHeader.EpochOffset, value); }
    internal uint Reserved { get => U32(ChunkHeader.ReservedOffset); set => U32(ChunkHeader.ReservedOffset, value); }
    internal ulong Sequence { get => U64(ChunkHeader.SequenceOffset); set => U64(ChunkHeader.SequenceOffset, value); }
    internal ulong Offset { get => U64(ChunkHeader.OffsetOffset); set => U64(ChunkHeader.OffsetOffset, value); }
    internal uint WireLength { get => U32(ChunkHeader.WireLengthOffset); set => U32(ChunkHeader.WireLengthOffset, value); }
    internal uint RawLength { get => U32(ChunkHeader.RawLengthOffset); set => U32(ChunkHeader.RawLengthOffset, value); }
    internal uint PayloadCrc { get => U32(ChunkHeader.PayloadCrcOffset); set => U32(ChunkHeader.PayloadCrcOffset, value); }
    internal uint HeaderCrc { get => U32(ChunkHeader.HeaderCrcOffset); set => U32(ChunkHeader.HeaderCrcOffset, value); }
    internal uint Sync { get => U32(ChunkHeader.SyncOffset); set => U32(ChunkHeader.SyncOffset, value); }

    /// <summary>Short label for mutation descriptions.</summary>
    internal string Label => $"{ChunkTypeRules.Name(Type)} dev={Device} epoch={Epoch} seq={Sequence}";

    /// <summary>Replaces the payload and sets wire_length (and raw_length too when stored).</summary>
    internal void SetPayload(byte[] payload, bool alsoRaw)
    {
        Payload = payload;
        WireLength = (uint)payload.Length;
        if (alsoRaw) RawLength = (uint)payload.Length;
    }

    internal void Seal(SealMode mode)
    {
        if (!KeepPayloadCrc && mode is SealMode.All or SealMode.PayloadsOnly) PayloadCrc = Payload.Length == 0 ? 0 : Crc32C.Compute(Payload);
        if (!KeepHeaderCrc && mode is SealMode.All or SealMode.HeadersOnly) HeaderCrc = Crc32C.Compute(Header.AsSpan(0, ChunkHeader.HeaderCrcOffset));
    }

    private uint U32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(Header.AsSpan(at));
    private void U32(int at, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Header.AsSpan(at), value);
    private ulong U64(int at) => BinaryPrimitives.ReadUInt64LittleEndian(Header.AsSpan(at));
    private void U64(int at, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Header.AsSpan(at), value);
}

/// <summary>
/// A channel taken apart for structure-aware mutation: the preamble bytes, the chunks, and whatever
/// trailing bytes did not parse. Parsing is lenient (it only follows sync words and wire_length), so
/// it also takes apart streams that are already damaged.
/// </summary>
internal sealed class ChannelImage
{
    internal byte[] Preamble { get; set; } = [];
    internal List<ChunkImage> Chunks { get; } = [];
    internal byte[] Tail { get; set; } = [];
    /// <summary>A mutation chose the preamble CRC: sealing keeps it.</summary>
    internal bool KeepPreambleCrc { get; set; }

    internal static ChannelImage Parse(ReadOnlySpan<byte> bytes)
    {
        var image = new ChannelImage();
        int preambleLength = Wire.Preamble.Size;
        if (bytes.Length >= Wire.Preamble.FixedPrefix)
        {
            uint declared = BinaryPrimitives.ReadUInt32LittleEndian(bytes[Wire.Preamble.LengthOffset..]);
            if (declared >= Wire.Preamble.FixedPrefix + 4 && declared <= Wire.Preamble.MaxLength) preambleLength = (int)declared;
        }
        preambleLength = Math.Min(preambleLength, bytes.Length);
        image.Preamble = bytes[..preambleLength].ToArray();
        int at = preambleLength;
        while (bytes.Length - at >= ChunkHeader.Size)
        {
            var header = bytes.Slice(at, ChunkHeader.Size);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) != ChunkHeader.SyncWord) break;
            uint wire = BinaryPrimitives.ReadUInt32LittleEndian(header[ChunkHeader.WireLengthOffset..]);
            if (wire > bytes.Length - at - ChunkHeader.Size) break;
            image.Chunks.Add(new ChunkImage(header.ToArray(), bytes.Slice(at + ChunkHeader.Size, (int)wire).ToArray()));
            at += ChunkHeader.Size + (int)wire;
        }
        image.Tail = bytes[at..].ToArray();
        return image;
    }

    internal ChannelImage Clone()
    {
        var copy = new ChannelImage { Preamble = (byte[])Preamble.Clone(), Tail = (byte[])Tail.Clone(), KeepPreambleCrc = KeepPreambleCrc };
        foreach (var chunk in Chunks) copy.Chunks.Add(chunk.Clone());
        return copy;
    }

    /// <summary>Serializes, first giving the preamble and chunks fresh CRCs as <paramref name="mode"/> says (pinned ones stay).</summary>
    internal byte[] ToBytes(SealMode mode)
    {
        if (mode != SealMode.None) SealPreamble();
        foreach (var chunk in Chunks) chunk.Seal(mode);
        long total = Preamble.Length + Tail.Length;
        foreach (var chunk in Chunks) total += chunk.Before.Length + ChunkHeader.Size + chunk.Payload.Length;
        var bytes = new byte[total];
        int at = 0;
        Preamble.CopyTo(bytes, at);
        at += Preamble.Length;
        foreach (var chunk in Chunks)
        {
            chunk.Before.CopyTo(bytes, at);
            at += chunk.Before.Length;
            chunk.Header.CopyTo(bytes, at);
            chunk.Payload.CopyTo(bytes, at + ChunkHeader.Size);
            at += ChunkHeader.Size + chunk.Payload.Length;
        }
        Tail.CopyTo(bytes, at);
        return bytes;
    }

    internal void SealPreamble()
    {
        if (KeepPreambleCrc || Preamble.Length < Wire.Preamble.FixedPrefix + 4) return;
        int crcAt = Preamble.Length - 4;
        BinaryPrimitives.WriteUInt32LittleEndian(Preamble.AsSpan(crcAt), Crc32C.Compute(Preamble.AsSpan(0, crcAt)));
    }

    /// <summary>Makes STREAM_END agree with the chunks now on the channel (chunks_before, device_bytes).</summary>
    internal void FixStreamEndTotals()
    {
        ulong deviceBytes = 0;
        for (int i = 0; i < Chunks.Count; i++)
        {
            var chunk = Chunks[i];
            if (chunk.Type == ChunkType.StreamEnd && chunk.Payload.Length == StreamEndRecord.Size)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(chunk.Payload.AsSpan(8), (ulong)i);
                BinaryPrimitives.WriteUInt64LittleEndian(chunk.Payload.AsSpan(16), deviceBytes);
            }
            if (chunk.Type is ChunkType.Data or ChunkType.ZeroRun) deviceBytes += chunk.RawLength;
        }
    }
}
