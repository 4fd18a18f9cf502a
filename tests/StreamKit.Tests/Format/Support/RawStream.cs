using System.Buffers;
using StreamKit.Tests.Vectors;
using StreamKit.Wire;

namespace StreamKit.Tests.Format.Support;

/// <summary>Hand-built channels for rule tests: a preamble plus sealed chunks with any field values.</summary>
internal static class RawStream
{
    public static Preamble Forward(ushort index = 0, ushort count = 1, StreamCapabilities caps = StreamCapabilities.Lz4, uint maxPayload = 65536, uint maxDevices = 8) =>
        new(VectorBuilder.VectorStreamId, index, count, caps, maxPayload, maxDevices, PreambleRole.Forward);

    public static byte[] PreambleBytes(Preamble p)
    {
        var bytes = new byte[Preamble.Size];
        p.Encode(bytes);
        return bytes;
    }

    public static byte[] Build(Preamble preamble, params byte[][] chunks) =>
        [.. PreambleBytes(preamble), .. chunks.SelectMany(c => c)];

    public static byte[] Chunk(ChunkType type, ushort device = 0, uint epoch = 0, ulong seq = 0, ulong offset = 0, byte[]? payload = null, ChunkFlags flags = ChunkFlags.None) =>
        Mutate.Chunk(type, flags, device, epoch, seq, offset, payload ?? []);

    /// <summary>A header with explicit lengths and CRC (payload bytes appended as given).</summary>
    public static byte[] Header(ChunkHeader header, byte[]? payload = null)
    {
        var bytes = new byte[ChunkHeader.Size + (payload?.Length ?? 0)];
        header.Encode(bytes);
        payload?.CopyTo(bytes, ChunkHeader.Size);
        return bytes;
    }

    public static byte[] Begin(ushort device, string name = "dev") =>
        Record(ChunkType.DeviceBegin, device, 0, 0, 0, new DeviceBeginRecord(7, 100, name, "drv"));

    public static byte[] Record(ChunkType type, ushort device, uint epoch, ulong seq, ulong offset, DeviceBeginRecord record)
    {
        var payload = new byte[record.EncodedLength];
        record.Encode(payload);
        return Chunk(type, device, epoch, seq, offset, payload);
    }

    public static byte[] Data(ushort device, uint epoch, ulong seq, ulong offset, byte[] raw, bool stopCopy = false) =>
        Chunk(ChunkType.Data, device, epoch, seq, offset, raw, stopCopy ? ChunkFlags.StopCopy : ChunkFlags.None);

    public static byte[] Discard(ushort device, uint epoch, ulong bytesDiscarded = 0)
    {
        var payload = new byte[DiscardRecord.Size];
        new DiscardRecord(DiscardReason.SourceDeviceReset, bytesDiscarded).Encode(payload);
        return Chunk(ChunkType.Discard, device, epoch, 0, 0, payload);
    }

    public static byte[] End(ushort device, uint epoch, ulong seq, byte[] data, byte[]? config = null)
    {
        config ??= [];
        var payload = new byte[DeviceEndRecord.Size];
        new DeviceEndRecord((ulong)data.Length, (ulong)config.Length, Crc32C.Compute(data), Crc32C.Compute(config)).Encode(payload);
        return Chunk(ChunkType.DeviceEnd, device, epoch, seq, (ulong)data.Length, payload);
    }

    public static byte[] StreamEnd(uint devices, ulong chunksBefore, ulong deviceBytes)
    {
        var payload = new byte[StreamEndRecord.Size];
        new StreamEndRecord(devices, chunksBefore, deviceBytes).Encode(payload);
        return Chunk(ChunkType.StreamEnd, payload: payload);
    }

    /// <summary>Runs the full verify path over one or more channel images.</summary>
    public static StreamSummary Verify(params byte[][] channels) =>
        StreamValidator.Verify(channels.Select(c => new ReadOnlySequence<byte>(c)).ToList());

    public static StreamFormatException Fails(params byte[][] channels) =>
        Xunit.Assert.Throws<StreamFormatException>(() => Verify(channels));
}
