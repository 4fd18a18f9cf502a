using System.Buffers;
using System.Buffers.Binary;
using StreamKit.Tests.Format.Support;
using StreamKit.Tests.Vectors;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Format;

public class ChunkReaderTests
{
    private const long First = Preamble.Size; // offset of the first chunk

    private static StreamFormatException ReadFails(byte[] bytes, ChunkReaderOptions? options = null)
    {
        var reader = new ChunkReader(options);
        var buffer = new ReadOnlySequence<byte>(bytes);
        return Assert.Throws<StreamFormatException>(() =>
        {
            while (reader.TryReadChunk(ref buffer, out _)) { }
            reader.Finish(buffer);
        });
    }

    private static void AssertFault(byte[] chunk, StreamErrorCode code, long fieldOffset, Preamble? preamble = null)
    {
        var e = ReadFails(RawStream.Build(preamble ?? RawStream.Forward(), chunk));
        Assert.Equal(code, e.Code);
        Assert.Equal(First + fieldOffset, e.StreamOffset);
    }

    private static ChunkHeader H(ChunkType type, ChunkFlags flags = 0, ushort device = 0, uint epoch = 0, ulong seq = 0, ulong offset = 0, uint wire = 0, uint raw = 0, uint crc = 0) =>
        new(type, flags, device, epoch, seq, offset, wire, raw, crc);

