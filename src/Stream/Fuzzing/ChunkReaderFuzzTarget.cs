using System.Buffers;

namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// <see cref="ChunkReader"/> over one whole forward channel, fed twice: in one segment, and cut into
/// segments derived from the input's CRC (so the cut is reproducible from the bytes alone).
/// Invariants: only <see cref="StreamFormatException"/> escapes, with a spec code and an offset
/// inside the input; both feeds give the same chunks and the same error at the same offset (the
/// result does not depend on how bytes arrive); every chunk is contiguous with the previous one,
/// its header re-encodes to the input bytes, its payload is exactly the input bytes there and matches
/// its CRC by an independent bitwise CRC32C; payload decoding fails only with DecompressionFailed and
/// otherwise yields raw_length bytes; allocation stays within the local payload limit plus a constant.
/// </summary>
internal sealed class ChunkReaderFuzzTarget : IFuzzTarget
{
    public static string Name => "chunk-reader";

    /// <summary>Local payload limit of the fuzzed reader (the announced max_payload may be anything).</summary>
    internal const uint LocalMaxPayload = 64 * 1024;
    private const long AllocationBound = LocalMaxPayload + 64 * 1024;
    private static readonly ChunkReaderOptions Options = new() { MaxPayload = LocalMaxPayload };

    [ThreadStatic] private static byte[]? t_decoded;

    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        byte[] data = input.ToArray();
        var whole = Read(data, mode: 0, seed: 0);
        uint crc = Crc32C.Compute(input);
        var split = Read(data, mode: 1 + (int)(crc % (FuzzInput.SegmentModes - 1)), seed: crc);
        if (whole != split)
            throw new FuzzInvariantException(Name, $"the result depends on segmentation: in one piece {whole}, in pieces {split}");
    }

    private static FuzzOutcome Read(byte[] data, int mode, ulong seed)
    {
        var pump = new ChannelPump(data, mode, seed);
        var reader = new ChunkReader(Options);
        var decoded = t_decoded ??= new byte[LocalMaxPayload];
        long chunks = 0, expectedAt = -1;
        uint digest = 0;
        bool terminal = false;
        var meter = AllocationMeter.Start();
        try
        {
            while (true)
            {
                var buffer = pump.Arrive(out bool last);
                while (reader.TryReadChunk(ref buffer, out var chunk))
                {
                    meter.Pause();
                    if (terminal) throw new FuzzInvariantException(Name, $"chunk {chunk} after the channel's terminal chunk");
                    if (expectedAt < 0) expectedAt = Preamble.PeekLength(data);
                    CheckChunk(data, chunk, chunks, expectedAt);
                    expectedAt = chunk.PayloadOffset + chunk.Header.WireLength;
                    digest = Crc32C.Append(digest, data.AsSpan((int)chunk.StreamOffset, ChunkHeader.Size));
                    terminal = ChunkTypeRules.IsTerminal(chunk.Header.Type);
                    chunks++;
                    meter.Resume();
                    Decode(reader, chunk, decoded, meter);
                }
                pump.Consumed(buffer.Start);
                if (!last) continue;
                reader.Finish(buffer);
                break;
            }
        }
        catch (StreamFormatException e)
        {
            meter.Check(Name, AllocationBound, "reading a channel");
            FuzzChecks.TypedError(Name, e, data.Length);
            return FuzzOutcome.Failed(e, chunks, digest);
        }
        meter.Check(Name, AllocationBound, "reading a channel");
        if (!terminal || !reader.IsEnded || reader.Position != data.Length)
            throw new FuzzInvariantException(Name, $"Finish accepted a channel that did not end with its terminal chunk (ended: {reader.IsEnded}, position {reader.Position} of {data.Length})");
        return new FuzzOutcome(true, StreamErrorCode.None, reader.Position, chunks, digest);
    }

    private static void CheckChunk(byte[] data, in Chunk chunk, long index, long expectedAt)
    {
        var h = chunk.Header;
        if (chunk.Index != index) throw FuzzChecks.Mismatch(Name, "chunk index", index, chunk.Index);
        if (chunk.StreamOffset != expectedAt) throw FuzzChecks.Mismatch(Name, $"offset of chunk #{index}", expectedAt, chunk.StreamOffset);
        if (chunk.Payload.Length != h.WireLength) throw FuzzChecks.Mismatch(Name, $"payload length of {chunk}", h.WireLength, chunk.Payload.Length);
        if (h.WireLength > LocalMaxPayload || h.RawLength > LocalMaxPayload)
            throw new FuzzInvariantException(Name, $"{chunk} passed lengths over the local limit {LocalMaxPayload}");
        if (chunk.PayloadOffset + h.WireLength > data.Length)
            throw new FuzzInvariantException(Name, $"{chunk} extends past the end of the input");
        Span<byte> encoded = stackalloc byte[ChunkHeader.Size];
        h.Encode(encoded);
        if (!encoded.SequenceEqual(data.AsSpan((int)chunk.StreamOffset, ChunkHeader.Size)))
            throw new FuzzInvariantException(Name, $"{chunk}: the decoded header is not the input's header bytes");
        var expected = data.AsSpan((int)chunk.PayloadOffset, (int)h.WireLength);
        long at = 0;
        foreach (var segment in chunk.Payload)
        {
            if (!segment.Span.SequenceEqual(expected.Slice((int)at, segment.Length)))
                throw new FuzzInvariantException(Name, $"{chunk}: payload bytes differ from the input at payload offset {at}");
            at += segment.Length;
        }
        uint reference = h.WireLength == 0 ? 0 : ReferenceCrc32C.Append(0, expected);
        if (reference != h.PayloadCrc)
            throw new FuzzInvariantException(Name, $"{chunk} was returned although its payload CRC 0x{h.PayloadCrc:X8} is wrong (bitwise CRC32C 0x{reference:X8})");
    }

    private static void Decode(ChunkReader reader, in Chunk chunk, byte[] destination, AllocationMeter meter)
    {
        var h = chunk.Header;
        if (!chunk.IsKnownType || h.Type is not (ChunkType.Data or ChunkType.ZeroRun or ChunkType.Config)) return;
        try
        {
            int n = reader.DecodePayload(chunk, destination);
            if (n != h.RawLength) throw FuzzChecks.Mismatch(Name, $"decoded length of {chunk}", h.RawLength, n);
            if (h.Type == ChunkType.ZeroRun && destination.AsSpan(0, n).ContainsAnyExcept((byte)0))
                throw new FuzzInvariantException(Name, $"{chunk} decoded to non-zero bytes");
            if (h.Codec == PayloadCodec.Stored && h.Type != ChunkType.ZeroRun && !chunk.Payload.FirstSpan.SequenceEqual(destination.AsSpan(0, chunk.Payload.FirstSpan.Length)))
                throw new FuzzInvariantException(Name, $"stored {chunk} decoded to other bytes");
        }
        catch (StreamFormatException e) when (e.Code is StreamErrorCode.DecompressionFailed && h.Codec == PayloadCodec.Lz4)
        {
            if (e.StreamOffset != chunk.PayloadOffset) throw FuzzChecks.Mismatch(Name, "DecompressionFailed offset", chunk.PayloadOffset, e.StreamOffset);
        }
    }

    public static byte[] Generate(ulong seed, long iteration)
    {
        var c = Generators.Forward.Generate(seed, iteration);
        return c.Channels[FuzzRandom.For(seed, iteration, 11).Next(c.Channels.Count)];
    }
}
