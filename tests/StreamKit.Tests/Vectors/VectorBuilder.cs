using System.Buffers;
using System.Buffers.Binary;
using StreamKit.Wire;

namespace StreamKit.Tests.Vectors;

/// <summary>Where one chunk sits in a built channel, and the line the vector's expectations list for it.</summary>
internal sealed record BuiltChunk(long Offset, int Length, string Line);

/// <summary>
/// Writes a stream through <see cref="ChunkWriter"/> while keeping its own model of what every chunk must
/// look like (type, device, epoch, sequence, offset, lengths, flags). The model is independent of the
/// writer, so a change in the writer's numbering or codec decisions shows up as a vector mismatch.
/// </summary>
internal sealed class VectorBuilder
{
    private readonly ArrayBufferWriter<byte>[] _outputs;
    private readonly ChunkWriter[] _writers;
    private readonly List<BuiltChunk>[] _chunks;
    private readonly long[] _position;
    private readonly bool _compress;
    private readonly bool _detectZeros;
    private readonly int _chunkSize;
    private readonly Dictionary<ushort, (List<byte> Data, List<byte> Config)> _images = [];
    private readonly List<DeviceExpectation> _devices = [];
    private readonly Dictionary<ushort, (uint Epoch, ulong Seq, ulong Data, ulong Config)> _model = [];

    public static readonly Guid VectorStreamId = new("5354524d-4b49-5400-8000-000000000001");

    public VectorBuilder(int channels = 1, bool compress = false, bool detectZeros = true, uint maxPayload = 64 * 1024,
        StreamCapabilities capabilities = StreamCapabilities.PrecopyHints)
    {
        var options = new ChunkWriterOptions
        {
            StreamId = VectorStreamId,
            MaxPayload = maxPayload,
            ChunkSize = (int)Math.Min(maxPayload, 16 * 1024),
            MaxDevices = 8,
            Compress = compress,
            DetectZeroRuns = detectZeros,
            Capabilities = capabilities,
            Compressor = compress ? TestLz4Encoder.Compress : null,
        };
        _compress = compress;
        _chunkSize = options.ChunkSize;
        _detectZeros = detectZeros;
        _outputs = Enumerable.Range(0, channels).Select(_ => new ArrayBufferWriter<byte>()).ToArray();
        _writers = ChunkWriter.CreateChannels(options, _outputs);
        _chunks = Enumerable.Range(0, channels).Select(_ => new List<BuiltChunk>()).ToArray();
        _position = Enumerable.Repeat((long)Preamble.Size, channels).ToArray();
    }

    public ChunkWriter Writer(int channel = 0) => _writers[channel];
    public IReadOnlyList<DeviceExpectation> Devices => _devices;
    public IReadOnlyList<BuiltChunk> Chunks(int channel = 0)
    {
        CheckSizes();
        return _chunks[channel];
    }

    public byte[] Bytes(int channel = 0)
    {
        CheckSizes();
        return _outputs[channel].WrittenSpan.ToArray();
    }

    public void Begin(ushort device, string name, string driver, ulong flags = 0x7, ulong estimate = DeviceBeginRecord.UnknownEstimate, int channel = 0)
    {
        var record = new DeviceBeginRecord(flags, estimate, name, driver);
        _writers[channel].BeginDevice(device, record);
        _model[device] = (0, 0, 0, 0);
        _images[device] = ([], []);
        Add(channel, ChunkType.DeviceBegin, ChunkFlags.None, device, record.EncodedLength, record.EncodedLength, advanceData: 0);
    }

    public void Data(ushort device, byte[] raw, DataPhase phase, int channel = 0)
    {
        var flags = phase == DataPhase.StopCopy ? ChunkFlags.StopCopy : ChunkFlags.None;
        _writers[channel].WriteData(device, raw, phase);
        int chunkSize = _chunkSize;
        _images[device].Data.AddRange(raw);
        for (int at = 0; at < raw.Length; at += chunkSize)
        {
            var piece = raw.AsSpan(at, Math.Min(chunkSize, raw.Length - at));
            if (_detectZeros && !piece.ContainsAnyExcept((byte)0))
            {
                Add(channel, ChunkType.ZeroRun, flags, device, 0, piece.Length, advanceData: piece.Length);
                continue;
            }
            var f = flags;
            int wire = PredictWire(piece, ref f);
            Add(channel, ChunkType.Data, f, device, wire, piece.Length, advanceData: piece.Length);
        }
    }

    public void ZeroRun(ushort device, uint length, DataPhase phase, int channel = 0)
    {
        _writers[channel].WriteZeroRun(device, length, phase);
        _images[device].Data.AddRange(new byte[length]);
        Add(channel, ChunkType.ZeroRun, phase == DataPhase.StopCopy ? ChunkFlags.StopCopy : ChunkFlags.None, device, 0, (int)length, advanceData: (int)length);
    }

