using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>Chunk statistics of one device epoch, from the chunk headers as read.</summary>
internal sealed class EpochStats
{
    /// <summary>The epoch number.</summary>
    internal uint Epoch { get; init; }
    /// <summary>Why the epoch started: null for epoch 0, else the DISCARD that opened it.</summary>
    internal DiscardRecord? OpenedBy { get; set; }
    /// <summary>Raw data bytes read in PRE_COPY / STOP_COPY (DATA + ZERO_RUN).</summary>
    internal ulong PreCopyBytes, StopCopyBytes;
    /// <summary>DATA chunks and their raw / wire bytes.</summary>
    internal long DataChunks;
    internal ulong DataRawBytes, DataWireBytes;
    /// <summary>LZ4-compressed DATA chunks.</summary>
    internal long Lz4Chunks;
    /// <summary>ZERO_RUN chunks and their bytes.</summary>
    internal long ZeroRuns;
    internal ulong ZeroBytes;
    /// <summary>Smallest and largest DATA raw length.</summary>
    internal uint MinChunk = uint.MaxValue, MaxChunk;
    /// <summary>PRECOPY_INFO chunks; the last one.</summary>
    internal long PrecopyInfos;
    internal PrecopyInfoRecord? LastPrecopyInfo;
    /// <summary>CONFIG bytes.</summary>
    internal ulong ConfigBytes;
    /// <summary>True when the epoch reached DEVICE_END (the device's final epoch).</summary>
    internal bool Ended;

    /// <summary>Raw / wire of the DATA chunks (1.0 when nothing is compressed).</summary>
    internal double Ratio => DataWireBytes == 0 ? 1.0 : (double)DataRawBytes / DataWireBytes;
}

/// <summary>
/// Collects what <c>streamkit inspect</c> shows per device and epoch. Sizes come from each chunk
/// header as it is read (<see cref="OnChunk"/>, before validation, on whichever channel); epoch
/// openings (DISCARD records) come from the validator's in-order events.
/// </summary>
internal sealed class StreamInspector : IStreamEvents
{
    private readonly SortedDictionary<ushort, SortedDictionary<uint, EpochStats>> _devices = [];

    /// <summary>Per device, its epochs in order.</summary>
    internal IReadOnlyDictionary<ushort, SortedDictionary<uint, EpochStats>> Devices => _devices;

    /// <summary>Every chunk in read order, when listing was asked for (channel, chunk text).</summary>
    internal List<(int Channel, string Text)>? Listing { get; init; }

    /// <summary>The chunk tap for <see cref="StreamScan.Run"/>.</summary>
    internal void OnChunk(int channel, Chunk chunk)
    {
        Listing?.Add((channel, chunk.ToString()));
        var h = chunk.Header;
        if (h.Device == 0) return;
        var epoch = Epoch(h.Device, h.Epoch);
        bool stopCopy = (h.Flags & ChunkFlags.StopCopy) != 0;
        switch (h.Type)
        {
            case ChunkType.Data:
                epoch.DataChunks++;
                epoch.DataRawBytes += h.RawLength;
                epoch.DataWireBytes += h.WireLength;
                if (h.Codec == PayloadCodec.Lz4) epoch.Lz4Chunks++;
                epoch.MinChunk = Math.Min(epoch.MinChunk, h.RawLength);
                epoch.MaxChunk = Math.Max(epoch.MaxChunk, h.RawLength);
                if (stopCopy) epoch.StopCopyBytes += h.RawLength; else epoch.PreCopyBytes += h.RawLength;
                break;
            case ChunkType.ZeroRun:
                epoch.ZeroRuns++;
                epoch.ZeroBytes += h.RawLength;
                if (stopCopy) epoch.StopCopyBytes += h.RawLength; else epoch.PreCopyBytes += h.RawLength;
                break;
            case ChunkType.Config:
                epoch.ConfigBytes += h.RawLength;
                break;
            case ChunkType.PrecopyInfo:
                epoch.PrecopyInfos++;
                break;
            case ChunkType.DeviceEnd:
                epoch.Ended = true;
                break;
        }
    }

    /// <inheritdoc/>
    public void OnPrecopyInfo(ushort device, uint epoch, ulong offset, PrecopyInfoRecord info) => Epoch(device, epoch).LastPrecopyInfo = info;

    /// <inheritdoc/>
    public void OnDiscard(ushort device, uint newEpoch, DiscardRecord record) => Epoch(device, newEpoch).OpenedBy = record;

    private EpochStats Epoch(ushort device, uint epoch)
    {
        if (!_devices.TryGetValue(device, out var epochs)) _devices[device] = epochs = [];
        if (!epochs.TryGetValue(epoch, out var stats)) epochs[epoch] = stats = new EpochStats { Epoch = epoch };
        return stats;
    }
}
