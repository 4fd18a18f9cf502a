using System.Buffers;
using StreamKit.Tests.Format.Support;
using StreamKit.Tests.Vectors;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Format;

public class StreamValidatorTests
{
    private static readonly byte[] Three = [1, 2, 3];

    private static long At(int chunkIndex, params byte[][] chunks) => Preamble.Size + chunks.Take(chunkIndex).Sum(c => c.Length);

    private static void AssertFails(StreamErrorCode code, int failingChunk, params byte[][] chunks)
    {
        var e = RawStream.Fails(RawStream.Build(RawStream.Forward(), chunks));
        Assert.Equal(code, e.Code);
        Assert.Equal(At(failingChunk, chunks), e.StreamOffset);
    }

    [Fact]
    public void DeviceStructureRules()
    {
        // First chunk of a device is not DEVICE_BEGIN.
        AssertFails(StreamErrorCode.UnknownDevice, 0, RawStream.Data(1, 0, 0, 0, Three));
        AssertFails(StreamErrorCode.UnknownDevice, 0, RawStream.Data(1, 0, 1, 0, Three));
        // Offsets must be contiguous.
        AssertFails(StreamErrorCode.OffsetMismatch, 2, RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three), RawStream.Data(1, 0, 2, 4, Three));
        AssertFails(StreamErrorCode.OffsetMismatch, 2, RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three), RawStream.End(1, 0, 2, [1, 2]));
        // No pre-copy data, PRECOPY_INFO or DISCARD after stop-copy data.
        AssertFails(StreamErrorCode.UnexpectedChunk, 2, RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three, stopCopy: true), RawStream.Data(1, 0, 2, 3, Three));
        AssertFails(StreamErrorCode.UnexpectedChunk, 2, RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three, stopCopy: true), RawStream.Discard(1, 1));
        AssertFails(StreamErrorCode.UnexpectedChunk, 2, RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three, stopCopy: true),
            RawStream.Chunk(ChunkType.PrecopyInfo, 1, 0, 2, 3, new byte[16], ChunkFlags.Optional));
        // Nothing after DEVICE_END, not even a DISCARD.
        AssertFails(StreamErrorCode.UnexpectedChunk, 2, RawStream.Begin(1), RawStream.End(1, 0, 1, []), RawStream.Data(1, 0, 2, 0, Three));
        AssertFails(StreamErrorCode.UnexpectedChunk, 2, RawStream.Begin(1), RawStream.End(1, 0, 1, []), RawStream.Discard(1, 1));
        // A new epoch must start with DISCARD.
        AssertFails(StreamErrorCode.UnexpectedChunk, 1, RawStream.Begin(1), RawStream.Data(1, 1, 0, 0, Three));
        // Digest must match.
        AssertFails(StreamErrorCode.DeviceDigestMismatch, 2, RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three), RawStream.End(1, 0, 2, [1, 2, 4]));
        // Records are checked.
        var bad = RawStream.Fails(RawStream.Build(RawStream.Forward(), RawStream.Begin(1), RawStream.Chunk(ChunkType.PrecopyInfo, 1, 0, 1, 0, new byte[15], ChunkFlags.Optional)));
        Assert.Equal((StreamErrorCode.BadPayload, At(1, RawStream.Begin(1)) + ChunkHeader.Size), (bad.Code, bad.StreamOffset)); // payload faults point into the payload
    }

    [Fact]
    public void SingleChannelOrderingRules()
    {
        AssertFails(StreamErrorCode.SequenceGap, 1, RawStream.Begin(1), RawStream.Data(1, 0, 2, 0, Three));
        AssertFails(StreamErrorCode.SequenceGap, 1, RawStream.Begin(1), RawStream.Data(1, 2, 1, 0, Three)); // epoch 2 before its DISCARD
        AssertFails(StreamErrorCode.DuplicateChunk, 2, RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three), RawStream.Data(1, 0, 1, 0, Three));
        AssertFails(StreamErrorCode.DuplicateChunk, 1, RawStream.Begin(1), RawStream.Begin(1));
        AssertFails(StreamErrorCode.UnexpectedChunk, 3, RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three), RawStream.Data(1, 0, 2, 3, Three), RawStream.Data(1, 0, 1, 0, Three));
        AssertFails(StreamErrorCode.EpochRegression, 2, RawStream.Begin(1), RawStream.Discard(1, 2), RawStream.Data(1, 1, 1, 0, Three));
        AssertFails(StreamErrorCode.EpochRegression, 2, RawStream.Begin(1), RawStream.Discard(1, 2), RawStream.Discard(1, 1));
    }

    [Fact]
    public void StreamEndTotalsAndDeviceCountAreChecked()
    {
        byte[][] ok = [RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, Three), RawStream.End(1, 0, 2, Three)];
        Assert.True(RawStream.Verify(RawStream.Build(RawStream.Forward(), [.. ok, RawStream.StreamEnd(1, 3, 3)])).IsComplete);
        AssertFails(StreamErrorCode.StreamTotalsMismatch, 3, [.. ok, RawStream.StreamEnd(1, 2, 3)]);
        AssertFails(StreamErrorCode.StreamTotalsMismatch, 3, [.. ok, RawStream.StreamEnd(1, 3, 4)]);
        AssertFails(StreamErrorCode.StreamTotalsMismatch, 3, [.. ok, RawStream.StreamEnd(2, 3, 3)]);
        // A device that never ended, although the channel did.
        var e = RawStream.Fails(RawStream.Build(RawStream.Forward(), RawStream.Begin(1), RawStream.StreamEnd(1, 1, 0)));
        Assert.Equal((StreamErrorCode.TruncatedStream, -1L), (e.Code, e.StreamOffset));
    }

    [Fact]
    public void DeviceLimitIsTheSmallerOfAnnouncedAndLocal()
    {
        var bytes = RawStream.Build(RawStream.Forward(maxDevices: 2), RawStream.Begin(1), RawStream.Begin(2), RawStream.Begin(3));
        var e = RawStream.Fails(bytes);
        Assert.Equal((StreamErrorCode.TooManyDevices, At(2, RawStream.Begin(1), RawStream.Begin(2))), (e.Code, e.StreamOffset));
        bytes = RawStream.Build(RawStream.Forward(maxDevices: 200), RawStream.Begin(1), RawStream.Begin(2));
        var e2 = Assert.Throws<StreamFormatException>(() => StreamValidator.Verify([new ReadOnlySequence<byte>(bytes)], new StreamValidatorOptions { MaxDevices = 1 }));
        Assert.Equal(StreamErrorCode.TooManyDevices, e2.Code);
    }

    [Fact]
    public void AbortIsReportedWithTheSendersReason()
    {
        var b = new VectorBuilder();
        b.Begin(1, "a", "b");
        b.Abort(StreamErrorCode.Cancelled, "operator cancelled");
        var e = Assert.Throws<StreamFormatException>(() => StreamValidator.Verify([new ReadOnlySequence<byte>(b.Bytes())]));
        Assert.Equal(StreamErrorCode.PeerAborted, e.Code);
        Assert.Contains("Cancelled (505): operator cancelled", e.Message);
    }

    private static (byte[] Ch0, byte[] Ch1) TwoChannelStream(int bigChunks = 3)
    {
        var rng = new DeterministicRandom(8);
        var b = new VectorBuilder(channels: 2);
        b.Begin(1, "a", "b", channel: 0);
        for (int i = 0; i < bigChunks; i++) b.Data(1, rng.Bytes(1000), DataPhase.PreCopy, channel: 1);
        b.Data(1, rng.Bytes(10), DataPhase.StopCopy, channel: 0);
        b.End(1, channel: 0);
        b.EndAll();
        return (b.Bytes(0), b.Bytes(1));
    }

    private static StreamValidator Feed(StreamValidatorOptions? options, params (int Channel, byte[] Bytes)[] order)
    {
        var validator = new StreamValidator(options, new DeviceImages());
        foreach (var (channel, bytes) in order)
        {
            var reader = new ChunkReader();
            var buffer = new ReadOnlySequence<byte>(bytes);
            Assert.True(reader.TryReadPreamble(ref buffer, out var preamble));
            validator.AcceptPreamble(preamble);
            while (reader.TryReadChunk(ref buffer, out var chunk)) validator.AcceptChunk(channel, chunk);
            reader.Finish(buffer);
        }
        return validator;
    }

    [Fact]
    public void ReassemblyHoldsEarlyChunksWithinItsLimit()
    {
        var (ch0, ch1) = TwoChannelStream();
        var validator = Feed(null, (1, ch1), (0, ch0)); // all of channel 1 arrives before the DEVICE_BEGIN
        Assert.True(validator.IsComplete);
        Assert.Equal(3, validator.Summary.OutOfOrderChunks);
        Assert.Equal(3 * (1000 + 64), validator.Summary.PeakReassemblyBytes);
        Assert.Equal(0, validator.BufferedBytes);

        var e = Assert.Throws<StreamFormatException>(() => Feed(new StreamValidatorOptions { ReassemblyLimit = 2 * 1064 }, (1, ch1), (0, ch0)));
        Assert.Equal(StreamErrorCode.ReassemblyOverflow, e.Code);
        Assert.Equal(Preamble.Size + 2 * (48 + 1000), e.StreamOffset); // the third held chunk, on channel 1
    }

    [Fact]
    public void MissingPiecesAreReportedAtTheEnd()
    {
        var (ch0, ch1) = TwoChannelStream();
        // Channel 1 never starts.
        var v = Feed(null, (0, ch0));
        var e = Assert.Throws<StreamFormatException>(v.Complete);
        Assert.Equal(StreamErrorCode.TruncatedStream, e.Code);
        // Channel 1 is cut before its STREAM_END.
        var cut = ch1[..^(48 + 24)];
        var validator = new StreamValidator();
        var r0 = new ChunkReader();
        var r1 = new ChunkReader();
        var b0 = new ReadOnlySequence<byte>(ch0);
        var b1 = new ReadOnlySequence<byte>(cut);
        Assert.True(r0.TryReadPreamble(ref b0, out var p0));
        Assert.True(r1.TryReadPreamble(ref b1, out var p1));
        validator.AcceptPreamble(p0);
        validator.AcceptPreamble(p1);
        while (r1.TryReadChunk(ref b1, out var c)) validator.AcceptChunk(1, c);
        while (r0.TryReadChunk(ref b0, out var c)) validator.AcceptChunk(0, c);
        Assert.Equal(StreamErrorCode.TruncatedStream, Assert.Throws<StreamFormatException>(() => r1.Finish(b1)).Code);
        Assert.Equal(StreamErrorCode.TruncatedStream, Assert.Throws<StreamFormatException>(validator.Complete).Code);
    }

    [Fact]
    public void AGapAcrossChannelsIsASequenceGapAtStreamEnd()
    {
        var rng = new DeterministicRandom(9);
        var b = new VectorBuilder(channels: 2);
        b.Begin(1, "a", "b", channel: 0);
        b.Data(1, rng.Bytes(10), DataPhase.PreCopy, channel: 1); // seq 1: will be removed
        b.Data(1, rng.Bytes(10), DataPhase.PreCopy, channel: 0); // seq 2
        b.End(1, channel: 0);
        b.EndAll();
        var ch1 = b.Bytes(1);
        var removed = b.Chunks(1)[0];
        ch1 = Mutate.Remove(ch1, removed);
        // Fix channel 1's STREAM_END so that only the gap is wrong.
        var end = new BuiltChunk(b.Chunks(1)[1].Offset - removed.Length, b.Chunks(1)[1].Length, "");
        ch1 = Mutate.Payload(ch1, end, p => new StreamEndRecord(1, 0, 0).Encode(p));
        var e = Assert.Throws<StreamFormatException>(() => StreamValidator.Verify([new(b.Bytes(0)), new(ch1)]));
        Assert.Equal((StreamErrorCode.SequenceGap, -1L), (e.Code, e.StreamOffset));
        Assert.Contains("sequence 1", e.Message);
    }

    [Fact]
    public void ChannelsMustAgree()
    {
        var v = new StreamValidator();
        v.AcceptPreamble(RawStream.Forward(0, 2));
        Assert.Equal(StreamErrorCode.BadChannel, Assert.Throws<StreamFormatException>(() => v.AcceptPreamble(RawStream.Forward(0, 2))).Code);
        Assert.Equal(StreamErrorCode.BadChannel, Assert.Throws<StreamFormatException>(() => v.AcceptPreamble(RawStream.Forward(1, 3))).Code);
        Assert.Equal(StreamErrorCode.BadChannel, Assert.Throws<StreamFormatException>(() => v.AcceptPreamble(RawStream.Forward(1, 2, maxPayload: 8192))).Code);
        Assert.Equal(StreamErrorCode.BadChannel, Assert.Throws<StreamFormatException>(() => v.AcceptPreamble(RawStream.Forward(1, 2) with { StreamId = Guid.Empty })).Code);
        v.AcceptPreamble(RawStream.Forward(1, 2));
    }

    [Fact]
    public void StaleChunksOfASupersededEpochAreDroppedNotApplied()
    {
        var rng = new DeterministicRandom(10);
        var b = new VectorBuilder(channels: 2);
        b.Begin(1, "a", "b", channel: 0);
        b.Data(1, rng.Bytes(100), DataPhase.PreCopy, channel: 0); // epoch 0 seq 1
        b.Discard(1, DiscardReason.SourceDeviceReset, channel: 1);
        var fresh = rng.Bytes(50);
        b.Data(1, fresh, DataPhase.StopCopy, channel: 1);
        b.End(1, channel: 1);
        b.EndAll();
        var images = new DeviceImages();
        var v2 = new StreamValidator(null, images);
        // Channel 0's preamble and DEVICE_BEGIN first, then all of channel 1, then the stale epoch-0 DATA.
        var r0 = new ChunkReader();
        var r1 = new ChunkReader();
        var b0 = new ReadOnlySequence<byte>(b.Bytes(0));
        var b1 = new ReadOnlySequence<byte>(b.Bytes(1));
        Assert.True(r0.TryReadPreamble(ref b0, out var p0));
        Assert.True(r1.TryReadPreamble(ref b1, out var p1));
        v2.AcceptPreamble(p0);
        v2.AcceptPreamble(p1);
        Assert.True(r0.TryReadChunk(ref b0, out var begin));
        v2.AcceptChunk(0, begin);
        while (r1.TryReadChunk(ref b1, out var c)) v2.AcceptChunk(1, c);
        while (r0.TryReadChunk(ref b0, out var c)) v2.AcceptChunk(0, c);
        Assert.True(v2.IsComplete);
        Assert.Equal(fresh, images.Data[1]);
        Assert.Equal(1, v2.Summary.Devices.Single().StaleChunksDropped);
        Assert.DoesNotContain(images.Log, l => l.StartsWith("data 1 e0"));
    }
}
