using System.Buffers;

namespace StreamKit.Wire;

/// <summary>
/// Writes one forward channel of a stream into an <see cref="IBufferWriter{T}"/> (a PipeWriter, an
/// ArrayBufferWriter, …). The constructor writes the preamble. Callers say what happens to a device
/// ("data for device 3", "discard device 3", "device 3 ended"); the writer numbers epochs, sequences
/// and offsets and keeps the running CRCs, so the stream it produces is always consistent.
/// <para>
/// Zero-copy data path: <see cref="GetPayloadSpan"/> hands out memory directly behind a reserved chunk
/// header in the output; the caller reads device data into it and calls <see cref="CommitData"/>, which
/// checksums it in place and sends it stored, as a ZERO_RUN, or LZ4-compressed when that saves ≥ 1/8.
/// The stored path copies nothing; the LZ4 path compresses into a scratch buffer and copies the smaller
/// result back behind the header. Nothing is allocated per chunk.
/// </para>
/// <para>
/// Threading: one writer is used by one thread at a time. Writers of several channels of one stream
/// (<see cref="CreateChannels"/>) may run on different threads, but all chunks of one device must be
/// written by one thread at a time, in the order the device produced its data.
/// </para>
/// </summary>
public sealed class ChunkWriter
{
    private readonly IBufferWriter<byte> _output;
    private readonly DeviceSequencer _sequencer;
    private readonly ChunkWriterOptions _options;
    private readonly PayloadCompressor? _compressor;
    private byte[]? _compressed;
    private Memory<byte> _reservation;
    private bool _reserved;
    private bool _ended;

    /// <summary>Creates the writer of a single-channel stream and writes its preamble.</summary>
    /// <exception cref="ArgumentException">Inconsistent options.</exception>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.CodecUnavailable"/>: compression asked for, liblz4 missing.</exception>
    public ChunkWriter(IBufferWriter<byte> output, ChunkWriterOptions options)
        : this(output, CreateSequencer(options), 0, 1)
    {
    }

    private ChunkWriter(IBufferWriter<byte> output, DeviceSequencer sequencer, ushort channelIndex, ushort channelCount)
    {
        ArgumentNullException.ThrowIfNull(output);
        _output = output;
        _sequencer = sequencer;
        _options = sequencer.Options;
        if (_options.Compress)
        {
            int acceleration = _options.CompressionAcceleration;
            _compressor = _options.Compressor ?? ((src, dst) => Lz4Codec.Compress(src, dst, acceleration));
        }
        Preamble = new Preamble(_options.StreamId, channelIndex, channelCount, _options.AnnouncedCapabilities,
            _options.MaxPayload, _options.MaxDevices, PreambleRole.Forward);
        Span<byte> span = _output.GetSpan(Preamble.Size);
        Preamble.Encode(span);
        _output.Advance(Preamble.Size);
        BytesWritten = Preamble.Size;
    }

    /// <summary>
    /// Creates one writer per output for a stream split over <c>outputs.Count</c> channels (channel i
    /// writes to outputs[i]) and writes their preambles. The writers share device numbering.
    /// </summary>
    public static ChunkWriter[] CreateChannels(ChunkWriterOptions options, IReadOnlyList<IBufferWriter<byte>> outputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        if (outputs.Count is < 1 or > ushort.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(outputs), outputs.Count, "a stream has 1..65535 channels");
        var sequencer = CreateSequencer(options);
        var writers = new ChunkWriter[outputs.Count];
        for (int i = 0; i < writers.Length; i++)
            writers[i] = new ChunkWriter(outputs[i], sequencer, (ushort)i, (ushort)outputs.Count);
        return writers;
    }

    private static DeviceSequencer CreateSequencer(ChunkWriterOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return new DeviceSequencer(options);
    }

    /// <summary>The preamble this channel started with.</summary>
    public Preamble Preamble { get; }

    /// <summary>Bytes written to this channel so far, preamble included.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Chunks written to this channel so far.</summary>
    public long ChunksWritten { get; private set; }

