using System.Buffers;

namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// A whole receive: 1-4 channels (packed as <see cref="FuzzInput"/> says), each cut into segments and
/// read by its own <see cref="ChunkReader"/>, interleaved across channels in an order the input picks,
/// every preamble and chunk handed to one <see cref="StreamValidator"/> with a
/// <see cref="CheckingStreamEvents"/> sink, then Finish and Complete.
/// Invariants: only <see cref="StreamFormatException"/> escapes, with a spec code and an offset inside
/// the channel (or −1 for end-of-stream faults); no payload that failed its CRC — and no byte that no
/// verified chunk carried — is ever delivered, and deliveries follow the device life cycle with
/// DEVICE_END digests equal to a reference digest of the delivered bytes; with one channel the result
/// equals <see cref="StreamValidator.Verify"/> of the unsegmented bytes; allocation stays within the
/// reassembly cap, the payload limit and the input size (no allocation sized by an unchecked field).
/// </summary>
internal sealed class StreamValidatorFuzzTarget : IFuzzTarget
{
    public static string Name => "stream-validator";

    internal static readonly ChunkReaderOptions ReaderOptions = new() { MaxPayload = ChunkReaderFuzzTarget.LocalMaxPayload };
    internal static readonly StreamValidatorOptions ValidatorOptions = new() { MaxDevices = 64, ReassemblyLimit = 256 * 1024 };
    /// <summary>A reassembly cap small enough that generated multi-channel streams can overflow it.</summary>
    private static readonly StreamValidatorOptions TightOptions = new() { MaxDevices = 64, ReassemblyLimit = 12 * 1024 };

    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        var bundle = FuzzInput.Unpack(input);
        Validate(bundle.Channels, bundle.SegmentMode, bundle.InterleaveMode, bundle.Seed, (bundle.Seed & 3) == 0 ? TightOptions : ValidatorOptions);
    }

    /// <summary>
    /// Receives <paramref name="channels"/> as described above, checking every invariant; returns the
    /// stream's typed error, or null when the stream was accepted.
    /// </summary>
    internal static StreamFormatException? Validate(byte[][] channels, int segmentMode, int interleaveMode, byte seed, StreamValidatorOptions options)
    {
        var bundle = new FuzzInput.Bundle(channels, segmentMode, interleaveMode, seed);

        // The reference: every chunk a plain read of each channel yields, with its payload re-verified.
        var expected = new ExpectedPayloads();
        foreach (var channel in channels) PreScan(channel, expected);

        var pumps = new ChannelPump[channels.Length];
        var readers = new ChunkReader[channels.Length];
        var hasPreamble = new bool[channels.Length];
        var active = new List<int>(channels.Length);
        for (int i = 0; i < channels.Length; i++)
        {
            pumps[i] = new ChannelPump(channels[i], bundle.SegmentMode, bundle.Seed + (ulong)i * 0x9E37);
            readers[i] = new ChunkReader(ReaderOptions);
            active.Add(i);
        }
        var rng = new FuzzRandom(bundle.Seed ^ 0xA5A5UL);
        long inputBytes = channels.Sum(c => (long)c.Length);
        long bound = 2 * options.ReassemblyLimit + (channels.Length + 2) * (long)ChunkReaderFuzzTarget.LocalMaxPayload
            + 4 * inputBytes + options.MaxDevices * 4096L + 256 * 1024;

        var meter = AllocationMeter.Start();
        var events = new CheckingStreamEvents(Name, expected, meter);
        var validator = new StreamValidator(options, events);
        StreamFormatException? error = null;
        int turn = 0;
        try
        {
            while (active.Count > 0)
            {
                int slot = bundle.InterleaveMode switch
                {
                    0 => turn++ % active.Count,
                    1 => 0,
                    2 => active.Count - 1,
                    3 => rng.Chance(80) ? 0 : rng.Next(active.Count),
                    _ => rng.Next(active.Count),
                };
                int i = active[slot];
                var buffer = pumps[i].Arrive(out bool last);
                if (!hasPreamble[i] && readers[i].TryReadPreamble(ref buffer, out var preamble))
                {
                    hasPreamble[i] = true;
                    validator.AcceptPreamble(preamble);
                }
                if (hasPreamble[i])
                {
                    int index = readers[i].Preamble.ChannelIndex;
                    while (readers[i].TryReadChunk(ref buffer, out var chunk)) validator.AcceptChunk(index, chunk);
                }
                pumps[i].Consumed(buffer.Start);
                if (!last) continue;
                readers[i].Finish(buffer);
                active.RemoveAt(slot);
            }
            validator.Complete();
        }
        catch (StreamFormatException e)
        {
            error = e;
        }
        meter.Check(Name, bound, $"validating {channels.Length} channel(s) of {inputBytes} bytes");

        if (error is not null)
        {
            FuzzChecks.TypedError(Name, error, channels.Max(c => (long)c.Length), endOfStreamAllowed: true);
        }
        else
        {
            if (!validator.IsComplete || !events.StreamEnded)
                throw new FuzzInvariantException(Name, "Complete() returned without a complete, reported stream");
        }

        if (channels.Length == 1) CompareWithVerify(channels[0], error, options);
        return error;
    }

    private static void PreScan(byte[] channel, ExpectedPayloads expected)
    {
        var reader = new ChunkReader(ReaderOptions);
        var buffer = new ReadOnlySequence<byte>(channel);
        try
        {
            while (reader.TryReadChunk(ref buffer, out var chunk))
            {
                if (!expected.Add(chunk))
                    throw new FuzzInvariantException(Name, $"the reader returned {chunk} although its payload fails a bitwise CRC32C check");
            }
        }
        catch (StreamFormatException)
        {
            // The validated run meets the same error; chunks after it are never delivered.
        }
    }

    private static void CompareWithVerify(byte[] channel, StreamFormatException? error, StreamValidatorOptions options)
    {
        StreamFormatException? verify = null;
        try
        {
            StreamValidator.Verify([new ReadOnlySequence<byte>(channel)], options, ReaderOptions);
        }
        catch (StreamFormatException e)
        {
            verify = e;
        }
        if (verify?.Code != error?.Code || verify?.StreamOffset != error?.StreamOffset)
            throw new FuzzInvariantException(Name, $"segmented feed says {Describe(error)}, StreamValidator.Verify of the same channel says {Describe(verify)}");
    }

    private static string Describe(StreamFormatException? e) => e is null ? "valid" : $"{e.Code} at {e.StreamOffset}";

    public static byte[] Generate(ulong seed, long iteration)
    {
        var c = Generators.Forward.Generate(seed, iteration);
        var rng = FuzzRandom.For(seed, iteration, 12);
        return FuzzInput.Pack(c.Channels, rng.Next(FuzzInput.SegmentModes), rng.Next(FuzzInput.InterleaveModes), (byte)rng.Next(256));
    }
}
