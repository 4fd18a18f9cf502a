namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// <see cref="ChunkHeader.Decode"/> and the per-type header rules (spec §3.4) on any bytes. The byte
/// after the 48 header bytes, if present, picks the rules' context: bit 0 the channel role, bit 1
/// whether LZ4 was announced, bits 2-7 the payload limit (4096 · 2^n, capped at 16 MiB).
/// Invariants: only <see cref="StreamFormatException"/> escapes, reported at an offset inside the
/// header; a decoded header re-encodes to exactly its 48 input bytes; nothing is allocated beyond
/// the exception.
/// </summary>
internal sealed class ChunkHeaderFuzzTarget : IFuzzTarget
{
    public static string Name => "chunk-header";

    private const long AllocationBound = 16 * 1024;
    private const long At = 4096; // a stream offset that is not 0, so offsets are checked to be relative to it

    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var meter = AllocationMeter.Start();
        ChunkHeader header;
        try
        {
            header = ChunkHeader.Decode(input, At);
        }
        catch (StreamFormatException e)
        {
            meter.Check(Name, AllocationBound, "decoding a header");
            CheckOffset(e, input.Length);
            return;
        }
        if (input.Length < ChunkHeader.Size) throw new FuzzInvariantException(Name, $"decoded a header from {input.Length} bytes");

        byte context = input.Length > ChunkHeader.Size ? input[ChunkHeader.Size] : (byte)0;
        var role = (context & 1) == 0 ? PreambleRole.Forward : PreambleRole.ReturnPath;
        bool lz4 = (context & 2) != 0;
        uint limit = (uint)Math.Min((long)WireLimits.MinMaxPayload << Math.Min(context >> 2, 20), WireLimits.DefaultMaxPayload);
        try
        {
            ChunkHeaderRules.Check(header, At, role, limit, lz4);
            if (header.WireLength > limit || header.RawLength > limit)
                throw new FuzzInvariantException(Name, $"rules passed lengths {header.WireLength}/{header.RawLength} over the limit {limit}");
        }
        catch (StreamFormatException e)
        {
            CheckOffset(e, ChunkHeader.Size);
        }
        meter.Check(Name, AllocationBound, "checking a header");

        Span<byte> encoded = stackalloc byte[ChunkHeader.Size];
        header.Encode(encoded);
        if (!encoded.SequenceEqual(input[..ChunkHeader.Size]))
            throw new FuzzInvariantException(Name, $"decoded header {header} does not re-encode to its own 48 bytes");
    }

    private static void CheckOffset(StreamFormatException e, int available)
    {
        FuzzChecks.TypedError(Name, e, At + Math.Max(available, ChunkHeader.Size));
        long relative = e.StreamOffset - At;
        long end = e.Code == StreamErrorCode.TruncatedHeader ? 0 : ChunkHeader.Size - 1;
        if (relative < 0 || relative > end)
            throw new FuzzInvariantException(Name, $"{e.Code} reported at header offset {relative}, outside the header");
    }

    public static byte[] Generate(ulong seed, long iteration)
    {
        var rng = FuzzRandom.For(seed, iteration, 10);
        var c = Generators.Forward.Generate(seed, iteration, MutationFocus.Header);
        var channel = c.Channels[rng.Next(c.Channels.Count)];
        var image = ChannelImage.Parse(channel);
        byte context = (byte)rng.Next(256);
        if (image.Chunks.Count == 0 || rng.Chance(5)) return [.. channel.AsSpan(Math.Min(channel.Length, Preamble.Size)), context];
        return [.. image.Chunks[rng.Next(image.Chunks.Count)].Header, context];
    }
}