    /// <summary>Raw DATA + ZERO_RUN bytes written to this channel (STREAM_END's device_bytes).</summary>
    public ulong DeviceBytesWritten { get; private set; }

    /// <summary>True once STREAM_END or ABORT has been written; nothing may follow.</summary>
    public bool IsEnded => _ended;

    /// <summary>Announces a device (DEVICE_BEGIN, epoch 0, sequence 0).</summary>
    /// <exception cref="InvalidOperationException">Device already begun, too many devices, or the stream has ended.</exception>
    public void BeginDevice(ushort device, DeviceBeginRecord record)
    {
        int length = record.EncodedLength;
        Span<byte> chunk = StartSmall(length);
        record.Encode(chunk[ChunkHeader.Size..]);
        lock (_sequencer.Gate)
        {
            var state = _sequencer.Begin(device);
            Finish(chunk, ChunkType.DeviceBegin, ChunkFlags.None, device, 0, state.TakeSequence(), 0, length);
        }
    }

    /// <summary>
    /// Reserves a chunk header in the output and returns the payload memory right behind it: at least
    /// <paramref name="sizeHint"/> bytes, at most the stream's max payload. Fill it, then call
    /// <see cref="CommitData"/> or <see cref="CommitConfig"/>. Any other write cancels the reservation.
    /// </summary>
    public Span<byte> GetPayloadSpan(int sizeHint) => Reserve(sizeHint).Span;

    /// <summary>As <see cref="GetPayloadSpan"/>, as <see cref="Memory{T}"/> for asynchronous reads.</summary>
    public Memory<byte> GetPayloadMemory(int sizeHint) => Reserve(sizeHint);

    private Memory<byte> Reserve(int sizeHint)
    {
        EnsureWritable();
        if (sizeHint < 1 || (uint)sizeHint > _options.MaxPayload)
            throw new ArgumentOutOfRangeException(nameof(sizeHint), sizeHint, $"payload size must be 1..{_options.MaxPayload}");
        Memory<byte> memory = _output.GetMemory(ChunkHeader.Size + sizeHint);
        int usable = (int)Math.Min((uint)(memory.Length - ChunkHeader.Size), _options.MaxPayload);
        _reservation = memory[..(ChunkHeader.Size + usable)];
        _reserved = true;
        return _reservation[ChunkHeader.Size..];
    }

    /// <summary>
    /// Sends the first <paramref name="length"/> bytes of the reserved payload as device data of the
    /// current epoch: ZERO_RUN if all zero (and enabled), LZ4 if enabled and it saves ≥ 1/8, else stored.
    /// </summary>
    /// <returns>The header that was written.</returns>
    /// <exception cref="InvalidOperationException">No reservation; device not begun or ended; pre-copy data after stop-copy data.</exception>
    public ChunkHeader CommitData(ushort device, int length, DataPhase phase)
    {
        Span<byte> chunk = TakeReservation(length);
        Span<byte> raw = chunk.Slice(ChunkHeader.Size, length);
        var flags = phase == DataPhase.StopCopy ? ChunkFlags.StopCopy : ChunkFlags.None;

        if (_options.DetectZeroRuns && !raw.ContainsAnyExcept((byte)0))
            return WriteZeroRunCore(chunk, device, (uint)length, phase);

        uint rawCrc = Crc32C.Compute(raw);
        int wire = Pack(raw, rawCrc, ref flags, out uint payloadCrc);
        lock (_sequencer.Gate)
        {
            var state = OpenForData(device, phase);
            var header = new ChunkHeader(ChunkType.Data, flags, device, state.Epoch, state.TakeSequence(), state.DataOffset, (uint)wire, (uint)length, payloadCrc);
            state.DataOffset += (uint)length;
            state.DataBytesAllEpochs += (uint)length;
            state.DataCrc = Crc32CShift.Combine(state.DataCrc, rawCrc, length);
            return Emit(chunk, header, (uint)length);
        }
    }

