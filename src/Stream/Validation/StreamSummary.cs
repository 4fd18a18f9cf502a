namespace StreamKit.Wire;

/// <summary>What a validated (or partly validated) stream contained, for reports and <c>streamkit inspect</c>.</summary>
public sealed class StreamSummary
{
    internal readonly List<ChannelSummary> ChannelList = [];
    internal readonly SortedDictionary<ushort, DeviceSummary> DeviceMap = [];

    /// <summary>The stream id from the preambles.</summary>
    public Guid StreamId { get; internal set; }
    /// <summary>Announced channel count.</summary>
    public ushort ChannelCount { get; internal set; }
    /// <summary>Announced capabilities.</summary>
    public StreamCapabilities Capabilities { get; internal set; }
    /// <summary>Format version of the preambles.</summary>
    public Version FormatVersion { get; internal set; } = new(Preamble.CurrentMajor, Preamble.CurrentMinor);
    /// <summary>Channels seen, by index.</summary>
    public IReadOnlyList<ChannelSummary> Channels => ChannelList;
    /// <summary>Devices seen, by id.</summary>
    public IReadOnlyCollection<DeviceSummary> Devices => DeviceMap.Values;
    /// <summary>True when every channel ended and every device was verified.</summary>
    public bool IsComplete { get; internal set; }
    /// <summary>The sender's ABORT, if it gave up.</summary>
    public ReasonRecord? Abort { get; internal set; }
    /// <summary>Most payload bytes held at once for cross-channel reassembly.</summary>
    public long PeakReassemblyBytes { get; internal set; }
    /// <summary>Chunks that had to wait for an earlier chunk from another channel.</summary>
    public long OutOfOrderChunks { get; internal set; }
}

/// <summary>Per-channel totals.</summary>
public sealed class ChannelSummary
{
    /// <summary>Channel index.</summary>
    public ushort Index { get; internal init; }
    /// <summary>Chunks read, the terminal chunk included.</summary>
    public long Chunks { get; internal set; }
    /// <summary>Bytes read (preamble and chunks).</summary>
    public long Bytes { get; internal set; }
    /// <summary>Raw DATA + ZERO_RUN bytes carried, all epochs.</summary>
    public ulong DeviceBytes { get; internal set; }
    /// <summary>Unknown optional chunks skipped.</summary>
    public long SkippedChunks { get; internal set; }
    /// <summary>PADDING chunks.</summary>
    public long PaddingChunks { get; internal set; }
    /// <summary>True once STREAM_END (or ABORT) was read.</summary>
    public bool Ended { get; internal set; }
}

/// <summary>Per-device totals. Byte counts are raw (decoded) unless named "Wire".</summary>
public sealed class DeviceSummary
{
    /// <summary>Device id.</summary>
    public ushort Device { get; internal init; }
    /// <summary>DEVICE_BEGIN contents, once seen.</summary>
    public DeviceBeginRecord? Begin { get; internal set; }
    /// <summary>The last epoch (0 + number of discards).</summary>
    public uint FinalEpoch { get; internal set; }
    /// <summary>DISCARD chunks applied.</summary>
    public int Discards { get; internal set; }
    /// <summary>Pre-copy data bytes, all epochs.</summary>
    public ulong PreCopyBytes { get; internal set; }
    /// <summary>Stop-copy data bytes, all epochs.</summary>
    public ulong StopCopyBytes { get; internal set; }
    /// <summary>Data bytes of epochs that were later discarded.</summary>
    public ulong DiscardedBytes { get; internal set; }
    /// <summary>Data bytes that travelled as ZERO_RUN.</summary>
    public ulong ZeroRunBytes { get; internal set; }
    /// <summary>Wire bytes of DATA payloads (compressed size where LZ4).</summary>
    public ulong WireDataBytes { get; internal set; }
    /// <summary>Raw bytes of DATA payloads.</summary>
    public ulong RawDataBytes { get; internal set; }
    /// <summary>Config bytes, all epochs.</summary>
    public ulong ConfigBytes { get; internal set; }
    /// <summary>Stored DATA chunks.</summary>
    public long StoredChunks { get; internal set; }
    /// <summary>LZ4 DATA chunks.</summary>
    public long Lz4Chunks { get; internal set; }
    /// <summary>ZERO_RUN chunks.</summary>
    public long ZeroRunChunks { get; internal set; }
    /// <summary>CONFIG chunks.</summary>
    public long ConfigChunks { get; internal set; }
    /// <summary>PRECOPY_INFO chunks.</summary>
    public long PrecopyInfoChunks { get; internal set; }
    /// <summary>The last PRECOPY_INFO, if any.</summary>
    public PrecopyInfoRecord? LastPrecopyInfo { get; internal set; }
    /// <summary>Chunks of superseded epochs that arrived late on another channel and were dropped.</summary>
    public long StaleChunksDropped { get; internal set; }
    /// <summary>DEVICE_END contents (verified), once seen.</summary>
    public DeviceEndRecord? End { get; internal set; }

    /// <summary>DATA raw bytes / wire bytes (1.0 when nothing was compressed).</summary>
    public double CompressionRatio => WireDataBytes == 0 ? 1.0 : (double)RawDataBytes / WireDataBytes;
}