    [Fact]
    public void HeaderRulesReportTheOffendingField()
    {
        AssertFault(RawStream.Header(H((ChunkType)0x30, wire: 0)), StreamErrorCode.UnknownMandatoryType, ChunkHeader.TypeOffset);
        AssertFault(RawStream.Header(H(ChunkType.Ack, device: 1)), StreamErrorCode.UnexpectedChunk, ChunkHeader.TypeOffset);
        AssertFault(RawStream.Header(H(ChunkType.Data, device: 1, wire: 70000, raw: 70000)), StreamErrorCode.LengthOverLimit, ChunkHeader.WireLengthOffset);
        AssertFault(RawStream.Header(H(ChunkType.Data, ChunkFlags.Lz4, device: 1, wire: 10, raw: 70000)), StreamErrorCode.LengthOverLimit, ChunkHeader.RawLengthOffset);
        AssertFault(RawStream.Header(H(ChunkType.ZeroRun, device: 1, raw: 70000)), StreamErrorCode.LengthOverLimit, ChunkHeader.RawLengthOffset);
        AssertFault(RawStream.Header(H(ChunkType.Data, ChunkFlags.Lz4, device: 1, wire: 4, raw: 8)), StreamErrorCode.BadFlags, ChunkHeader.FlagsOffset, RawStream.Forward(caps: 0));
        AssertFault(RawStream.Header(H(ChunkType.DeviceEnd, ChunkFlags.Lz4, device: 1, wire: 4, raw: 8)), StreamErrorCode.BadFlags, ChunkHeader.FlagsOffset);
        AssertFault(RawStream.Header(H(ChunkType.Config, ChunkFlags.StopCopy, device: 1, wire: 0, raw: 0)), StreamErrorCode.BadFlags, ChunkHeader.FlagsOffset);
        AssertFault(RawStream.Header(H(ChunkType.ZeroRun, device: 1, wire: 4, raw: 4)), StreamErrorCode.BadHeaderField, ChunkHeader.WireLengthOffset);
        AssertFault(RawStream.Header(H(ChunkType.ZeroRun, device: 1)), StreamErrorCode.BadHeaderField, ChunkHeader.RawLengthOffset);
        AssertFault(RawStream.Header(H(ChunkType.ZeroRun, device: 1, raw: 8, crc: 5)), StreamErrorCode.BadHeaderField, ChunkHeader.PayloadCrcOffset);
        AssertFault(RawStream.Header(H(ChunkType.Data, ChunkFlags.Lz4, device: 1, wire: 0, raw: 8)), StreamErrorCode.BadHeaderField, ChunkHeader.WireLengthOffset);
        AssertFault(RawStream.Header(H(ChunkType.Data, device: 1, wire: 4, raw: 8)), StreamErrorCode.BadHeaderField, ChunkHeader.RawLengthOffset);
        AssertFault(RawStream.Header(H(ChunkType.Data, device: 0, wire: 0, raw: 0)), StreamErrorCode.BadHeaderField, ChunkHeader.DeviceOffset);
        AssertFault(RawStream.Header(H(ChunkType.Data, device: 1, wire: 0, raw: 0)), StreamErrorCode.BadHeaderField, ChunkHeader.RawLengthOffset);
        AssertFault(RawStream.Header(H(ChunkType.Padding, epoch: 1)), StreamErrorCode.BadHeaderField, ChunkHeader.EpochOffset);
        AssertFault(RawStream.Header(H(ChunkType.StreamEnd, device: 1)), StreamErrorCode.BadHeaderField, ChunkHeader.DeviceOffset);
        AssertFault(RawStream.Header(H(ChunkType.Abort, seq: 1)), StreamErrorCode.BadHeaderField, ChunkHeader.SequenceOffset);
        AssertFault(RawStream.Header(H(ChunkType.Padding, offset: 1)), StreamErrorCode.BadHeaderField, ChunkHeader.OffsetOffset);
        AssertFault(RawStream.Header(H(ChunkType.DeviceBegin, device: 1, epoch: 1)), StreamErrorCode.BadHeaderField, ChunkHeader.EpochOffset);
        AssertFault(RawStream.Header(H(ChunkType.DeviceBegin, device: 1, seq: 2)), StreamErrorCode.BadHeaderField, ChunkHeader.SequenceOffset);
        AssertFault(RawStream.Header(H(ChunkType.Discard, device: 1)), StreamErrorCode.BadHeaderField, ChunkHeader.EpochOffset);
        AssertFault(RawStream.Header(H(ChunkType.Discard, device: 1, epoch: 1, seq: 1)), StreamErrorCode.BadHeaderField, ChunkHeader.SequenceOffset);
        AssertFault(RawStream.Header(H(ChunkType.Discard, device: 1, epoch: 1, offset: 3)), StreamErrorCode.BadHeaderField, ChunkHeader.OffsetOffset);
        AssertFault(RawStream.Header(H(ChunkType.Data, device: 1, wire: 2, raw: 2, crc: 1), [1, 2]), StreamErrorCode.PayloadChecksumMismatch, ChunkHeader.Size);
        AssertFault(RawStream.Header(H(ChunkType.Padding, crc: 1)), StreamErrorCode.PayloadChecksumMismatch, ChunkHeader.PayloadCrcOffset);

        var reservedFlag = RawStream.Header(H(ChunkType.Padding, (ChunkFlags)0x10));
        AssertFault(reservedFlag, StreamErrorCode.BadFlags, ChunkHeader.FlagsOffset);
        var codec2 = RawStream.Header(H(ChunkType.Padding, (ChunkFlags)0x04));
        AssertFault(codec2, StreamErrorCode.BadFlags, ChunkHeader.FlagsOffset);
    }

    [Fact]
    public void OverLimitLengthFailsFromTheHeaderAlone()
    {
        var header = RawStream.Header(H(ChunkType.Data, device: 1, wire: 5000, raw: 5000));
        var bytes = RawStream.Build(RawStream.Forward(maxPayload: 65536), header); // the 5000 payload bytes never arrive
        var e = ReadFails(bytes, new ChunkReaderOptions { MaxPayload = 4096 }); // local limit below the announced one
        Assert.Equal(StreamErrorCode.LengthOverLimit, e.Code);
        var reader = new ChunkReader(new ChunkReaderOptions { MaxPayload = 4096 });
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Throws<StreamFormatException>(() => reader.TryReadChunk(ref buffer, out _)); // not "need more data"
        Assert.Equal(4096u, reader.EffectiveMaxPayload);
    }

