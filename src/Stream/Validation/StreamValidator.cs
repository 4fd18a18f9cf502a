using System.Buffers;

namespace StreamKit.Wire;

/// <summary>
/// Checks a whole stream — one or more forward channels — for structure and ordering (spec §5), the
/// same way for a live receiver and for <c>streamkit verify</c>. Feed it each channel's preamble and
/// then every chunk a <see cref="ChunkReader"/> returns, in channel order, interleaved across channels
/// in any way. It reorders each device's chunks by (epoch, sequence) with a bounded buffer, drives the
/// per-device state machine, checks per-channel order and STREAM_END totals, reports everything in
/// order to an optional <see cref="IStreamEvents"/>, and keeps a <see cref="StreamSummary"/>.
/// The stream is complete when every channel has ended; <see cref="Complete"/> at the end of input
/// reports what is missing. Not thread-safe: receivers with one reader per channel serialize calls.
/// </summary>
public sealed class StreamValidator
{
    private readonly StreamValidatorOptions _options;
    private readonly IStreamEvents? _events;
    private readonly RawPayloads _raw = new();
    private readonly Dictionary<ushort, DeviceReassembly> _devices = [];
    private ChannelState?[] _channels = [];
    private ReassemblyBudget? _budget;
    private Preamble _first;
    private bool _hasFirst;
    private uint _deviceLimit;

    /// <summary>Creates a validator with local limits (defaults if null) and optional receiver callbacks.</summary>
    public StreamValidator(StreamValidatorOptions? options = null, IStreamEvents? events = null)
    {
        _options = options ?? new StreamValidatorOptions();
        _events = events;
        Summary = new StreamSummary();
    }

    /// <summary>What has been seen so far (complete once <see cref="IsComplete"/>).</summary>
    public StreamSummary Summary { get; }

    /// <summary>True once every channel ended with STREAM_END and every device was verified.</summary>
    public bool IsComplete => Summary.IsComplete;

    /// <summary>Payload bytes (+64 per chunk) currently held for reassembly.</summary>
    public long BufferedBytes => _budget?.Used ?? 0;

    /// <summary>Registers a channel's preamble (as returned by <see cref="ChunkReader.TryReadPreamble"/>).</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.BadChannel"/>: the channel does not belong with the others, or appeared twice.</exception>
    public void AcceptPreamble(in Preamble preamble)
    {
        if (preamble.Role != PreambleRole.Forward)
            throw new StreamFormatException(StreamErrorCode.BadPreambleField, Preamble.RoleOffset, "the validator checks forward channels only");
        if (preamble.ChannelCount == 0 || preamble.ChannelIndex >= preamble.ChannelCount)
            throw new StreamFormatException(StreamErrorCode.BadChannel, Preamble.ChannelIndexOffset, $"channel {preamble.ChannelIndex} of {preamble.ChannelCount}");
        if (!_hasFirst)
        {
            _first = preamble;
            _hasFirst = true;
            _channels = new ChannelState?[preamble.ChannelCount];
            _deviceLimit = Math.Min(preamble.MaxDevices, _options.MaxDevices);
            _budget = new ReassemblyBudget(_options.ReassemblyLimit, Summary);
            Summary.StreamId = preamble.StreamId;
            Summary.ChannelCount = preamble.ChannelCount;
            Summary.Capabilities = preamble.Capabilities;
            Summary.FormatVersion = new Version(preamble.Major, preamble.Minor);
        }
        else
        {
            Same(preamble.StreamId == _first.StreamId, Preamble.StreamIdOffset, $"stream id {preamble.StreamId} differs from {_first.StreamId}");
            Same(preamble.ChannelCount == _first.ChannelCount, Preamble.ChannelCountOffset, $"channel count {preamble.ChannelCount} differs from {_first.ChannelCount}");
            Same(preamble.Capabilities == _first.Capabilities, Preamble.CapabilitiesOffset, $"capabilities 0x{(uint)preamble.Capabilities:X8} differ from 0x{(uint)_first.Capabilities:X8}");
            Same(preamble.MaxPayload == _first.MaxPayload, Preamble.MaxPayloadOffset, $"max_payload {preamble.MaxPayload} differs from {_first.MaxPayload}");
            Same(preamble.MaxDevices == _first.MaxDevices, Preamble.MaxDevicesOffset, $"max_devices {preamble.MaxDevices} differs from {_first.MaxDevices}");
            Same(preamble.Major == _first.Major, Preamble.MajorOffset, $"major version {preamble.Major} differs from {_first.Major}");
            Same(_channels[preamble.ChannelIndex] is null, Preamble.ChannelIndexOffset, $"channel {preamble.ChannelIndex} opened twice");
        }
        var summary = new ChannelSummary { Index = preamble.ChannelIndex, Bytes = Preamble.Size };
        _channels[preamble.ChannelIndex] = new ChannelState(preamble, summary);
        Summary.ChannelList.Add(summary);
        Summary.ChannelList.Sort((a, b) => a.Index.CompareTo(b.Index));
    }

