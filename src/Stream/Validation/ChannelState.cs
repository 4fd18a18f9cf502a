namespace StreamKit.Wire;

/// <summary>
/// Per-channel checks (spec §5.1, §5.4): a device's (epoch, sequence) strictly increases on each channel
/// (an epoch going back is EpochRegression), and STREAM_END's totals match what the channel carried.
/// </summary>
internal sealed class ChannelState(Preamble preamble, ChannelSummary summary)
{
    private readonly Dictionary<ushort, (uint Epoch, ulong Sequence)> _lastByDevice = [];

    internal Preamble Preamble { get; } = preamble;
    internal ChannelSummary Summary { get; } = summary;
    internal StreamEndRecord? End { get; private set; }
    internal bool Ended => Summary.Ended;

    /// <summary>Counts the chunk; returns how many chunks preceded it on the channel.</summary>
    internal long Count(in Chunk chunk)
    {
        long before = Summary.Chunks;
        Summary.Chunks++;
        Summary.Bytes = chunk.PayloadOffset + chunk.Header.WireLength;
        if (chunk.Header.Type is ChunkType.Data or ChunkType.ZeroRun) Summary.DeviceBytes += chunk.Header.RawLength;
        return before;
    }

    internal void CheckOrder(int channel, in Chunk chunk)
    {
        var h = chunk.Header;
        if (_lastByDevice.TryGetValue(h.Device, out var last))
        {
            if (h.Epoch < last.Epoch)
                throw DeviceStreamState.Fail(StreamErrorCode.EpochRegression, channel, chunk,
                    $"device {h.Device} epoch {h.Epoch} after epoch {last.Epoch} on the same channel");
            if (h.Epoch == last.Epoch && h.Sequence <= last.Sequence)
                throw DeviceStreamState.Fail(h.Sequence == last.Sequence ? StreamErrorCode.DuplicateChunk : StreamErrorCode.UnexpectedChunk, channel, chunk,
                    $"device {h.Device} epoch {h.Epoch} sequence {h.Sequence} after sequence {last.Sequence} on the same channel");
        }
        _lastByDevice[h.Device] = (h.Epoch, h.Sequence);
    }

    internal void ApplyStreamEnd(int channel, in Chunk chunk, long chunksBefore)
    {
        var record = StreamEndRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset);
        if (record.ChunksBefore != (ulong)chunksBefore)
            throw DeviceStreamState.Fail(StreamErrorCode.StreamTotalsMismatch, channel, chunk,
                $"STREAM_END says {record.ChunksBefore} chunks preceded it on this channel; {chunksBefore} did");
        if (record.DeviceBytes != Summary.DeviceBytes)
            throw DeviceStreamState.Fail(StreamErrorCode.StreamTotalsMismatch, channel, chunk,
                $"STREAM_END says the channel carried {record.DeviceBytes} device bytes; it carried {Summary.DeviceBytes}");
        End = record;
        Summary.Ended = true;
    }

    internal void MarkAborted() => Summary.Ended = true;
}