    public void Config(ushort device, byte[] raw, int channel = 0)
    {
        _writers[channel].WriteConfig(device, raw);
        _images[device].Config.AddRange(raw);
        for (int at = 0; at < raw.Length; at += _chunkSize)
        {
            int n = Math.Min(_chunkSize, raw.Length - at);
            var m = _model[device];
            var f = ChunkFlags.None;
            int wire = PredictWire(raw.AsSpan(at, n), ref f);
            AddLine(channel, ChunkType.Config, f, device, m.Epoch, m.Seq, m.Config, wire, n);
            _model[device] = m with { Seq = m.Seq + 1, Config = m.Config + (ulong)n };
        }
    }

    public void PrecopyInfo(ushort device, ulong initial, ulong dirty, int channel = 0)
    {
        _writers[channel].WritePrecopyInfo(device, new PrecopyInfoRecord(initial, dirty));
        Add(channel, ChunkType.PrecopyInfo, ChunkFlags.Optional, device, PrecopyInfoRecord.Size, PrecopyInfoRecord.Size, advanceData: 0);
    }

    public void Discard(ushort device, DiscardReason reason, int channel = 0)
    {
        _writers[channel].Discard(device, reason);
        var m = _model[device];
        _model[device] = (m.Epoch + 1, 0, 0, 0);
        _images[device] = ([], []);
        Add(channel, ChunkType.Discard, ChunkFlags.None, device, DiscardRecord.Size, DiscardRecord.Size, advanceData: 0);
    }

    public DeviceEndRecord End(ushort device, int channel = 0)
    {
        var record = _writers[channel].EndDevice(device);
        var (data, config) = _images[device];
        var expected = new DeviceEndRecord((ulong)data.Count, (ulong)config.Count, Crc32C.Compute(data.ToArray()), Crc32C.Compute(config.ToArray()));
        if (record != expected) throw new InvalidOperationException($"writer's DEVICE_END {record} differs from the model's {expected}");
        _devices.Add(new DeviceExpectation(device, _model[device].Epoch, record.DataBytes, record.ConfigBytes, $"0x{record.DataCrc:X8}", $"0x{record.ConfigCrc:X8}"));
        Add(channel, ChunkType.DeviceEnd, ChunkFlags.None, device, DeviceEndRecord.Size, DeviceEndRecord.Size, advanceData: 0);
        return record;
    }

    public void Padding(int length, int channel = 0)
    {
        _writers[channel].WritePadding(length);
        AddLine(channel, ChunkType.Padding, ChunkFlags.None, 0, 0, 0, 0, length, length);
    }

    public void Opaque(ChunkType type, ChunkFlags flags, ushort device, byte[] payload, int channel = 0)
    {
        _writers[channel].WriteOpaque(type, flags, device, payload);
        if (device == 0) AddLine(channel, type, flags, 0, 0, 0, 0, payload.Length, payload.Length);
        else Add(channel, type, flags, device, payload.Length, payload.Length, advanceData: 0);
    }

    public void EndStream(int channel = 0)
    {
        _writers[channel].EndStream();
        AddLine(channel, ChunkType.StreamEnd, ChunkFlags.None, 0, 0, 0, 0, StreamEndRecord.Size, StreamEndRecord.Size);
    }

    public void EndAll()
    {
        for (int c = 0; c < _writers.Length; c++) EndStream(c);
    }

    public void Abort(StreamErrorCode reason, string text, int channel = 0)
    {
        _writers[channel].Abort(reason, text);
        int length = ReasonRecord.HeaderSize + System.Text.Encoding.UTF8.GetByteCount(text);
        AddLine(channel, ChunkType.Abort, ChunkFlags.None, 0, 0, 0, 0, length, length);
    }

    private void Add(int channel, ChunkType type, ChunkFlags flags, ushort device, int wire, int raw, int advanceData)
    {
        var m = _model[device];
        AddLine(channel, type, flags, device, m.Epoch, m.Seq, m.Data, wire, raw);
        _model[device] = m with { Seq = m.Seq + 1, Data = m.Data + (ulong)advanceData };
    }

    private void AddLine(int channel, ChunkType type, ChunkFlags flags, ushort device, uint epoch, ulong seq, ulong offset, int wire, int raw)
    {
        string line = Describe(type, flags, device, epoch, seq, offset, (uint)wire, (uint)raw);
        _chunks[channel].Add(new BuiltChunk(_position[channel], ChunkHeader.Size + wire, line));
        _position[channel] += ChunkHeader.Size + wire;
    }

