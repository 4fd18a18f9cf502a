using System.Buffers;
using StreamKit.Wire;
using StreamKit.Wire.Fuzzing;
using Xunit;

namespace StreamKit.Tests.Fuzzing;

/// <summary>The validator target's event sink really catches what it is there to catch.</summary>
public sealed class CheckingStreamEventsTests
{
    private static (CheckingStreamEvents Sink, byte[] Payload) Setup()
    {
        byte[] payload = [1, 2, 3, 4, 5];
        var header = new ChunkHeader(ChunkType.Data, ChunkFlags.None, 3, 0, 1, 0, 5, 5, Crc32C.Compute(payload));
        var expected = new ExpectedPayloads();
        Assert.True(expected.Add(new Chunk(header, new ReadOnlySequence<byte>(payload), 64, 1)));
        var sink = new CheckingStreamEvents("test", expected, AllocationMeter.Start());
        sink.OnDeviceBegin(3, new DeviceBeginRecord(1, 0, "d", ""));
        return (sink, payload);
    }

    [Fact]
    public void BytesThatAVerifiedChunkCarriedPassAndTheDigestMustMatchThem()
    {
        var (sink, payload) = Setup();
        sink.OnData(3, 0, 0, DataPhase.PreCopy, new ReadOnlySequence<byte>(payload));
        var end = new DeviceEndRecord(5, 0, Crc32C.Compute(payload), 0);
        Assert.Throws<FuzzInvariantException>(() => sink.OnDeviceEnd(3, 0, end with { DataCrc = end.DataCrc ^ 1 }));
        sink.OnDeviceEnd(3, 0, end);
        Assert.Throws<FuzzInvariantException>(() => sink.OnData(3, 0, 5, DataPhase.PreCopy, new ReadOnlySequence<byte>(payload)));
    }

    [Fact]
    public void BytesNoVerifiedChunkCarriedAreCaught()
    {
        var (sink, payload) = Setup();
        byte[] other = [.. payload];
        other[2] ^= 0x40;
        var e = Assert.Throws<FuzzInvariantException>(() => sink.OnData(3, 0, 0, DataPhase.PreCopy, new ReadOnlySequence<byte>(other)));
        Assert.Contains("no CRC-verified DATA chunk", e.Message);
    }

    [Fact]
    public void AChunkWhosePayloadFailsItsCrcIsNeverExpected()
    {
        byte[] payload = [9, 9, 9];
        var bad = new ChunkHeader(ChunkType.Data, ChunkFlags.None, 3, 0, 1, 0, 3, 3, Crc32C.Compute(payload) ^ 1);
        Assert.False(new ExpectedPayloads().Add(new Chunk(bad, new ReadOnlySequence<byte>(payload), 64, 1)));
    }

    [Fact]
    public void LifeCycleAndOffsetsAreChecked()
    {
        var (sink, payload) = Setup();
        Assert.Throws<FuzzInvariantException>(() => sink.OnData(3, 0, 7, DataPhase.PreCopy, new ReadOnlySequence<byte>(payload)));
        Assert.Throws<FuzzInvariantException>(() => sink.OnData(4, 0, 0, DataPhase.PreCopy, new ReadOnlySequence<byte>(payload)));
        Assert.Throws<FuzzInvariantException>(() => sink.OnDiscard(3, 0, new DiscardRecord(DiscardReason.SourceDeviceReset, 0)));
        Assert.Throws<FuzzInvariantException>(() => sink.OnDeviceBegin(3, new DeviceBeginRecord(1, 0, "again", "")));
    }
}
