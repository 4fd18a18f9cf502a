using System.Buffers;

namespace StreamKit.Wire;

/// <summary>
/// Turns a chunk's wire payload into its raw bytes: copy (stored), fill (zero run) or LZ4-decode.
/// Owns one scratch buffer for LZ4 blocks that span input segments, grown on demand up to the limit
/// the reader already enforced, so steady-state decoding allocates nothing.
/// </summary>
internal sealed class PayloadDecoder
{
    private byte[]? _contiguous;

    /// <summary>Decodes into <paramref name="destination"/> (≥ raw_length bytes); returns raw_length.</summary>
    /// <exception cref="StreamFormatException">LZ4 block malformed (<see cref="StreamErrorCode.DecompressionFailed"/>) or liblz4 missing.</exception>
    internal int Decode(in Chunk chunk, Span<byte> destination)
    {
        var header = chunk.Header;
        int raw = (int)header.RawLength;
        if (destination.Length < raw)
            throw new ArgumentException($"destination has {destination.Length} bytes, the chunk decodes to {raw}", nameof(destination));
        if (header.Type == ChunkType.ZeroRun)
        {
            destination[..raw].Clear();
            return raw;
        }
        if (header.Codec == PayloadCodec.Stored)
        {
            chunk.Payload.CopyTo(destination);
            return raw;
        }
        ReadOnlySpan<byte> block = Contiguous(chunk.Payload);
        if (!Lz4Codec.IsAvailable)
            throw new StreamFormatException(StreamErrorCode.CodecUnavailable, chunk.PayloadOffset,
                "LZ4 payload but liblz4.so.1 is missing: install the Debian package liblz4-1");
        int produced = Lz4Codec.Decompress(block, destination[..raw]);
        if (produced != raw)
            throw new StreamFormatException(StreamErrorCode.DecompressionFailed, chunk.PayloadOffset,
                produced < 0 ? $"LZ4 block does not decode within raw_length {raw}" : $"LZ4 block decodes to {produced} bytes, raw_length is {raw}");
        return raw;
    }

    private ReadOnlySpan<byte> Contiguous(in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment) return payload.FirstSpan;
        int length = (int)payload.Length;
        if (_contiguous is null || _contiguous.Length < length)
            _contiguous = GC.AllocateUninitializedArray<byte>(length);
        payload.CopyTo(_contiguous);
        return _contiguous.AsSpan(0, length);
    }
}
