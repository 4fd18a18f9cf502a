using System.Buffers;

namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// <see cref="Preamble.PeekLength"/> and <see cref="Preamble.Decode"/> on any bytes. Invariants: only
/// <see cref="StreamFormatException"/> escapes, with a spec code and an offset inside the input;
/// Decode and <see cref="ChunkReader.TryReadPreamble"/> (plus Finish) report the same fault at the same
/// offset (the reader adds only its receiver checks, spec §2.3 steps 9-12); a decoded v1.0 preamble
/// re-encodes to the same bytes; allocation stays within a few KiB (no length-sized buffer beyond 4096).
/// </summary>
internal sealed class PreambleFuzzTarget : IFuzzTarget
{
    public static string Name => "preamble";

    private const long AllocationBound = 64 * 1024;
    private static readonly ChunkReaderOptions ReaderOptions = new() { RequireCodecs = false };

    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        byte[] data = input.ToArray();
        var meter = AllocationMeter.Start();
        StreamFormatException? decodeError = null;
        Preamble decoded = default;
        try
        {
            if (input.Length >= Preamble.FixedPrefix)
            {
                int length = Preamble.PeekLength(input);
                if (length < Preamble.Size || length > Preamble.MaxLength || length % 8 != 0)
                    throw new FuzzInvariantException(Name, $"PeekLength returned {length}");
            }
            decoded = Preamble.Decode(input);
        }
        catch (StreamFormatException e)
        {
            decodeError = e;
        }

        StreamFormatException? readerError = null;
        var buffer = new ReadOnlySequence<byte>(data);
        var reader = new ChunkReader(ReaderOptions);
        try
        {
            if (!reader.TryReadPreamble(ref buffer, out _)) reader.Finish(buffer);
        }
        catch (StreamFormatException e)
        {
            readerError = e;
        }
        meter.Check(Name, AllocationBound, "decoding a preamble");

        if (decodeError is not null)
        {
            FuzzChecks.TypedError(Name, decodeError, input.Length);
            if (readerError is null || readerError.Code != decodeError.Code || readerError.StreamOffset != decodeError.StreamOffset)
                throw new FuzzInvariantException(Name, $"Preamble.Decode says {decodeError.Code} at {decodeError.StreamOffset} but the chunk reader says {(readerError is null ? "ok" : $"{readerError.Code} at {readerError.StreamOffset}")}");
            return;
        }
        if (readerError is not null)
        {
            FuzzChecks.TypedError(Name, readerError, input.Length);
            if (readerError.Code is not (StreamErrorCode.BadPreambleField or StreamErrorCode.UnsupportedCapability))
                throw new FuzzInvariantException(Name, $"Preamble.Decode accepted what the reader rejects with {readerError.Code} at {readerError.StreamOffset}");
        }
        else if (reader.Position != Preamble.PeekLength(input))
        {
            throw FuzzChecks.Mismatch(Name, "reader position after the preamble", Preamble.PeekLength(input), reader.Position);
        }

        // Round trip: a v1.0 preamble whose reserved bytes are zero is exactly what Encode writes.
        Span<byte> encoded = stackalloc byte[Preamble.Size];
        decoded.Encode(encoded);
        var again = Preamble.Decode(encoded);
        if (again != decoded) throw FuzzChecks.Mismatch(Name, "decode(encode(preamble))", decoded, again);
        if (Preamble.PeekLength(input) == Preamble.Size && decoded.Minor == 0 && !input[(Preamble.RoleOffset + 1)..(Preamble.Size - 4)].ContainsAnyExcept((byte)0)
            && !encoded.SequenceEqual(input[..Preamble.Size]))
            throw new FuzzInvariantException(Name, "a decoded v1.0 preamble does not re-encode to its own bytes");
    }

    public static byte[] Generate(ulong seed, long iteration)
    {
        var c = Generators.Forward.Generate(seed, iteration, MutationFocus.Preamble);
        var channel = c.Channels[0];
        var rng = FuzzRandom.For(seed, iteration, 9);
        // Mostly the whole preamble and a little more; sometimes a stub shorter than the 16-byte prefix.
        int keep = Math.Min(channel.Length, rng.Chance(15) ? rng.Between(0, Preamble.FixedPrefix + 4) : Generators.PreambleLength(channel) + rng.Next(24));
        return channel[..keep];
    }
}

/// <summary>The generators the fuzz targets draw their structure-aware inputs from.</summary>
internal static class Generators
{
    internal static MalformedStreamGenerator Forward { get; } = new();

    internal static int PreambleLength(byte[] channel)
    {
        if (channel.Length < Preamble.FixedPrefix) return channel.Length;
        uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(channel.AsSpan(Preamble.LengthOffset));
        return length is >= Preamble.Size and <= Preamble.MaxLength ? (int)length : Preamble.Size;
    }
}
