using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using StreamKit.Tests.Format.Support;
using StreamKit.Tests.Vectors;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Format;

public class ChunkWriterTests
{
    private static ChunkWriterOptions Options(bool compress = false, bool zeros = true, uint maxPayload = 65536) =>
        new() { StreamId = VectorBuilder.VectorStreamId, MaxPayload = maxPayload, ChunkSize = 16384, Compress = compress, DetectZeroRuns = zeros, Capabilities = StreamCapabilities.PrecopyHints };

    private static List<Chunk> ReadAll(byte[] bytes)
    {
        var reader = new ChunkReader();
        var buffer = new ReadOnlySequence<byte>(bytes);
        var chunks = new List<Chunk>();
        while (reader.TryReadChunk(ref buffer, out var chunk)) chunks.Add(chunk);
        return chunks;
    }

    [Fact]
    public void StoredPayloadIsFilledInPlaceBehindTheHeader()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ChunkWriter(output, Options());
        writer.BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"));
        Memory<byte> payload = writer.GetPayloadMemory(1000);
        Assert.True(payload.Length >= 1000);
        new DeterministicRandom(1).Fill(payload.Span[..1000]);
        long headerAt = writer.BytesWritten;
        var header = writer.CommitData(1, 1000, DataPhase.PreCopy);