    /// <summary>Sends the first <paramref name="length"/> reserved bytes as CONFIG (device metadata loaded after its data).</summary>
    public ChunkHeader CommitConfig(ushort device, int length)
    {
        Span<byte> chunk = TakeReservation(length);
        Span<byte> raw = chunk.Slice(ChunkHeader.Size, length);
        var flags = ChunkFlags.None;
        uint rawCrc = Crc32C.Compute(raw);
        int wire = Pack(raw, rawCrc, ref flags, out uint payloadCrc);
        lock (_sequencer.Gate)
        {
            var state = _sequencer.Open(device);
            var header = new ChunkHeader(ChunkType.Config, flags, device, state.Epoch, state.TakeSequence(), state.ConfigOffset, (uint)wire, (uint)length, payloadCrc);
            state.ConfigOffset += (uint)length;
            state.ConfigCrc = Crc32CShift.Combine(state.ConfigCrc, rawCrc, length);
            return Emit(chunk, header, 0);
        }
    }

    /// <summary>Copies <paramref name="data"/> into chunks of at most <see cref="ChunkWriterOptions.ChunkSize"/> bytes.</summary>
    public void WriteData(ushort device, ReadOnlySpan<byte> data, DataPhase phase)
    {
        while (!data.IsEmpty)
        {
            int piece = Math.Min(data.Length, _options.ChunkSize);
            data[..piece].CopyTo(GetPayloadSpan(piece));
            CommitData(device, piece, phase);
            data = data[piece..];
        }
    }

    /// <summary>Copies <paramref name="config"/> into CONFIG chunks of at most <see cref="ChunkWriterOptions.ChunkSize"/> bytes.</summary>
    public void WriteConfig(ushort device, ReadOnlySpan<byte> config)
    {
        while (!config.IsEmpty)
        {
            int piece = Math.Min(config.Length, _options.ChunkSize);
            config[..piece].CopyTo(GetPayloadSpan(piece));
            CommitConfig(device, piece);
            config = config[piece..];
        }
    }

