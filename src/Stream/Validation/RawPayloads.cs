using System.Buffers;

namespace StreamKit.Wire;

/// <summary>
/// Raw bytes and raw CRC of DATA/CONFIG chunks for the validator. Stored payloads are used in place and
/// their raw CRC is the payload CRC the reader already verified; LZ4 payloads are decoded into one
/// reusable buffer (bounded by the reader's length limit) and checksummed.
/// </summary>
internal sealed class RawPayloads
{
    private readonly PayloadDecoder _decoder = new();
    private byte[]? _raw;

    internal ReadOnlySequence<byte> Decode(in Chunk chunk, out uint rawCrc)
    {
        if (chunk.Header.Codec == PayloadCodec.Stored)
        {
            rawCrc = chunk.Header.PayloadCrc;
            return chunk.Payload;
        }
        int length = (int)chunk.Header.RawLength;
        if (_raw is null || _raw.Length < length) _raw = GC.AllocateUninitializedArray<byte>(length);
        _decoder.Decode(chunk, _raw);
        rawCrc = Crc32C.Compute(_raw.AsSpan(0, length));
        return new ReadOnlySequence<byte>(_raw, 0, length);
    }

    /// <summary>A record payload as one span (records are at most <see cref="WireLimits.MaxRecordLength"/> bytes).</summary>
    internal static ReadOnlySpan<byte> Record(in Chunk chunk, Span<byte> scratch)
    {
        var payload = chunk.Payload;
        if (payload.Length > WireLimits.MaxRecordLength)
            throw new StreamFormatException(StreamErrorCode.BadPayload, chunk.PayloadOffset,
                $"{ChunkTypeRules.Name(chunk.Header.Type)} payload is {payload.Length} bytes, longer than any record");
        if (payload.IsSingleSegment) return payload.FirstSpan;
        payload.CopyTo(scratch);
        return scratch[..(int)payload.Length];
    }
}
