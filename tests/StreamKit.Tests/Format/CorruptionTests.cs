using System.Buffers;
using StreamKit.Tests.Format.Support;
using StreamKit.Tests.Vectors;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Format;

/// <summary>
/// Damaged valid streams: every fault is a <see cref="StreamFormatException"/> of the family the damaged
/// region implies, never another exception, never a hang. Iterations are bounded to keep this quick.
/// </summary>
public class CorruptionTests
{
    private enum Region { Preamble, Header, Payload }

    /// <summary>Valid multi-feature streams: the valid vectors plus one seeded LZ4 stream.</summary>
    private static IEnumerable<(string Name, byte[][] Channels, List<BuiltChunk>[] Chunks)> Streams()
    {
        foreach (var name in new[] { "one-device", "compressed", "zero-runs", "discard", "unknown-optional" })
        {
            var v = VectorCatalog.All.Single(x => x.Name == name);
            yield return (name, v.Files.Select(f => f.Bytes).ToArray(), [ChunkMap(v.Files[0].Bytes)]);
        }
        var b = new VectorBuilder(channels: 2, compress: true);
        var rng = new DeterministicRandom(77);
        b.Begin(1, "a", "b", channel: 0);
        b.Begin(2, "c", "d", channel: 1);
        b.Data(1, rng.Text(3000), DataPhase.PreCopy, channel: 1);
        b.Data(2, rng.Bytes(500), DataPhase.PreCopy, channel: 0);
        b.Discard(2, DiscardReason.SourceDeviceReset, channel: 1);
        b.Data(2, new byte[600], DataPhase.StopCopy, channel: 0);
        b.Config(1, rng.Text(200), channel: 0);
        b.End(1, channel: 1);
        b.End(2, channel: 0);
        b.EndAll();
        yield return ("two-channel-lz4", [b.Bytes(0), b.Bytes(1)], [ChunkMap(b.Bytes(0)), ChunkMap(b.Bytes(1))]);
    }

    private static List<BuiltChunk> ChunkMap(byte[] bytes)
    {
        var reader = new ChunkReader();
        var buffer = new ReadOnlySequence<byte>(bytes);
        var list = new List<BuiltChunk>();
        while (reader.TryReadChunk(ref buffer, out var c)) list.Add(new BuiltChunk(c.StreamOffset, ChunkHeader.Size + (int)c.Header.WireLength, ""));
        return list;
    }

    private static Region RegionOf(List<BuiltChunk> chunks, long offset)
    {
        if (offset < Preamble.Size) return Region.Preamble;
        var chunk = chunks.Last(c => c.Offset <= offset);
        return offset < chunk.Offset + ChunkHeader.Size ? Region.Header : Region.Payload;
    }

    private static StreamFormatException? Run(byte[][] channels)
    {
        try
        {
            StreamValidator.Verify(channels.Select(c => new ReadOnlySequence<byte>(c)).ToList());
            return null;
        }
        catch (StreamFormatException e)
        {
            return e;
        }
        // Any other exception type escapes and fails the test.
    }

    [Fact]
    public void EverySingleBitFlipIsDetectedWithTheRightFamily()
    {
        var rng = new DeterministicRandom(1234);
        int runs = 0;
        foreach (var (name, channels, maps) in Streams())
        {
            for (int c = 0; c < channels.Length; c++)
            {
                int samples = Math.Min(channels[c].Length * 8, 800);
                for (int i = 0; i < samples; i++)
                {
                    long offset = samples == channels[c].Length * 8 ? i / 8 : rng.Next(channels[c].Length);
                    int bit = samples == channels[c].Length * 8 ? i % 8 : rng.Next(8);
                    var damaged = (byte[][])channels.Clone();
                    damaged[c] = Mutate.FlipBit(channels[c], offset, bit);
                    var e = Run(damaged);
                    Assert.True(e is not null, $"{name} channel {c}: flipping bit {bit} of byte {offset} went unnoticed");
                    var region = RegionOf(maps[c], offset);
                    uint family = (uint)e!.Code / 100;
                    switch (region)
                    {
                        case Region.Preamble: Assert.True(family == 1, $"{name}: preamble flip at {offset} gave {e.Code}"); break;
                        case Region.Header: Assert.True(e.Code is StreamErrorCode.BadSync or StreamErrorCode.HeaderChecksumMismatch, $"{name}: header flip at {offset} gave {e.Code}"); break;
                        case Region.Payload: Assert.True(e.Code == StreamErrorCode.PayloadChecksumMismatch, $"{name}: payload flip at {offset} gave {e.Code}"); break;
                    }
                    runs++;
                }
            }
        }
        Assert.True(runs > 4000);
    }

