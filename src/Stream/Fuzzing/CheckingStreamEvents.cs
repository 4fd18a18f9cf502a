using System.Buffers;

namespace StreamKit.Wire.Fuzzing;

/// <summary>
/// An <see cref="IStreamEvents"/> sink that re-checks everything the validator delivers against an
/// independent model: every DATA/CONFIG byte range delivered must be the raw bytes of a chunk that
/// was read from the input and whose payload CRC was verified with a bitwise CRC32C (so no payload
/// that failed its CRC, and no byte a chunk did not carry, can ever reach a device); offsets are
/// contiguous per epoch; events follow the device life cycle (begin, data, discard, end); DEVICE_END
/// is reported only when its totals and CRCs equal the reference digest of the bytes delivered.
/// Its own work is not charged to the validator's allocation budget.
/// </summary>
internal sealed class CheckingStreamEvents(string target, ExpectedPayloads expected, AllocationMeter meter) : IStreamEvents
{
    private sealed class DeviceModel
    {
        internal bool Ended;
        internal uint Epoch;
        internal ulong DataOffset, ConfigOffset;
        internal uint DataCrc, ConfigCrc;
        internal bool StopCopySeen;
    }

    private readonly Dictionary<ushort, DeviceModel> _devices = [];

    internal bool StreamEnded { get; private set; }
    internal long Deliveries { get; private set; }

    public void OnDeviceBegin(ushort device, DeviceBeginRecord record)
    {
        meter.Pause();
        Alive();
        if (!_devices.TryAdd(device, new DeviceModel())) Fail($"device {device} begun twice");
        meter.Resume();
    }

    public void OnData(ushort device, uint epoch, ulong offset, DataPhase phase, ReadOnlySequence<byte> raw)
    {
        meter.Pause();
        var d = Open(device, epoch);
        if (offset != d.DataOffset) Fail($"device {device} epoch {epoch}: data delivered at {offset}, expected {d.DataOffset}");
        Phase(device, d, phase);
        uint crc = ReferenceCrc32C.Append(0, raw);
        if (!expected.Contains(ExpectedPayloads.Kind.Data, device, epoch, offset, (ulong)raw.Length, crc))
            Fail($"device {device} epoch {epoch} offset {offset}: {raw.Length} bytes delivered (CRC32C 0x{crc:X8}) that no CRC-verified DATA chunk of the input carries");
        d.DataOffset += (ulong)raw.Length;
        d.DataCrc = ReferenceCrc32C.Append(d.DataCrc, raw);
        Deliveries++;
        meter.Resume();
    }

    public void OnZeroRun(ushort device, uint epoch, ulong offset, uint length, DataPhase phase)
    {
        meter.Pause();
        var d = Open(device, epoch);
        if (offset != d.DataOffset) Fail($"device {device} epoch {epoch}: zero run delivered at {offset}, expected {d.DataOffset}");
        Phase(device, d, phase);
        if (!expected.Contains(ExpectedPayloads.Kind.ZeroRun, device, epoch, offset, length, 0))
            Fail($"device {device} epoch {epoch} offset {offset}: a zero run of {length} bytes that no ZERO_RUN chunk carries");
        d.DataOffset += length;
        d.DataCrc = ReferenceCrc32C.AppendZeros(d.DataCrc, length);
        Deliveries++;
        meter.Resume();
    }

    public void OnConfig(ushort device, uint epoch, ulong offset, ReadOnlySequence<byte> raw)
    {
        meter.Pause();
        var d = Open(device, epoch);
        if (offset != d.ConfigOffset) Fail($"device {device} epoch {epoch}: config delivered at {offset}, expected {d.ConfigOffset}");
        uint crc = ReferenceCrc32C.Append(0, raw);
        if (!expected.Contains(ExpectedPayloads.Kind.Config, device, epoch, offset, (ulong)raw.Length, crc))
            Fail($"device {device} epoch {epoch} config offset {offset}: {raw.Length} bytes delivered that no CRC-verified CONFIG chunk carries");
        d.ConfigOffset += (ulong)raw.Length;
        d.ConfigCrc = ReferenceCrc32C.Append(d.ConfigCrc, raw);
        Deliveries++;
        meter.Resume();
    }

    public void OnPrecopyInfo(ushort device, uint epoch, ulong offset, PrecopyInfoRecord info)
    {
        meter.Pause();
        var d = Open(device, epoch);
        if (offset != d.DataOffset) Fail($"device {device}: PRECOPY_INFO at {offset}, data position {d.DataOffset}");
        if (d.StopCopySeen) Fail($"device {device}: PRECOPY_INFO delivered after stop-copy data");
        meter.Resume();
    }