    /// <summary>Checks one chunk of channel <paramref name="channel"/>; in-order device chunks are applied (and reported) at once.</summary>
    /// <exception cref="StreamFormatException">Any structural or ordering fault; <see cref="StreamErrorCode.PeerAborted"/> for ABORT.</exception>
    /// <exception cref="InvalidOperationException">The channel's preamble was not accepted first.</exception>
    public void AcceptChunk(int channel, in Chunk chunk)
    {
        if ((uint)channel >= (uint)_channels.Length || _channels[channel] is not { } state)
            throw new InvalidOperationException($"channel {channel} has no accepted preamble");
        if (state.Ended)
            throw DeviceStreamState.Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, "chunk after the channel's STREAM_END");
        long before = state.Count(chunk);
        var h = chunk.Header;

        if (!chunk.IsKnownType)
        {
            if (h.Device == 0)
            {
                state.Summary.SkippedChunks++;
                return;
            }
            AcceptDeviceChunk(channel, state, chunk); // an unknown device-scoped type still holds its slot
            return;
        }
        switch (h.Type)
        {
            case ChunkType.Padding:
                state.Summary.PaddingChunks++;
                return;
            case ChunkType.StreamEnd:
                state.ApplyStreamEnd(channel, chunk, before);
                if (_channels.All(c => c is { Ended: true })) Finish();
                return;
            case ChunkType.Abort:
            {
                var reason = ReasonRecord.Decode(RawPayloads.Record(chunk, stackalloc byte[WireLimits.MaxRecordLength]), chunk.PayloadOffset);
                state.MarkAborted();
                Summary.Abort = reason;
                throw DeviceStreamState.Fail(StreamErrorCode.PeerAborted, channel, chunk,
                    $"the sender aborted: {(Enum.IsDefined(reason.Reason) ? reason.Reason.ToString() : ((uint)reason.Reason).ToString())} ({(uint)reason.Reason}): {reason.Text}");
            }
            case >= ChunkType.DeviceBegin and <= ChunkType.DeviceEnd:
                AcceptDeviceChunk(channel, state, chunk);
                return;
            default:
                throw DeviceStreamState.Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"{ChunkTypeRules.Name(h.Type)} on a forward channel");
        }
    }

    /// <summary>
    /// Call at the end of input (after each channel's <see cref="ChunkReader.Finish"/>). Succeeds if the
    /// stream is complete; otherwise reports what is missing.
    /// </summary>
    /// <exception cref="StreamFormatException">TruncatedStream (a channel or device did not end), SequenceGap, StreamTotalsMismatch.</exception>
    public void Complete()
    {
        if (Summary.IsComplete) return;
        if (!_hasFirst)
            throw new StreamFormatException(StreamErrorCode.TruncatedStream, -1, "no channel of the stream was seen");
        for (int i = 0; i < _channels.Length; i++)
        {
            if (_channels[i] is null)
                throw new StreamFormatException(StreamErrorCode.TruncatedStream, -1, $"channel {i} of {_channels.Length} never started");
            if (!_channels[i]!.Ended)
                throw new StreamFormatException(StreamErrorCode.TruncatedStream, _channels[i]!.Summary.Bytes, $"channel {i} ended without STREAM_END");
        }
        Finish();
    }

    /// <summary>
    /// Reads and validates complete channel images (files, captured buffers): preambles first, then one
    /// chunk per channel in turn (a live-like interleaving), then the end-of-input checks.
    /// </summary>
    /// <exception cref="StreamFormatException">The first fault found.</exception>
    public static StreamSummary Verify(IReadOnlyList<ReadOnlySequence<byte>> channels, StreamValidatorOptions? options = null,
        ChunkReaderOptions? readerOptions = null, IStreamEvents? events = null)
    {
        ArgumentNullException.ThrowIfNull(channels);
        var validator = new StreamValidator(options, events);
        var readers = new ChunkReader[channels.Count];
        var buffers = new ReadOnlySequence<byte>[channels.Count];
        for (int i = 0; i < readers.Length; i++)
        {
            readers[i] = new ChunkReader(readerOptions);
            buffers[i] = channels[i];
            if (!readers[i].TryReadPreamble(ref buffers[i], out var preamble)) readers[i].Finish(buffers[i]);
            validator.AcceptPreamble(preamble);
        }
        bool progress = true;
        while (progress)
        {
            progress = false;
            for (int i = 0; i < readers.Length; i++)
            {
                if (!readers[i].TryReadChunk(ref buffers[i], out var chunk)) continue;
                validator.AcceptChunk(readers[i].Preamble.ChannelIndex, chunk);
                progress = true;
            }
        }
        for (int i = 0; i < readers.Length; i++) readers[i].Finish(buffers[i]);
        validator.Complete();
        return validator.Summary;
    }

    private void AcceptDeviceChunk(int channel, ChannelState state, in Chunk chunk)
    {
        var h = chunk.Header;
        if (!_devices.TryGetValue(h.Device, out var device))
        {
            if ((uint)_devices.Count >= _deviceLimit)
                throw DeviceStreamState.Fail(StreamErrorCode.TooManyDevices, channel, chunk,
                    $"device {h.Device} would be device number {_devices.Count + 1}; the limit is {_deviceLimit}");
            var summary = new DeviceSummary { Device = h.Device };
            Summary.DeviceMap.Add(h.Device, summary);
            device = new DeviceReassembly(h.Device, summary, _budget!, _channels.Length == 1);
            _devices.Add(h.Device, device);
        }
        state.CheckOrder(channel, chunk);
        device.Accept(channel, chunk, _raw, _events);
    }

    private void Finish()
    {
        foreach (var device in _devices.Values)
        {
            if (device.DescribeGap() is { } gap)
                throw new StreamFormatException(StreamErrorCode.SequenceGap, -1, gap);
        }
        foreach (var device in _devices.Values)
        {
            if (!device.State.Ended)
                throw new StreamFormatException(StreamErrorCode.TruncatedStream, -1,
                    $"device {device.State.Device} has no DEVICE_END (epoch {device.State.Epoch}, {device.State.NextSequence} chunks)");
        }
        foreach (var channel in _channels)
        {
            if (channel!.End is { } end && end.DeviceCount != (uint)_devices.Count)
                throw new StreamFormatException(StreamErrorCode.StreamTotalsMismatch, channel.Summary.Bytes - ChunkHeader.Size - StreamEndRecord.Size,
                    $"channel {channel.Preamble.ChannelIndex}: STREAM_END says {end.DeviceCount} devices; the stream carried {_devices.Count}");
        }
        Summary.IsComplete = true;
        _events?.OnStreamEnd(Summary);
    }

    private static void Same(bool condition, int offset, string message)
    {
        if (!condition) throw new StreamFormatException(StreamErrorCode.BadChannel, offset, message);
    }
}