    [Fact]
    public void EveryTruncationIsATruncationError()
    {
        foreach (var (name, channels, maps) in Streams())
        {
            for (int c = 0; c < channels.Length; c++)
            {
                for (int cut = 0; cut < channels[c].Length; cut += cut < 200 ? 1 : 7)
                {
                    var damaged = (byte[][])channels.Clone();
                    damaged[c] = Mutate.Cut(channels[c], cut);
                    var e = Run(damaged);
                    Assert.True(e is not null, $"{name} channel {c}: cut at {cut} went unnoticed");
                    StreamErrorCode expected;
                    if (cut < Preamble.Size) expected = StreamErrorCode.TruncatedPreamble;
                    else if (maps[c].Any(m => m.Offset == cut)) expected = StreamErrorCode.TruncatedStream;
                    else expected = RegionOf(maps[c], cut) == Region.Header ? StreamErrorCode.TruncatedHeader : StreamErrorCode.TruncatedPayload;
                    Assert.True(expected == e!.Code, $"{name} channel {c}: cut at {cut} gave {e.Code}, expected {expected}");
                    Assert.Equal(cut, e.StreamOffset);
                }
            }
        }
    }

    [Fact]
    public void RandomDamageOnlyEverRaisesStreamFormatException()
    {
        var rng = new DeterministicRandom(99);
        var streams = Streams().ToList();
        for (int i = 0; i < 3000; i++)
        {
            var (_, channels, _) = streams[rng.Next(streams.Count)];
            int c = rng.Next(channels.Length);
            var bytes = channels[c];
            byte[] damaged = rng.Next(4) switch
            {
                0 => Overwrite(bytes, rng),
                1 => Mutate.Insert(bytes, rng.Next(bytes.Length + 1), rng.Bytes(rng.Between(1, 60))),
                2 => Delete(bytes, rng),
                _ => [.. bytes.AsSpan(0, rng.Between(Preamble.Size, bytes.Length)), .. rng.Bytes(rng.Between(1, 400))],
            };
            var all = (byte[][])channels.Clone();
            all[c] = damaged;
            Assert.NotNull(Run(all)); // every one of these damages something a CRC or a length covers
        }
    }

    [Fact]
    public void GarbageAfterAValidPreambleNeverEscapesOrHangs()
    {
        var rng = new DeterministicRandom(5);
        var preamble = RawStream.PreambleBytes(RawStream.Forward());
        for (int i = 0; i < 2000; i++)
        {
            byte[] garbage = rng.Bytes(rng.Between(0, 300));
            if (garbage.Length >= 4 && rng.Chance(50)) "SKCH"u8.CopyTo(garbage); // get past the sync word sometimes
            var e = Run([[.. preamble, .. garbage]]);
            Assert.NotNull(e);
            var reader = new ChunkReader();
            var buffer = Segments.Split([.. preamble, .. garbage], Segments.RandomSizes(rng, preamble.Length + garbage.Length));
            try
            {
                while (reader.TryReadChunk(ref buffer, out _)) { }
                reader.Finish(buffer);
            }
            catch (StreamFormatException) { }
        }
    }

    [Fact]
    public void RecordDecodersOnlyRaiseBadPayload()
    {
        var rng = new DeterministicRandom(6);
        for (int i = 0; i < 5000; i++)
        {
            var bytes = rng.Bytes(rng.Between(0, 64));
            if (bytes.Length >= 24 && rng.Chance(50)) { bytes[16] = (byte)rng.Next(20); bytes[17] = 0; bytes[18] = (byte)rng.Next(20); bytes[19] = 0; }
            if (bytes.Length >= 8 && rng.Chance(50)) { bytes[4] = (byte)rng.Next(60); bytes[5] = bytes[6] = bytes[7] = 0; }
            Try(() => DeviceBeginRecord.Decode(bytes, 0));
            Try(() => ReasonRecord.Decode(bytes, 0));
            Try(() => DiscardRecord.Decode(bytes, 0));
            Try(() => StreamEndRecord.Decode(bytes, 0));
            Try(() => DeviceEndRecord.Decode(bytes, 0));
            Try(() => PrecopyInfoRecord.Decode(bytes, 0));
            Try(() => FinalAckRecord.Decode(bytes, 0));
        }

        static void Try(Func<object> decode)
        {
            try { decode(); }
            catch (StreamFormatException e) { Assert.Equal(StreamErrorCode.BadPayload, e.Code); }
        }
    }

    private static byte[] Overwrite(byte[] bytes, DeterministicRandom rng)
    {
        var copy = (byte[])bytes.Clone();
        int at = rng.Next(copy.Length);
        int n = Math.Min(rng.Between(1, 16), copy.Length - at);
        do rng.Fill(copy.AsSpan(at, n)); while (copy.AsSpan(at, n).SequenceEqual(bytes.AsSpan(at, n)));
        return copy;
    }

    private static byte[] Delete(byte[] bytes, DeterministicRandom rng)
    {
        int at = rng.Next(bytes.Length);
        int n = Math.Min(rng.Between(1, 40), bytes.Length - at);
        return [.. bytes.AsSpan(0, at), .. bytes.AsSpan(at + n)];
    }
}