        Assert.Equal(ChunkType.Data, header.Type);
        Assert.Equal(PayloadCodec.Stored, header.Codec);
        Assert.True(MemoryMarshal.TryGetArray<byte>(payload, out var reserved));
        Assert.True(MemoryMarshal.TryGetArray(output.WrittenMemory, out var written));
        Assert.Same(written.Array, reserved.Array); // same buffer: no copy between reservation and output
        Assert.Equal(headerAt + ChunkHeader.Size, reserved.Offset - written.Offset);
        Assert.Equal(header, ChunkHeader.Decode(output.WrittenSpan[(int)headerAt..], headerAt));
    }

    [Fact]
    public void CommitChoosesZeroRunLz4OrStored()
    {
        Assert.True(Lz4Codec.IsAvailable, "liblz4.so.1 (Debian liblz4-1) must be installed for the test suite");
        var rng = new DeterministicRandom(2);
        var output = new ArrayBufferWriter<byte>();
        var writer = new ChunkWriter(output, Options(compress: true));
        writer.BeginDevice(3, new DeviceBeginRecord(7, 0, "a", "b"));

        var zero = writer.GetPayloadSpan(4096);
        zero[..4096].Clear();
        var h1 = writer.CommitData(3, 4096, DataPhase.PreCopy);
        Assert.Equal((ChunkType.ZeroRun, 0u, 4096u, 0ul), (h1.Type, h1.WireLength, h1.RawLength, h1.Offset));

        var text = rng.Text(8192);
        text.CopyTo(writer.GetPayloadSpan(8192));
        var h2 = writer.CommitData(3, 8192, DataPhase.PreCopy);
        Assert.Equal((ChunkType.Data, PayloadCodec.Lz4, 4096ul), (h2.Type, h2.Codec, h2.Offset));
        Assert.True(h2.WireLength * 8 <= 8192 * 7);

        var random = rng.Bytes(8192);
        random.CopyTo(writer.GetPayloadSpan(8192));
        var h3 = writer.CommitData(3, 8192, DataPhase.StopCopy);
        Assert.Equal((PayloadCodec.Stored, 8192u, ChunkFlags.StopCopy), (h3.Codec, h3.WireLength, h3.Flags));
        Assert.Equal((ulong)(4096 + 8192), h3.Offset);

        var end = writer.EndDevice(3);
        byte[] all = [.. new byte[4096], .. text, .. random];
        Assert.Equal(new DeviceEndRecord((ulong)all.Length, 0, Crc32C.Compute(all), 0), end);

        var chunks = ReadAll(output.WrittenSpan.ToArray());
        var reader = new ChunkReader();
        var back = new byte[8192];
        Assert.Equal(8192, reader.DecodePayload(chunks[2], back));
        Assert.Equal(text, back);
    }

    [Fact]
    public void ZeroDetectionCanBeTurnedOff()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ChunkWriter(output, Options(zeros: false));
        writer.BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"));
        writer.WriteData(1, new byte[100], DataPhase.PreCopy);
        Assert.Equal(ChunkType.Data, ReadAll(output.WrittenSpan.ToArray())[1].Header.Type);
    }

    [Fact]
    public void MisuseIsRejectedBeforeAnythingIsWritten()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ChunkWriter(output, new ChunkWriterOptions { MaxPayload = 65536, ChunkSize = 16384, MaxDevices = 2, Capabilities = StreamCapabilities.PrecopyHints });
        Assert.Throws<InvalidOperationException>(() => writer.WriteData(1, [1], DataPhase.PreCopy));          // not begun
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.BeginDevice(0, new DeviceBeginRecord(0, 0, "", "")));
        Assert.Throws<InvalidOperationException>(() => writer.CommitData(1, 1, DataPhase.PreCopy));           // no reservation
        writer.BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"));
        writer.BeginDevice(2, new DeviceBeginRecord(7, 0, "a", "b"));
        Assert.Throws<InvalidOperationException>(() => writer.BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"))); // twice
        Assert.Throws<InvalidOperationException>(() => writer.BeginDevice(3, new DeviceBeginRecord(7, 0, "a", "b"))); // > max devices
        writer.WriteData(1, [1, 2, 3], DataPhase.StopCopy);
        Assert.Throws<InvalidOperationException>(() => writer.WriteData(1, [1], DataPhase.PreCopy));          // back to pre-copy
        Assert.Throws<InvalidOperationException>(() => writer.Discard(1, DiscardReason.SourceDeviceReset));    // reset in STOP_COPY
        Assert.Throws<InvalidOperationException>(() => writer.WritePrecopyInfo(1, new PrecopyInfoRecord(0, 0)));
        writer.GetPayloadSpan(10);
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.CommitData(1, 0, DataPhase.StopCopy));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.GetPayloadSpan(65537));
        writer.EndDevice(1);
        Assert.Throws<InvalidOperationException>(() => writer.WriteData(1, [1], DataPhase.StopCopy));         // after end
        Assert.Throws<InvalidOperationException>(() => writer.EndStream());                                   // device 2 open
        writer.EndDevice(2);
        long before = writer.BytesWritten;
        writer.EndStream();
        Assert.True(writer.IsEnded);
        Assert.Throws<InvalidOperationException>(() => writer.WritePadding(0));
        Assert.Equal(before + ChunkHeader.Size + StreamEndRecord.Size, output.WrittenCount);
        RawStream.Verify(output.WrittenSpan.ToArray()); // what did get written is a valid stream
    }

    [Fact]
    public void PrecopyInfoNeedsItsCapability()
    {
        var writer = new ChunkWriter(new ArrayBufferWriter<byte>(), new ChunkWriterOptions { MaxPayload = 65536, ChunkSize = 4096 });
        writer.BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"));
        Assert.Throws<InvalidOperationException>(() => writer.WritePrecopyInfo(1, new PrecopyInfoRecord(1, 0)));
    }

    [Fact]
    public void DiscardRestartsNumberingAndReportsDiscardedBytes()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ChunkWriter(output, Options());
        writer.BeginDevice(9, new DeviceBeginRecord(7, 0, "a", "b"));
        writer.WriteData(9, new byte[] { 1, 2, 3 }, DataPhase.PreCopy);
        writer.Discard(9, DiscardReason.SourceDeviceReset);
        writer.WriteData(9, new byte[] { 4, 5 }, DataPhase.PreCopy);
        writer.Discard(9, DiscardReason.SourceSessionEnded);
        writer.WriteData(9, new byte[] { 6 }, DataPhase.StopCopy);
        var end = writer.EndDevice(9);
        writer.EndStream();
        Assert.Equal(new DeviceEndRecord(1, 0, Crc32C.Compute([6]), 0), end);
        var chunks = ReadAll(output.WrittenSpan.ToArray());
        var discards = chunks.Where(c => c.Header.Type == ChunkType.Discard).ToList();
        Assert.Equal([1u, 2u], discards.Select(c => c.Header.Epoch));
        Assert.All(discards, c => Assert.Equal((0ul, 0ul), (c.Header.Sequence, c.Header.Offset)));
        Assert.Equal(3ul, DiscardRecord.Decode(discards[0].Payload.ToArray(), 0).BytesDiscarded);
        Assert.Equal(5ul, DiscardRecord.Decode(discards[1].Payload.ToArray(), 0).BytesDiscarded);
        var last = chunks.Single(c => c.Header.Type == ChunkType.DeviceEnd).Header;
        Assert.Equal((2u, 2ul, 1ul), (last.Epoch, last.Sequence, last.Offset));
        Assert.Equal(2u, RawStream.Verify(output.WrittenSpan.ToArray()).Devices.Single().FinalEpoch);
    }

    [Fact]
    public void ChannelsShareDeviceNumberingAndKeepTheirOwnTotals()
    {
        var outputs = new[] { new ArrayBufferWriter<byte>(), new ArrayBufferWriter<byte>(), new ArrayBufferWriter<byte>() };
        var writers = ChunkWriter.CreateChannels(Options(), outputs);
        Assert.Equal([0, 1, 2], writers.Select(w => (int)w.Preamble.ChannelIndex));
        Assert.All(writers, w => Assert.Equal(3, w.Preamble.ChannelCount));
        writers[0].BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"));
        writers[1].WriteData(1, new byte[10], DataPhase.PreCopy);      // zero run, seq 1
        writers[2].WriteData(1, new byte[] { 1, 2 }, DataPhase.PreCopy); // seq 2, offset 10
        writers[1].EndDevice(1);
        writers[0].EndStream();
        Assert.Throws<InvalidOperationException>(() => writers[2].BeginDevice(2, new DeviceBeginRecord(7, 0, "a", "b"))); // device_count is final
        writers[1].EndStream();
        writers[2].EndStream();
        var images = outputs.Select(o => o.WrittenSpan.ToArray()).ToArray();
        var ends = images.Select(i => StreamEndRecord.Decode(ReadAll(i)[^1].Payload.ToArray(), 0)).ToArray();
        Assert.Equal(new StreamEndRecord(1, 1, 0), ends[0]);
        Assert.Equal(new StreamEndRecord(1, 2, 10), ends[1]);
        Assert.Equal(new StreamEndRecord(1, 1, 2), ends[2]);
        var data = ReadAll(images[2])[0].Header;
        Assert.Equal((2ul, 10ul), (data.Sequence, data.Offset));
        Assert.True(RawStream.Verify(images).IsComplete);
    }

    [Fact]
    public void PipeWriterWorks()
    {
        var pipe = new Pipe();
        var writer = new ChunkWriter(pipe.Writer, Options());
        writer.BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"));
        var span = writer.GetPayloadSpan(50000); // larger than a pool block
        new DeterministicRandom(3).Fill(span[..50000]);
        writer.CommitData(1, 50000, DataPhase.StopCopy);
        writer.EndDevice(1);
        writer.EndStream();
        pipe.Writer.Complete();
        Assert.True(pipe.Reader.TryRead(out var result));
        var summary = StreamValidator.Verify([result.Buffer]);
        Assert.Equal(50000ul, summary.Devices.Single().StopCopyBytes);
    }

    [Fact]
    public void HotPathAllocatesNothingPerChunk()
    {
        Assert.True(Lz4Codec.IsAvailable);
        var output = new RecyclingBufferWriter(1 << 20);
        var writer = new ChunkWriter(output, Options(compress: true));
        writer.BeginDevice(1, new DeviceBeginRecord(7, 0, "a", "b"));
        var text = new DeterministicRandom(4).Text(8192);
        var random = new DeterministicRandom(5).Bytes(8192);
        void Round()
        {
            text.CopyTo(writer.GetPayloadSpan(8192));
            writer.CommitData(1, 8192, DataPhase.PreCopy);   // LZ4
            random.CopyTo(writer.GetPayloadSpan(8192));
            writer.CommitData(1, 8192, DataPhase.PreCopy);   // stored
            writer.GetPayloadSpan(4096)[..4096].Clear();
            writer.CommitData(1, 4096, DataPhase.PreCopy);   // zero run
            writer.WritePrecopyInfo(1, new PrecopyInfoRecord(1, 2));
        }
        for (int i = 0; i < 10; i++) Round(); // warm-up: JIT, scratch buffer
        // A per-chunk allocation shows in every window; a one-off the runtime makes on this thread (seen once in a full,
        // parallel suite run while methods were still tiering up) shows in one. The quietest window must be empty.
        long quietest = long.MaxValue;
        for (int window = 0; window < 3; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 500; i++) Round();
            quietest = Math.Min(quietest, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        Assert.Equal(0, quietest);
    }

    [Fact]
    public void ReturnPathRoundTrips()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ReturnPathWriter(output, VectorBuilder.VectorStreamId, StreamCapabilities.ReturnPath | StreamCapabilities.SwitchoverAck);
        writer.WriteAck(2, 1, 4096);
        writer.WriteSwitchoverAck();
        writer.WriteFinalAck(new FinalAckRecord(StreamErrorCode.None, 2, 8192));
        Assert.Throws<InvalidOperationException>(() => writer.WriteSwitchoverAck());

        var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath });
        var buffer = new ReadOnlySequence<byte>(output.WrittenMemory);
        var chunks = new List<Chunk>();
        while (reader.TryReadChunk(ref buffer, out var chunk)) chunks.Add(chunk);
        reader.Finish(buffer);
        Assert.Equal(PreambleRole.ReturnPath, reader.Preamble.Role);
        Assert.Equal([ChunkType.Ack, ChunkType.SwitchoverAck, ChunkType.FinalAck], chunks.Select(c => c.Header.Type));
        Assert.Equal((2, 1u, 4096ul), (chunks[0].Header.Device, chunks[0].Header.Epoch, chunks[0].Header.Offset));
        Assert.Equal(new FinalAckRecord(StreamErrorCode.None, 2, 8192), FinalAckRecord.Decode(chunks[2].Payload.ToArray(), 0));

        // A forward reader refuses a return path, and vice versa.
        var e = Assert.Throws<StreamFormatException>(() => new ChunkReader().TryReadChunk(ref Ref(output.WrittenMemory), out _));
        Assert.Equal((StreamErrorCode.BadPreambleField, (long)Preamble.RoleOffset), (e.Code, e.StreamOffset));
    }

    [Fact]
    public void ReturnPathValidatorChecksAcksAndRecords()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ReturnPathWriter(output, VectorBuilder.VectorStreamId, StreamCapabilities.ReturnPath);
        writer.WriteAck(1, 0, 100);
        writer.WriteAck(1, 0, 200);
        writer.WriteAck(1, 1, 50);   // new epoch after a discard: offset restarts
        writer.WriteAck(2, 0, 10);
        writer.WriteAck(1, 1, 40);   // goes back
        var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath });
        var validator = new ReturnPathValidator(VectorBuilder.VectorStreamId);
        var buffer = new ReadOnlySequence<byte>(output.WrittenMemory);
        Assert.True(reader.TryReadPreamble(ref buffer, out var preamble));
        validator.AcceptPreamble(preamble);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(reader.TryReadChunk(ref buffer, out var ack));
            Assert.Equal(ChunkType.Ack, validator.Accept(ack).Type);
        }
        Assert.True(validator.TryGetAcked(1, out uint epoch, out ulong bytes));
        Assert.Equal((1u, 50ul), (epoch, bytes));
        Assert.True(reader.TryReadChunk(ref buffer, out var back));
        Assert.Equal(StreamErrorCode.OffsetMismatch, Assert.Throws<StreamFormatException>(() => validator.Accept(back)).Code);
        Assert.Equal(StreamErrorCode.BadChannel, Assert.Throws<StreamFormatException>(() => new ReturnPathValidator(Guid.Empty).AcceptPreamble(preamble)).Code);

        var output2 = new ArrayBufferWriter<byte>();
        var writer2 = new ReturnPathWriter(output2, VectorBuilder.VectorStreamId, StreamCapabilities.ReturnPath);
        writer2.WriteAck(1, 2, 0);
        writer2.WriteAck(1, 1, 9);
        var reader2 = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath });
        var validator2 = new ReturnPathValidator(VectorBuilder.VectorStreamId);
        var buffer2 = new ReadOnlySequence<byte>(output2.WrittenMemory);
        Assert.True(reader2.TryReadChunk(ref buffer2, out var a1));
        validator2.Accept(a1);
        Assert.True(reader2.TryReadChunk(ref buffer2, out var a2));
        Assert.Equal(StreamErrorCode.EpochRegression, Assert.Throws<StreamFormatException>(() => validator2.Accept(a2)).Code);
    }

    [Fact]
    public void ErrorOnTheReturnPathCarriesItsReason()
    {
        var output = new ArrayBufferWriter<byte>();
        var writer = new ReturnPathWriter(output, VectorBuilder.VectorStreamId, StreamCapabilities.ReturnPath);
        writer.WriteError(StreamErrorCode.DeviceRejected, "write failed: EFAULT");
        var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath });
        var buffer = new ReadOnlySequence<byte>(output.WrittenMemory);
        Assert.True(reader.TryReadChunk(ref buffer, out var chunk));
        Assert.Equal(new ReasonRecord(StreamErrorCode.DeviceRejected, "write failed: EFAULT"), ReasonRecord.Decode(chunk.Payload.ToArray(), 0));
        Assert.Equal(new ReasonRecord(StreamErrorCode.DeviceRejected, "write failed: EFAULT"), new ReturnPathValidator(VectorBuilder.VectorStreamId).Accept(chunk).Error);
        Assert.True(reader.IsEnded);
        reader.Finish(buffer);
    }

    private static ReadOnlySequence<byte> _scratch;
    private static ref ReadOnlySequence<byte> Ref(ReadOnlyMemory<byte> memory)
    {
        _scratch = new ReadOnlySequence<byte>(memory);
        return ref _scratch;
    }
}