    [Fact]
    public void WaitsForMoreInputAndFailsFast()
    {
        var stream = new VectorBuilder();
        stream.Begin(1, "a", "b");
        stream.Data(1, new DeterministicRandom(1).Bytes(300), DataPhase.PreCopy);
        stream.End(1);
        stream.EndStream();
        var bytes = stream.Bytes();
        int[] stops = [0, 1, 15, 16, 63, 64, 65, 67, 68, 111, 112, 130, bytes.Length - 1];
        foreach (int stop in stops)
        {
            var reader = new ChunkReader();
            var buffer = new ReadOnlySequence<byte>(bytes, 0, stop);
            while (reader.TryReadChunk(ref buffer, out _)) { }
            Assert.True(buffer.Length < bytes.Length);
        }
        // A wrong first magic byte is reported after one byte; a wrong sync after its first byte.
        var e1 = ReadFails([0x88]);
        Assert.Equal((StreamErrorCode.BadMagic, 0L), (e1.Code, e1.StreamOffset));
        var partial = bytes.AsSpan(0, 65).ToArray();
        partial[64] = (byte)'X';
        var reader2 = new ChunkReader();
        var seq = new ReadOnlySequence<byte>(partial);
        var e2 = Assert.Throws<StreamFormatException>(() => reader2.TryReadChunk(ref seq, out _));
        Assert.Equal((StreamErrorCode.BadSync, 64L), (e2.Code, e2.StreamOffset));
    }

    [Fact]
    public void TruncationCodesDependOnWhereInputEnds()
    {
        var stream = new VectorBuilder();
        stream.Begin(1, "a", "b");
        stream.Data(1, new DeterministicRandom(1).Bytes(300), DataPhase.PreCopy);
        stream.End(1);
        stream.EndStream();
        var bytes = stream.Bytes();
        var chunks = stream.Chunks();
        Assert.Equal(StreamErrorCode.TruncatedPreamble, ReadFails([]).Code);
        Assert.Equal(StreamErrorCode.TruncatedPreamble, ReadFails(bytes[..40]).Code);
        Assert.Equal(StreamErrorCode.TruncatedStream, ReadFails(bytes[..64]).Code);
        Assert.Equal(StreamErrorCode.TruncatedHeader, ReadFails(bytes[..(int)(chunks[1].Offset + 1)]).Code);
        Assert.Equal(StreamErrorCode.TruncatedHeader, ReadFails(bytes[..(int)(chunks[1].Offset + 47)]).Code);
        Assert.Equal(StreamErrorCode.TruncatedPayload, ReadFails(bytes[..(int)(chunks[1].Offset + 48)]).Code);
        Assert.Equal(StreamErrorCode.TruncatedPayload, ReadFails(bytes[..(int)(chunks[1].Offset + 347)]).Code);
        Assert.Equal(StreamErrorCode.TruncatedStream, ReadFails(bytes[..(int)chunks[2].Offset]).Code);
        var e = ReadFails([.. bytes, 0]);
        Assert.Equal((StreamErrorCode.UnexpectedChunk, (long)bytes.Length), (e.Code, e.StreamOffset));
    }

