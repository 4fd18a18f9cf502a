namespace StreamKit.Wire;

/// <summary>
/// The per-device state machine (spec §5.3). It consumes one device's chunks strictly in (epoch,
/// sequence) order — the reassembly in front of it guarantees that — and checks the structure:
/// DEVICE_BEGIN first; each later epoch opened by DISCARD; DATA/ZERO_RUN offsets contiguous from 0
/// per epoch, CONFIG offsets likewise; no pre-copy data, PRECOPY_INFO or DISCARD after stop-copy data
/// in an epoch; DEVICE_END's totals and running CRC32Cs equal to what arrived; nothing after DEVICE_END.
/// </summary>
internal sealed class DeviceStreamState(ushort device, DeviceSummary summary)
{
    internal ushort Device { get; } = device;
    internal bool Begun { get; private set; }
    internal bool Ended { get; private set; }
    internal uint Epoch { get; private set; }
    internal ulong NextSequence { get; private set; }

    private ulong _dataOffset, _configOffset;
    private uint _dataCrc, _configCrc;
    private bool _stopCopySeen;
    private ulong _epochDataBytes;

    /// <summary>Applies the next chunk of the device (the caller established its (epoch, sequence) position).</summary>
    internal void Apply(int channel, in Chunk chunk, RawPayloads raw, IStreamEvents? events)
    {
        var h = chunk.Header;
        if (!Begun)
        {
            if (h.Type != ChunkType.DeviceBegin)
                throw Fail(StreamErrorCode.UnknownDevice, channel, chunk, $"{ChunkTypeRules.Name(h.Type)} for device {Device} before its DEVICE_BEGIN");
            var begin = DeviceBeginRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset);
            Begun = true;
            NextSequence = 1;
            summary.Begin = begin;
            events?.OnDeviceBegin(Device, begin);
            return;
        }
        if (Ended)
            throw Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"{ChunkTypeRules.Name(h.Type)} for device {Device} after its DEVICE_END");
        if (h.Epoch != Epoch && h.Type != ChunkType.Discard)
            throw Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"epoch {h.Epoch} of device {Device} starts with {ChunkTypeRules.Name(h.Type)}, not DISCARD");

        switch (h.Type)
        {
            case ChunkType.DeviceBegin:
                throw Fail(StreamErrorCode.UnknownDevice, channel, chunk, $"device {Device} announced twice");

            case ChunkType.Discard:
                ApplyDiscard(channel, chunk, events);
                return;

            case ChunkType.Data:
            case ChunkType.ZeroRun:
                ApplyData(channel, chunk, raw, events);
                break;

            case ChunkType.Config:
            {
                if (h.Offset != _configOffset)
                    throw Fail(StreamErrorCode.OffsetMismatch, channel, chunk, $"CONFIG of device {Device} at offset {h.Offset}, expected {_configOffset}");
                var bytes = raw.Decode(chunk, out uint crc);
                _configCrc = Crc32CShift.Combine(_configCrc, crc, h.RawLength);
                _configOffset += h.RawLength;
                summary.ConfigBytes += h.RawLength;
                summary.ConfigChunks++;
                events?.OnConfig(Device, Epoch, h.Offset, bytes);
                break;
            }

            case ChunkType.PrecopyInfo:
            {
                CheckDataOffset(channel, chunk);
                if (_stopCopySeen)
                    throw Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"PRECOPY_INFO of device {Device} after stop-copy data");
                var info = PrecopyInfoRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset);
                summary.PrecopyInfoChunks++;
                summary.LastPrecopyInfo = info;
                events?.OnPrecopyInfo(Device, Epoch, h.Offset, info);
                break;
            }

            case ChunkType.DeviceEnd:
            {
                CheckDataOffset(channel, chunk);
                var end = DeviceEndRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset);
                var actual = new DeviceEndRecord(_dataOffset, _configOffset, _dataCrc, _configCrc);
                if (end != actual)
                    throw Fail(StreamErrorCode.DeviceDigestMismatch, channel, chunk,
                        $"DEVICE_END of device {Device} epoch {Epoch} says {Describe(end)}; received {Describe(actual)}");
                Ended = true;
                summary.End = end;
                events?.OnDeviceEnd(Device, Epoch, end);
                break;
            }

            default:
                break; // unknown OPTIONAL device-scoped type: holds its slot, means nothing to us
        }
        NextSequence++;
    }

    private void ApplyDiscard(int channel, in Chunk chunk, IStreamEvents? events)
    {
        var h = chunk.Header;
        if (h.Epoch <= Epoch)
            throw Fail(StreamErrorCode.EpochRegression, channel, chunk, $"DISCARD to epoch {h.Epoch} for device {Device} already in epoch {Epoch}");
        if (_stopCopySeen)
            throw Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"DISCARD of device {Device} after stop-copy data (a reset in STOP_COPY must abort)");
        var record = DiscardRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset);
        summary.DiscardedBytes += _epochDataBytes;
        summary.Discards++;
        summary.FinalEpoch = h.Epoch;
        Epoch = h.Epoch;
        NextSequence = 1;
        _dataOffset = _configOffset = 0;
        _dataCrc = _configCrc = 0;
        _stopCopySeen = false;
        _epochDataBytes = 0;
        events?.OnDiscard(Device, Epoch, record);
    }

    private void ApplyData(int channel, in Chunk chunk, RawPayloads raw, IStreamEvents? events)
    {
        var h = chunk.Header;
        var phase = (h.Flags & ChunkFlags.StopCopy) != 0 ? DataPhase.StopCopy : DataPhase.PreCopy;
        if (phase == DataPhase.PreCopy && _stopCopySeen)
            throw Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"pre-copy {ChunkTypeRules.Name(h.Type)} of device {Device} after stop-copy data");
        CheckDataOffset(channel, chunk);
        if (h.Type == ChunkType.ZeroRun)
        {
            _dataCrc = Crc32CShift.AppendZeros(_dataCrc, h.RawLength);
            summary.ZeroRunChunks++;
            summary.ZeroRunBytes += h.RawLength;
            Advance(h.RawLength, phase);
            events?.OnZeroRun(Device, Epoch, h.Offset, h.RawLength, phase);
            return;
        }
        var bytes = raw.Decode(chunk, out uint crc);
        _dataCrc = Crc32CShift.Combine(_dataCrc, crc, h.RawLength);
        if (h.Codec == PayloadCodec.Lz4) summary.Lz4Chunks++; else summary.StoredChunks++;
        summary.WireDataBytes += h.WireLength;
        summary.RawDataBytes += h.RawLength;
        Advance(h.RawLength, phase);
        events?.OnData(Device, Epoch, h.Offset, phase, bytes);
    }

    private void Advance(uint length, DataPhase phase)
    {
        _dataOffset += length;
        _epochDataBytes += length;
        if (phase == DataPhase.StopCopy)
        {
            _stopCopySeen = true;
            summary.StopCopyBytes += length;
        }
        else
        {
            summary.PreCopyBytes += length;
        }
    }

    private void CheckDataOffset(int channel, in Chunk chunk)
    {
        if (chunk.Header.Offset != _dataOffset)
            throw Fail(StreamErrorCode.OffsetMismatch, channel, chunk,
                $"{ChunkTypeRules.Name(chunk.Header.Type)} of device {Device} epoch {Epoch} at offset {chunk.Header.Offset}, expected {_dataOffset}");
    }

    private static string Describe(in DeviceEndRecord r) =>
        $"data {r.DataBytes} bytes crc 0x{r.DataCrc:X8}, config {r.ConfigBytes} bytes crc 0x{r.ConfigCrc:X8}";

    internal static StreamFormatException Fail(StreamErrorCode code, int channel, in Chunk chunk, string message) =>
        new(code, chunk.StreamOffset, $"channel {channel} chunk #{chunk.Index}: {message}");
}