    /// <summary>The writer's codec policy: LZ4 for payloads of 64+ bytes when the block is at most 7/8 of the raw size.</summary>
    private int PredictWire(ReadOnlySpan<byte> piece, ref ChunkFlags flags)
    {
        if (!_compress || piece.Length < 64) return piece.Length;
        var packed = new byte[piece.Length + piece.Length / 255 + 16];
        int n = TestLz4Encoder.Compress(piece, packed);
        if (n <= 0 || n * 8L > piece.Length * 7L) return piece.Length;
        flags |= ChunkFlags.Lz4;
        return n;
    }

    private void CheckSizes()
    {
        for (int c = 0; c < _writers.Length; c++)
            if (_position[c] != _writers[c].BytesWritten)
                throw new InvalidOperationException($"channel {c}: the model expects {_position[c]} bytes, the writer wrote {_writers[c].BytesWritten}");
    }

    /// <summary>The expectation line format used in expected.json (also produced from decoded headers).</summary>
    public static string Describe(ChunkType type, ChunkFlags flags, ushort device, uint epoch, ulong seq, ulong offset, uint wire, uint raw) =>
        $"{TypeName(type)} dev={device} epoch={epoch} seq={seq} off={offset} wire={wire} raw={raw} flags=0x{(byte)flags:X2}";

    public static string Describe(in ChunkHeader h) => Describe(h.Type, h.Flags, h.Device, h.Epoch, h.Sequence, h.Offset, h.WireLength, h.RawLength);

    /// <summary>The spec's name; unknown values as TYPE_0xNN (the form expected.json has always used).</summary>
    public static string TypeName(ChunkType type) =>
        Enum.IsDefined(type) ? ChunkTypeRules.Name(type) : $"TYPE_0x{(byte)type:X2}";
}

/// <summary>Byte surgery on valid channel images for the malformed vectors.</summary>
internal static class Mutate
{
    public static byte[] Cut(byte[] data, long length) => data.AsSpan(0, (int)length).ToArray();

    public static byte[] Remove(byte[] data, BuiltChunk chunk) =>
        [.. data.AsSpan(0, (int)chunk.Offset), .. data.AsSpan((int)(chunk.Offset + chunk.Length))];

    public static byte[] Insert(byte[] data, long at, ReadOnlySpan<byte> bytes) =>
        [.. data.AsSpan(0, (int)at), .. bytes, .. data.AsSpan((int)at)];

    public static byte[] Slice(byte[] data, BuiltChunk chunk) => data.AsSpan((int)chunk.Offset, chunk.Length).ToArray();

    public static byte[] FlipBit(byte[] data, long offset, int bit)
    {
        var copy = (byte[])data.Clone();
        copy[offset] ^= (byte)(1 << bit);
        return copy;
    }

    /// <summary>Edits a v1.0 preamble and re-seals its CRC.</summary>
    public static byte[] Preamble(byte[] data, Action<Span<byte>> edit)
    {
        var copy = (byte[])data.Clone();
        edit(copy.AsSpan(0, Wire.Preamble.Size));
        Reseal(copy.AsSpan(0, Wire.Preamble.Size));
        return copy;
    }

    public static void Reseal(Span<byte> preamble) =>
        BinaryPrimitives.WriteUInt32LittleEndian(preamble[^4..], Crc32C.Compute(preamble[..^4]));

    /// <summary>Edits a chunk's payload and re-seals payload and header CRCs, so only the semantics are wrong.</summary>
    public static byte[] Payload(byte[] data, BuiltChunk chunk, Action<Span<byte>> edit)
    {
        var copy = (byte[])data.Clone();
        var whole = copy.AsSpan((int)chunk.Offset, chunk.Length);
        edit(whole[ChunkHeader.Size..]);
        var header = ChunkHeader.Decode(whole, chunk.Offset);
        (header with { PayloadCrc = Crc32C.Compute(whole[ChunkHeader.Size..]) }).Encode(whole);
        return copy;
    }

    /// <summary>A sealed chunk built by hand (header CRC and payload CRC correct).</summary>
    public static byte[] Chunk(ChunkType type, ChunkFlags flags, ushort device, uint epoch, ulong seq, ulong offset, byte[] payload)
    {
        var bytes = new byte[ChunkHeader.Size + payload.Length];
        payload.CopyTo(bytes, ChunkHeader.Size);
        new ChunkHeader(type, flags, device, epoch, seq, offset, (uint)payload.Length, (uint)payload.Length,
            payload.Length == 0 ? 0 : Crc32C.Compute(payload)).Encode(bytes);
        return bytes;
    }
}