    [Fact]
    public void PreambleFieldsAreChecked()
    {
        var bytes = RawStream.Build(RawStream.Forward(maxPayload: 4095));
        Assert.Equal((StreamErrorCode.BadPreambleField, (long)Preamble.MaxPayloadOffset), (ReadFails(bytes).Code, ReadFails(bytes).StreamOffset));
        bytes = RawStream.Build(RawStream.Forward(caps: StreamCapabilities.SwitchoverAck));
        Assert.Equal(StreamErrorCode.BadPreambleField, ReadFails(bytes).Code);
        bytes = RawStream.Build(RawStream.Forward(caps: (StreamCapabilities)0x8));
        Assert.Equal((StreamErrorCode.UnsupportedCapability, (long)Preamble.CapabilitiesOffset), (ReadFails(bytes).Code, ReadFails(bytes).StreamOffset));
        bytes = RawStream.Build(RawStream.Forward(caps: (StreamCapabilities)0x8000_0000)); // unknown optional bit: fine
        Assert.Equal(StreamErrorCode.TruncatedStream, ReadFails(bytes).Code);
        bytes = RawStream.Build(RawStream.Forward(index: 2, count: 2));
        Assert.Equal(StreamErrorCode.BadChannel, ReadFails(bytes).Code);
        bytes = RawStream.Build(RawStream.Forward());
        bytes[Preamble.RoleOffset] = 7;
        Mutate.Reseal(bytes.AsSpan(0, Preamble.Size));
        Assert.Equal(StreamErrorCode.BadPreambleField, ReadFails(bytes).Code);
        bytes = RawStream.Build(RawStream.Forward());
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(Preamble.LengthOffset), 60);
        Assert.Equal((StreamErrorCode.BadPreambleLength, (long)Preamble.LengthOffset), (ReadFails(bytes).Code, ReadFails(bytes).StreamOffset));
    }

    [Fact]
    public void UnknownOptionalChunksAreReturnedForSkipping()
    {
        var bytes = RawStream.Build(RawStream.Forward(),
            RawStream.Chunk((ChunkType)0x90, payload: [1, 2, 3], flags: ChunkFlags.Optional | ChunkFlags.StopCopy),
            RawStream.Chunk((ChunkType)0x2F, payload: [1], flags: ChunkFlags.Optional),
            RawStream.StreamEnd(0, 2, 0));
        var reader = new ChunkReader();
        var buffer = new ReadOnlySequence<byte>(bytes);
        var chunks = new List<Chunk>();
        while (reader.TryReadChunk(ref buffer, out var c)) chunks.Add(c);
        reader.Finish(buffer);
        Assert.Equal([false, false, true], chunks.Select(c => c.IsKnownType));
        Assert.Equal([0L, 1L, 2L], chunks.Select(c => c.Index));
        Assert.True(RawStream.Verify(bytes).IsComplete);
    }

    [Fact]
    public void Lz4PayloadsDecodeAcrossSegmentsAndBadBlocksAreTyped()
    {
        Assert.True(Lz4Codec.IsAvailable);
        var raw = new DeterministicRandom(3).Text(5000);
        var block = new byte[6000];
        int n = Lz4Codec.Compress(raw, block);
        block = block[..n];
        var good = RawStream.Build(RawStream.Forward(), RawStream.Header(H(ChunkType.Data, ChunkFlags.Lz4, 1, wire: (uint)n, raw: 5000, crc: Crc32C.Compute(block)), block));
        var reader = new ChunkReader();
        var buffer = Segments.Split(good, Enumerable.Repeat(7, 2000));
        Assert.True(reader.TryReadChunk(ref buffer, out var chunk));
        Assert.False(chunk.Payload.IsSingleSegment);
        var output = new byte[5000];
        Assert.Equal(5000, reader.DecodePayload(chunk, output));
        Assert.Equal(raw, output);
        Assert.Throws<ArgumentException>(() => reader.DecodePayload(chunk, new byte[4999]));

        // Same block claiming a larger raw_length: CRC fine, decode fails with a typed error.
        var lying = RawStream.Build(RawStream.Forward(), RawStream.Header(H(ChunkType.Data, ChunkFlags.Lz4, 1, wire: (uint)n, raw: 5001, crc: Crc32C.Compute(block)), block));
        var r2 = new ChunkReader();
        var b2 = new ReadOnlySequence<byte>(lying);
        Assert.True(r2.TryReadChunk(ref b2, out var c2));
        var e = Assert.Throws<StreamFormatException>(() => r2.DecodePayload(c2, new byte[5001]));
        Assert.Equal((StreamErrorCode.DecompressionFailed, First + ChunkHeader.Size), (e.Code, e.StreamOffset));

        // Garbage block with a valid CRC.
        var garbage = new DeterministicRandom(4).Bytes(100);
        var bad = RawStream.Build(RawStream.Forward(), RawStream.Header(H(ChunkType.Data, ChunkFlags.Lz4, 1, wire: 100, raw: 4000, crc: Crc32C.Compute(garbage)), garbage));
        var r3 = new ChunkReader();
        var b3 = new ReadOnlySequence<byte>(bad);
        Assert.True(r3.TryReadChunk(ref b3, out var c3));
        Assert.Equal(StreamErrorCode.DecompressionFailed, Assert.Throws<StreamFormatException>(() => r3.DecodePayload(c3, new byte[4000])).Code);
    }

    [Fact]
    public void ReadingAllocatesNothingPerChunk()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ChunkWriter(output, new ChunkWriterOptions { MaxPayload = 65536, ChunkSize = 4096 });
        writer.BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"));
        var data = new DeterministicRandom(6).Bytes(4096 * 200);
        writer.WriteData(1, data, DataPhase.PreCopy);
        var bytes = output.WrittenMemory;
        var validator = new StreamValidator();
        var reader = new ChunkReader();
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(reader.TryReadPreamble(ref buffer, out var preamble));
        validator.AcceptPreamble(preamble);
        Assert.True(reader.TryReadChunk(ref buffer, out var begin));
        validator.AcceptChunk(0, begin);
        Assert.True(reader.TryReadChunk(ref buffer, out var warm));
        validator.AcceptChunk(0, warm);
        long before = GC.GetAllocatedBytesForCurrentThread();
        int count = 0;
        while (reader.TryReadChunk(ref buffer, out var chunk))
        {
            validator.AcceptChunk(0, chunk);
            count++;
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(199, count);
    }

    /// <summary>
    /// A chunk fed in steps, its arrived payload hashed after each (as the blocking receive loop does): the same
    /// chunk comes out, and a flipped byte in the part hashed early or in the rest still fails the payload check.
    /// </summary>
    [Fact]
    public void PayloadHashedAsItArrivesIsStillCheckedWhole()
    {
        var payload = new byte[40_000];
        new Random(5).NextBytes(payload);
        byte[] stream = RawStream.Build(RawStream.Forward(), RawStream.Begin(1), RawStream.Data(1, 0, 1, 0, payload));
        int dataAt = stream.Length - ChunkHeader.Size - payload.Length;
        foreach (int? flip in new int?[] { null, dataAt + ChunkHeader.Size + 3, dataAt + ChunkHeader.Size + 30_000, stream.Length - 1 })
        {
            foreach (int step in new[] { 1_000, 7_777, 39_999 })
            {
                var bytes = (byte[])stream.Clone();
                if (flip is int at) bytes[at] ^= 0x40;
                var reader = new ChunkReader();
                var chunks = new List<(ChunkType Type, byte[] Payload)>();
                int consumed = 0;
                try
                {
                    for (int arrived = Math.Min(step, bytes.Length); ; arrived = Math.Min(arrived + step, bytes.Length))
                    {
                        var buffer = new ReadOnlySequence<byte>(bytes, consumed, arrived - consumed);
                        while (reader.TryReadChunk(ref buffer, out var chunk)) chunks.Add((chunk.Header.Type, chunk.Payload.ToArray()));
                        reader.HashArrivedPayload(buffer);
                        consumed = arrived - (int)buffer.Length;
                        if (arrived == bytes.Length) break;
                    }
                }
                catch (StreamFormatException e) when (flip is not null)
                {
                    Assert.Equal(StreamErrorCode.PayloadChecksumMismatch, e.Code);
                    Assert.Equal(dataAt + ChunkHeader.Size, e.StreamOffset);
                    continue;
                }
                Assert.True(flip is null, $"a flipped byte at {flip} passed (step {step})");
                Assert.Equal([ChunkType.DeviceBegin, ChunkType.Data], chunks.Select(c => c.Type));
                Assert.Equal(payload, chunks[1].Payload);
            }
        }
    }
}
