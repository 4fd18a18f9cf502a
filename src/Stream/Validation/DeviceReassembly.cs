using System.Buffers;

namespace StreamKit.Wire;

/// <summary>
/// Puts one device's chunks back into (epoch, sequence) order across channels (spec §5.2) and feeds
/// them to its <see cref="DeviceStreamState"/>. In-order chunks pass straight through without a copy;
/// a chunk that arrives early is copied into a pooled buffer (charged to the stream's budget) until
/// its predecessors arrive. Chunks of epochs older than the current one are dropped. A DISCARD of a
/// newer epoch is applied as soon as it is available, even across a gap, since it voids that gap.
/// With a single channel nothing may arrive early: any jump is reported at once.
/// </summary>
internal sealed class DeviceReassembly(ushort device, DeviceSummary summary, ReassemblyBudget budget, bool singleChannel)
{
    private readonly DeviceStreamState _state = new(device, summary);
    private Dictionary<(uint Epoch, ulong Sequence), Pending>? _pending;
    private uint _newestPendingDiscard; // 0 = none

    internal DeviceStreamState State => _state;
    internal int PendingCount => _pending?.Count ?? 0;

    private sealed record Pending(int Channel, ChunkHeader Header, byte[]? Payload, long StreamOffset, long Index)
    {
        internal long Cost => Header.WireLength + WireLimits.ReassemblyEntryOverhead;
        internal Chunk ToChunk() => new(Header, Payload is null ? default : new ReadOnlySequence<byte>(Payload, 0, (int)Header.WireLength), StreamOffset, Index);
    }

    internal void Accept(int channel, in Chunk chunk, RawPayloads raw, IStreamEvents? events)
    {
        var h = chunk.Header;
        uint epoch = _state.Begun ? _state.Epoch : 0;
        ulong next = _state.Begun ? _state.NextSequence : 0;

        if (_state.Begun && h.Epoch < epoch)
        {
            summary.StaleChunksDropped++;
            return;
        }
        if (h.Epoch == epoch && h.Sequence < next)
            throw DeviceStreamState.Fail(StreamErrorCode.DuplicateChunk, channel, chunk, $"device {device} epoch {h.Epoch} sequence {h.Sequence} was already received");
        if (_state.Ended)
            throw DeviceStreamState.Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"{ChunkTypeRules.Name(h.Type)} for device {device} after its DEVICE_END");

        bool inOrder = (h.Epoch == epoch && h.Sequence == next) || (_state.Begun && h.Epoch > epoch && h.Sequence == 0);
        if (inOrder)
        {
            Deliver(channel, chunk, raw, events);
            Drain(raw, events);
            return;
        }

        if (_pending is not null && _pending.ContainsKey((h.Epoch, h.Sequence)))
            throw DeviceStreamState.Fail(StreamErrorCode.DuplicateChunk, channel, chunk, $"device {device} epoch {h.Epoch} sequence {h.Sequence} is already waiting for reassembly");
        if (singleChannel)
        {
            if (!_state.Begun)
                throw DeviceStreamState.Fail(StreamErrorCode.UnknownDevice, channel, chunk, $"{ChunkTypeRules.Name(h.Type)} for device {device} before its DEVICE_BEGIN");
            throw DeviceStreamState.Fail(StreamErrorCode.SequenceGap, channel, chunk,
                h.Epoch == epoch
                    ? $"device {device} epoch {epoch}: sequence {h.Sequence} follows {next - 1}"
                    : $"device {device}: epoch {h.Epoch} sequence {h.Sequence} before the DISCARD that opens epoch {h.Epoch}");
        }
        Hold(channel, chunk);
    }

    /// <summary>What is missing, for the end-of-stream report; null if nothing is held.</summary>
    internal string? DescribeGap()
    {
        if (PendingCount == 0) return null;
        var first = _pending!.Keys.Min();
        string expected = _state.Begun ? $"epoch {_state.Epoch} sequence {_state.NextSequence}" : "DEVICE_BEGIN (epoch 0 sequence 0)";
        return $"device {device}: {_pending.Count} chunk(s) from epoch {first.Epoch} sequence {first.Sequence} on wait for {expected}, which never arrived";
    }

    private void Deliver(int channel, in Chunk chunk, RawPayloads raw, IStreamEvents? events)
    {
        _state.Apply(channel, chunk, raw, events);
        if (chunk.Header.Type == ChunkType.Discard) DropOlderThan(_state.Epoch);
        if (_state.Ended && _pending is { Count: > 0 })
        {
            var p = _pending.Values.MinBy(v => (v.Header.Epoch, v.Header.Sequence))!;
            throw DeviceStreamState.Fail(StreamErrorCode.UnexpectedChunk, p.Channel, p.ToChunk(),
                $"{ChunkTypeRules.Name(p.Header.Type)} for device {device} (epoch {p.Header.Epoch} sequence {p.Header.Sequence}) after its DEVICE_END");
        }
    }

    private void Drain(RawPayloads raw, IStreamEvents? events)
    {
        while (_pending is { Count: > 0 })
        {
            if (_state.Begun && _newestPendingDiscard > _state.Epoch)
            {
                Release((_newestPendingDiscard, 0), raw, events);
                continue;
            }
            uint epoch = _state.Begun ? _state.Epoch : 0;
            ulong next = _state.Begun ? _state.NextSequence : 0;
            if (!_pending.ContainsKey((epoch, next))) break;
            Release((epoch, next), raw, events);
        }
    }

    private void Release((uint, ulong) key, RawPayloads raw, IStreamEvents? events)
    {
        var p = _pending![key];
        _pending.Remove(key);
        if (key.Item2 == 0 && key.Item1 == _newestPendingDiscard) _newestPendingDiscard = 0;
        budget.Release(p.Cost);
        try
        {
            Deliver(p.Channel, p.ToChunk(), raw, events);
        }
        finally
        {
            if (p.Payload is not null) ArrayPool<byte>.Shared.Return(p.Payload);
        }
    }

    private void Hold(int channel, in Chunk chunk)
    {
        var h = chunk.Header;
        var cost = h.WireLength + (long)WireLimits.ReassemblyEntryOverhead;
        budget.Take(cost, channel, chunk);
        byte[]? copy = null;
        if (h.WireLength > 0)
        {
            copy = ArrayPool<byte>.Shared.Rent((int)h.WireLength);
            chunk.Payload.CopyTo(copy);
        }
        _pending ??= [];
        _pending.Add((h.Epoch, h.Sequence), new Pending(channel, h, copy, chunk.StreamOffset, chunk.Index));
        if (h.Sequence == 0 && h.Epoch > _newestPendingDiscard) _newestPendingDiscard = h.Epoch;
    }

    private void DropOlderThan(uint epoch)
    {
        if (_pending is null) return;
        List<(uint, ulong)>? stale = null;
        foreach (var key in _pending.Keys)
            if (key.Epoch < epoch) (stale ??= []).Add(key);
        if (stale is null) return;
        foreach (var key in stale)
        {
            var p = _pending[key];
            _pending.Remove(key);
            budget.Release(p.Cost);
            if (p.Payload is not null) ArrayPool<byte>.Shared.Return(p.Payload);
            summary.StaleChunksDropped++;
        }
        if (_newestPendingDiscard < epoch) _newestPendingDiscard = 0;
    }
}