    public void OnDiscard(ushort device, uint newEpoch, DiscardRecord record)
    {
        meter.Pause();
        Alive();
        if (!_devices.TryGetValue(device, out var d)) Fail($"DISCARD delivered for device {device} before its DEVICE_BEGIN");
        else
        {
            if (d.Ended) Fail($"DISCARD delivered for device {device} after its DEVICE_END");
            if (newEpoch <= d.Epoch) Fail($"device {device}: DISCARD to epoch {newEpoch} delivered in epoch {d.Epoch}");
            if (d.StopCopySeen) Fail($"device {device}: DISCARD delivered after stop-copy data");
            d.Epoch = newEpoch;
            d.DataOffset = d.ConfigOffset = 0;
            d.DataCrc = d.ConfigCrc = 0;
            d.StopCopySeen = false;
        }
        meter.Resume();
    }

    public void OnDeviceEnd(ushort device, uint epoch, DeviceEndRecord record)
    {
        meter.Pause();
        var d = Open(device, epoch);
        var reference = new DeviceEndRecord(d.DataOffset, d.ConfigOffset, d.DataCrc, d.ConfigCrc);
        if (record != reference) Fail($"device {device} committed with DEVICE_END {record}, but the bytes delivered digest to {reference}");
        d.Ended = true;
        meter.Resume();
    }

    public void OnStreamEnd(StreamSummary summary)
    {
        meter.Pause();
        Alive();
        if (!summary.IsComplete) Fail("stream end reported for an incomplete summary");
        foreach (var (device, d) in _devices)
            if (!d.Ended) Fail($"stream end reported while device {device} has no DEVICE_END");
        if (summary.Devices.Count != _devices.Count) Fail($"stream end with {summary.Devices.Count} devices in the summary, {_devices.Count} begun");
        StreamEnded = true;
        meter.Resume();
    }

    private DeviceModel Open(ushort device, uint epoch)
    {
        Alive();
        if (!_devices.TryGetValue(device, out var d)) throw new FuzzInvariantException(target, $"device {device} delivered before its DEVICE_BEGIN");
        if (d.Ended) Fail($"device {device} delivered after its DEVICE_END");
        if (epoch != d.Epoch) Fail($"device {device} delivered for epoch {epoch} while in epoch {d.Epoch}");
        return d;
    }

    private void Phase(ushort device, DeviceModel d, DataPhase phase)
    {
        if (phase == DataPhase.PreCopy && d.StopCopySeen) Fail($"device {device}: pre-copy data delivered after stop-copy data");
        if (phase == DataPhase.StopCopy) d.StopCopySeen = true;
    }

    private void Alive()
    {
        if (StreamEnded) Fail("event after the stream end");
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private void Fail(string message) => throw new FuzzInvariantException(target, message);
}

/// <summary>
/// What the input's chunks could legitimately deliver, found by a separate plain read of each channel
/// before the validator runs: (kind, device, epoch, offset, length, raw CRC32C by bitwise reference)
/// of every DATA, ZERO_RUN and CONFIG chunk whose payload CRC verified and, for LZ4, that decodes to
/// exactly raw_length bytes.
/// </summary>
internal sealed class ExpectedPayloads
{
    internal enum Kind : byte { Data, ZeroRun, Config }

    private readonly HashSet<(Kind, ushort, uint, ulong, ulong, uint)> _entries = [];
    private byte[]? _scratch;

    internal int Count => _entries.Count;

    internal bool Contains(Kind kind, ushort device, uint epoch, ulong offset, ulong length, uint crc) =>
        _entries.Contains((kind, device, epoch, offset, length, crc));

    /// <summary>Adds the chunk; returns false if its payload does not match its CRC (the reader must never return such a chunk).</summary>
    internal bool Add(in Chunk chunk)
    {
        var h = chunk.Header;
        if (!chunk.IsKnownType) return true;
        uint wireCrc = h.WireLength == 0 ? 0 : ReferenceCrc32C.Append(0, chunk.Payload);
        if (wireCrc != h.PayloadCrc) return false;
        switch (h.Type)
        {
            case ChunkType.ZeroRun:
                _entries.Add((Kind.ZeroRun, h.Device, h.Epoch, h.Offset, h.RawLength, 0));
                break;
            case ChunkType.Data or ChunkType.Config:
            {
                var kind = h.Type == ChunkType.Data ? Kind.Data : Kind.Config;
                if (h.Codec == PayloadCodec.Stored)
                {
                    _entries.Add((kind, h.Device, h.Epoch, h.Offset, h.RawLength, wireCrc));
                    break;
                }
                if (!Lz4Codec.IsAvailable) break;
                _scratch ??= new byte[ChunkReaderFuzzTarget.LocalMaxPayload];
                byte[] block = chunk.Payload.ToArray();
                int n = Lz4Codec.Decompress(block, _scratch.AsSpan(0, (int)Math.Min(h.RawLength, (uint)_scratch.Length)));
                if (n == h.RawLength) _entries.Add((kind, h.Device, h.Epoch, h.Offset, h.RawLength, ReferenceCrc32C.Append(0, _scratch.AsSpan(0, n))));
                break;
            }
        }
        return true;
    }
}