    /// <summary>Sends <paramref name="length"/> zero data bytes as one header-only ZERO_RUN chunk.</summary>
    public ChunkHeader WriteZeroRun(ushort device, uint length, DataPhase phase)
    {
        if (length == 0 || length > _options.MaxPayload)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"a zero run is 1..{_options.MaxPayload} bytes");
        return WriteZeroRunCore(StartSmall(0), device, length, phase);
    }

    private ChunkHeader WriteZeroRunCore(Span<byte> chunk, ushort device, uint length, DataPhase phase)
    {
        var flags = phase == DataPhase.StopCopy ? ChunkFlags.StopCopy : ChunkFlags.None;
        lock (_sequencer.Gate)
        {
            var state = OpenForData(device, phase);
            var header = new ChunkHeader(ChunkType.ZeroRun, flags, device, state.Epoch, state.TakeSequence(), state.DataOffset, 0, length, 0);
            state.DataOffset += length;
            state.DataBytesAllEpochs += length;
            state.DataCrc = Crc32CShift.AppendZeros(state.DataCrc, length);
            return Emit(chunk, header, length);
        }
    }

    /// <summary>Sends the source's pre-copy hints (PRECOPY_INFO, an optional type) at the current data offset.</summary>
    /// <exception cref="InvalidOperationException">The stream did not announce PRECOPY_HINTS, or the device already sent stop-copy data this epoch.</exception>
    public void WritePrecopyInfo(ushort device, PrecopyInfoRecord info)
    {
        if ((_options.Capabilities & StreamCapabilities.PrecopyHints) == 0)
            throw new InvalidOperationException("PRECOPY_INFO needs the PRECOPY_HINTS capability in ChunkWriterOptions.Capabilities");
        Span<byte> chunk = StartSmall(PrecopyInfoRecord.Size);
        info.Encode(chunk[ChunkHeader.Size..]);
        lock (_sequencer.Gate)
        {
            var state = _sequencer.Open(device);
            if (state.StopCopySeen) throw new InvalidOperationException($"device {device}: PRECOPY_INFO after stop-copy data");
            Finish(chunk, ChunkType.PrecopyInfo, ChunkFlags.Optional, device, state.Epoch, state.TakeSequence(), state.DataOffset, PrecopyInfoRecord.Size);
        }
    }

    /// <summary>
    /// Starts the device's next epoch with a DISCARD: the receiver drops everything of earlier epochs,
    /// resets its device and resumes again; data then restarts at offset 0.
    /// </summary>
    /// <exception cref="InvalidOperationException">Device not open, or it already sent stop-copy data (a reset then must abort the stream).</exception>
    public void Discard(ushort device, DiscardReason reason)
    {
        if (reason == 0) throw new ArgumentOutOfRangeException(nameof(reason), "discard reason must be non-zero");
        Span<byte> chunk = StartSmall(DiscardRecord.Size);
        lock (_sequencer.Gate)
        {
            var state = _sequencer.Open(device);
            if (state.StopCopySeen) throw new InvalidOperationException($"device {device} already sent stop-copy data: a reset in STOP_COPY must abort the stream");
            if (state.Epoch == uint.MaxValue) throw new InvalidOperationException($"device {device} has no epochs left");
            new DiscardRecord(reason, state.DataBytesAllEpochs).Encode(chunk[ChunkHeader.Size..]);
            state.Epoch++;
            state.NextSequence = 0;
            state.DataOffset = state.ConfigOffset = 0;
            state.DataCrc = state.ConfigCrc = 0;
            Finish(chunk, ChunkType.Discard, ChunkFlags.None, device, state.Epoch, state.TakeSequence(), 0, DiscardRecord.Size);
        }
    }

    /// <summary>Ends the device (DEVICE_END with the epoch's byte counts and running CRCs). Nothing of the device may follow.</summary>
    public DeviceEndRecord EndDevice(ushort device)
    {
        Span<byte> chunk = StartSmall(DeviceEndRecord.Size);
        lock (_sequencer.Gate)
        {
            var state = _sequencer.Open(device);
            var record = new DeviceEndRecord(state.DataOffset, state.ConfigOffset, state.DataCrc, state.ConfigCrc);
            record.Encode(chunk[ChunkHeader.Size..]);
            state.Ended = true;
            Finish(chunk, ChunkType.DeviceEnd, ChunkFlags.None, device, state.Epoch, state.TakeSequence(), state.DataOffset, DeviceEndRecord.Size);
            return record;
        }
    }

    /// <summary>Writes a PADDING chunk of <paramref name="length"/> zero bytes (receivers ignore it).</summary>
    public void WritePadding(int length)
    {
        if (length < 0 || (uint)length > _options.MaxPayload)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"padding is 0..{_options.MaxPayload} bytes");
        Span<byte> chunk = StartSmall(length);
        chunk.Slice(ChunkHeader.Size, length).Clear();
        Finish(chunk, ChunkType.Padding, ChunkFlags.None, 0, 0, 0, 0, length);
    }

    /// <summary>Ends this channel with STREAM_END. Every device must have ended (on any channel).</summary>
    /// <exception cref="InvalidOperationException">A device is still open.</exception>
    public void EndStream()
    {
        Span<byte> chunk = StartSmall(StreamEndRecord.Size);
        lock (_sequencer.Gate)
        {
            var open = _sequencer.OpenDevices().ToList();
            if (open.Count > 0) throw new InvalidOperationException($"devices {string.Join(", ", open)} have not ended");
            _sequencer.DeviceSetClosed = true;
            new StreamEndRecord((uint)_sequencer.DeviceCount, (ulong)ChunksWritten, DeviceBytesWritten).Encode(chunk[ChunkHeader.Size..]);
        }
        Finish(chunk, ChunkType.StreamEnd, ChunkFlags.None, 0, 0, 0, 0, StreamEndRecord.Size);
        _ended = true;
    }

    /// <summary>Gives up: ABORT with a reason (text cut to 1024 UTF-8 bytes). Ends this channel.</summary>
    public void Abort(StreamErrorCode reason, string text)
    {
        var record = ReasonRecord.Create(reason, text);
        int length = record.EncodedLength;
        Span<byte> chunk = StartSmall(length);
        record.Encode(chunk[ChunkHeader.Size..]);
        Finish(chunk, ChunkType.Abort, ChunkFlags.None, 0, 0, 0, 0, length);
        _ended = true;
    }

    /// <summary>
    /// Test-vector seam: writes a chunk of any type with a stored payload. Device-scoped (device ≠ 0) chunks
    /// take the device's next sequence number at its current data offset.
    /// </summary>
    internal void WriteOpaque(ChunkType type, ChunkFlags flags, ushort device, ReadOnlySpan<byte> payload)
    {
        Span<byte> chunk = StartSmall(payload.Length);
        payload.CopyTo(chunk[ChunkHeader.Size..]);
        if (device == 0)
        {
            Finish(chunk, type, flags, 0, 0, 0, 0, payload.Length);
            return;
        }
        lock (_sequencer.Gate)
        {
            var state = _sequencer.Open(device);
            Finish(chunk, type, flags, device, state.Epoch, state.TakeSequence(), state.DataOffset, payload.Length);
        }
    }

    private DeviceSendState OpenForData(ushort device, DataPhase phase)
    {
        var state = _sequencer.Open(device);
        if (phase == DataPhase.PreCopy && state.StopCopySeen)
            throw new InvalidOperationException($"device {device}: pre-copy data after stop-copy data");
        if (phase == DataPhase.StopCopy) state.StopCopySeen = true;
        return state;
    }

    /// <summary>Compresses in place when enabled and worth it; returns the wire length.</summary>
    private int Pack(Span<byte> raw, uint rawCrc, ref ChunkFlags flags, out uint payloadCrc)
    {
        payloadCrc = rawCrc;
        if (_compressor is null || raw.Length < 64) return raw.Length;
        int bound = raw.Length + raw.Length / 255 + 16; // LZ4_compressBound
        if (_compressed is null || _compressed.Length < bound)
            _compressed = GC.AllocateUninitializedArray<byte>(bound);
        int packed = _compressor(raw, _compressed);
        if (packed <= 0 || (long)packed * 8 > (long)raw.Length * 7) return raw.Length;
        _compressed.AsSpan(0, packed).CopyTo(raw);
        payloadCrc = Crc32C.Compute(raw[..packed]);
        flags |= ChunkFlags.Lz4;
        return packed;
    }

    private Span<byte> TakeReservation(int length)
    {
        EnsureWritable();
        if (!_reserved) throw new InvalidOperationException("no payload reserved: call GetPayloadSpan/GetPayloadMemory first");
        if (length < 1 || length > _reservation.Length - ChunkHeader.Size)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"committed length must be 1..{_reservation.Length - ChunkHeader.Size}");
        _reserved = false;
        return _reservation.Span;
    }

    private Span<byte> StartSmall(int payloadLength)
    {
        EnsureWritable();
        _reserved = false;
        return _output.GetSpan(ChunkHeader.Size + payloadLength);
    }

    /// <summary>Checksums a stored payload already in place and emits the chunk.</summary>
    private void Finish(Span<byte> chunk, ChunkType type, ChunkFlags flags, ushort device, uint epoch, ulong sequence, ulong offset, int length)
    {
        uint crc = length == 0 ? 0 : Crc32C.Compute(chunk.Slice(ChunkHeader.Size, length));
        Emit(chunk, new ChunkHeader(type, flags, device, epoch, sequence, offset, (uint)length, (uint)length, crc), 0);
    }

    private ChunkHeader Emit(Span<byte> chunk, in ChunkHeader header, uint deviceBytes)
    {
        header.Encode(chunk);
        int total = ChunkHeader.Size + (int)header.WireLength;
        _output.Advance(total);
        BytesWritten += total;
        ChunksWritten++;
        DeviceBytesWritten += deviceBytes;
        return header;
    }

    private void EnsureWritable()
    {
        if (_ended) throw new InvalidOperationException("the channel has ended (STREAM_END or ABORT written)");
    }
}
