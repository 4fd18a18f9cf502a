using System.Buffers;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// Puts one destination device's chunks back into (epoch, sequence) order as the channel loops parse
/// them (spec §5.2) and queues them, in order, for the device's writer thread. A chunk that is next in
/// line is queued with a lease on its receive buffer: no copy, its bytes go from the socket buffer into
/// the device. A chunk that is early (its predecessor is on another channel) is copied into the
/// <see cref="ReassemblyStore"/> until its turn. Chunks of an epoch older than the current one arrived
/// late after a DISCARD overtook them and are dropped; a DISCARD of a newer epoch is queued as soon as it
/// arrives, even across a gap, since it voids that gap. With a single channel nothing may be early.
/// The structure itself (offsets, digests, phases) is checked by the writer's <see cref="DeviceStreamState"/>.
/// </summary>
internal sealed class DeviceInbox
{
    /// <summary>In-order queue length above which channel loops pause (ZERO_RUN chunks hold no buffer, so bytes alone do not bound it).</summary>
    internal const int HighWater = 1024;
    private const int LowWater = HighWater / 2;

    /// <summary>
    /// Smallest in-order byte limit: channel loops also pause once this many payload bytes wait for the writer.
    /// Reading further ahead of a device that is the bottleneck only pins receive blocks (memory, and new
    /// blocks allocated while the pool fills); a few chunks of slack keep the writer busy.
    /// </summary>
    internal const long MinHighWaterBytes = 8L << 20;

    private readonly object _gate = new();
    private readonly ushort _device;
    private readonly bool _singleChannel;
    private readonly ReassemblyStore _store;
    private readonly ReceiverSession _session;
    private readonly long _highWaterBytes;
    private Item[] _queue = new Item[64];
    private int _head;
    private int _count;
    private long _queuedBytes;
    private bool _begun;
    private bool _ended;
    private bool _completed;
    private bool _aborted;
    private bool _overfull;
    private uint _epoch;
    private ulong _next;
    private Dictionary<(uint Epoch, ulong Sequence), Item>? _held;
    private uint _newestHeldDiscard;

    /// <summary>A chunk on its way to the writer: its payload is leased from a receive buffer, or a held copy.</summary>
    internal readonly struct Item
    {
        internal Item(int channel, in Chunk chunk, BufferLease lease, PooledBuffer? copy, long charge)
        {
            Channel = channel;
            Chunk = chunk;
            Lease = lease;
            Copy = copy;
            Charge = charge;
        }

        internal int Channel { get; }
        internal Chunk Chunk { get; }
        internal BufferLease Lease { get; }
        internal PooledBuffer? Copy { get; }
        internal long Charge { get; }

        /// <summary>Header + payload bytes: what the flow window counts.</summary>
        internal long WindowBytes => ChunkHeader.Size + (long)Chunk.Header.WireLength;
    }

    /// <summary>Creates the inbox; <paramref name="highWaterBytes"/> is the in-order payload byte count above which channel loops pause.</summary>
    internal DeviceInbox(ReceiverSession session, ushort device, bool singleChannel, ReassemblyStore store, long highWaterBytes = long.MaxValue)
    {
        _session = session;
        _highWaterBytes = highWaterBytes;
        _device = device;
        _singleChannel = singleChannel;
        _store = store;
    }

    /// <summary>Chunks of voided epochs dropped.</summary>
    internal long StaleDropped { get; private set; }

    /// <summary>True while the in-order queue is above its high-water mark.</summary>
    internal bool Overfull => Volatile.Read(ref _overfull);

    /// <summary>Chunks held for reassembly now.</summary>
    internal int HeldCount
    {
        get { lock (_gate) return _held?.Count ?? 0; }
    }

    /// <summary>Routes a chunk a channel loop has just read (CRC checked, per-channel order checked).</summary>
    /// <exception cref="StreamFormatException">Duplicate, gap on a single channel, chunk after DEVICE_END, reassembly overflow.</exception>
    internal void Route(int channel, in Chunk chunk, ReceiveWindow window)
    {
        var h = chunk.Header;
        lock (_gate)
        {
            if (_aborted) return;
            if (_ended)
                throw DeviceStreamState.Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"{ChunkTypeRules.Name(h.Type)} for device {_device} after its DEVICE_END");
            if (_begun && h.Epoch < _epoch)
            {
                StaleDropped++;
                _session.Consumed(ChunkHeader.Size + (long)h.WireLength);
                return;
            }
            if (h.Epoch == _epoch && h.Sequence < _next)
                throw DeviceStreamState.Fail(StreamErrorCode.DuplicateChunk, channel, chunk, $"device {_device} epoch {h.Epoch} sequence {h.Sequence} was already received");
            bool inOrder = (h.Epoch == _epoch && h.Sequence == _next) || (_begun && h.Epoch > _epoch && h.Sequence == 0);
            if (inOrder)
            {
                Enqueue(new Item(channel, chunk, h.WireLength == 0 ? default : window.Lease(chunk.Payload), null, 0));
                Drain();
                return;
            }
            if (_held is not null && _held.ContainsKey((h.Epoch, h.Sequence)))
                throw DeviceStreamState.Fail(StreamErrorCode.DuplicateChunk, channel, chunk, $"device {_device} epoch {h.Epoch} sequence {h.Sequence} is already waiting for reassembly");
            if (_singleChannel)
            {
                if (!_begun)
                    throw DeviceStreamState.Fail(StreamErrorCode.UnknownDevice, channel, chunk, $"{ChunkTypeRules.Name(h.Type)} for device {_device} before its DEVICE_BEGIN");
                throw DeviceStreamState.Fail(StreamErrorCode.SequenceGap, channel, chunk,
                    h.Epoch == _epoch
                        ? $"device {_device} epoch {_epoch}: sequence {h.Sequence} follows {_next - 1}"
                        : $"device {_device}: epoch {h.Epoch} sequence {h.Sequence} before the DISCARD that opens epoch {h.Epoch}");
            }
            var copy = _store.Hold(channel, chunk, out long charge);
            var held = new Chunk(h, copy is null ? default : new ReadOnlySequence<byte>(copy.Array, 0, (int)h.WireLength), chunk.StreamOffset, chunk.Index);
            _held ??= [];
            _held.Add((h.Epoch, h.Sequence), new Item(channel, held, default, copy, charge));
            if (h.Sequence == 0 && h.Epoch > _newestHeldDiscard) _newestHeldDiscard = h.Epoch;
        }
    }

    /// <summary>Writer thread: the next chunk in order, waiting for it. False once the stream ended (or failed) and nothing is left.</summary>
    internal bool TryTake(out Item item)
    {
        lock (_gate)
        {
            while (_count == 0 && !_completed && !_aborted) Monitor.Wait(_gate);
            if (_aborted || _count == 0)
            {
                item = default;
                return false;
            }
            item = _queue[_head];
            _queue[_head] = default;
            _head = (_head + 1) % _queue.Length;
            _count--;
            _queuedBytes -= item.Chunk.Header.WireLength;
            if (_overfull && _count <= LowWater && _queuedBytes <= _highWaterBytes / 2)
            {
                Volatile.Write(ref _overfull, false);
                _session.WakeChannels();
            }
            return true;
        }
    }

    /// <summary>Releases what an item holds (after the writer applied it).</summary>
    internal void Release(in Item item)
    {
        if (!item.Lease.IsEmpty) item.Lease.Release();
        if (item.Charge != 0 || item.Copy is not null) _store.Release(item.Copy, item.Charge);
    }

    /// <summary>Every channel has ended: the writer drains the queue and stops.</summary>
    internal void CompleteAdding()
    {
        lock (_gate)
        {
            _completed = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The session failed: wake the writer, release everything queued or held.</summary>
    internal void Abort()
    {
        List<Item> drop = [];
        lock (_gate)
        {
            _aborted = true;
            Monitor.PulseAll(_gate);
            for (; _count > 0; _count--)
            {
                drop.Add(_queue[_head]);
                _queue[_head] = default;
                _head = (_head + 1) % _queue.Length;
            }
            if (_held is not null)
            {
                drop.AddRange(_held.Values);
                _held.Clear();
            }
        }
        foreach (var item in drop) Release(item);
    }

    /// <summary>What never arrived, for the end-of-stream report; null when nothing is held.</summary>
    internal string? DescribeGap()
    {
        lock (_gate)
        {
            if (_held is not { Count: > 0 }) return null;
            var first = _held.Keys.Min();
            string expected = _begun ? $"epoch {_epoch} sequence {_next}" : "DEVICE_BEGIN (epoch 0 sequence 0)";
            return $"device {_device}: {_held.Count} chunk(s) from epoch {first.Epoch} sequence {first.Sequence} on wait for {expected}, which never arrived";
        }
    }

    /// <summary>Caller holds the lock. Queues an in-order item and moves the routing position past it.</summary>
    private void Enqueue(in Item item)
    {
        var h = item.Chunk.Header;
        if (_begun && h.Epoch > _epoch)
        {
            // A DISCARD opening a newer epoch: everything older is void.
            _epoch = h.Epoch;
            _next = 1;
            DropHeldOlderThan(_epoch);
        }
        else
        {
            _begun = true;
            _next++;
        }
        if (h.Type == ChunkType.DeviceEnd) _ended = true;
        if (_count == _queue.Length) Grow();
        _queue[(_head + _count) % _queue.Length] = item;
        _count++;
        _queuedBytes += h.WireLength;
        if (_count > HighWater || _queuedBytes > _highWaterBytes) Volatile.Write(ref _overfull, true);
        Monitor.Pulse(_gate);
    }

    /// <summary>Caller holds the lock. Queues held chunks that are now in order.</summary>
    private void Drain()
    {
        while (_held is { Count: > 0 })
        {
            (uint, ulong) key;
            if (_begun && _newestHeldDiscard > _epoch) key = (_newestHeldDiscard, 0);
            else if (_held.ContainsKey((_epoch, _next))) key = (_epoch, _next);
            else break;
            _held.Remove(key, out var item);
            if (key.Item2 == 0 && key.Item1 == _newestHeldDiscard) _newestHeldDiscard = 0;
            if (_ended)
                throw DeviceStreamState.Fail(StreamErrorCode.UnexpectedChunk, item.Channel, item.Chunk,
                    $"{ChunkTypeRules.Name(item.Chunk.Header.Type)} for device {_device} after its DEVICE_END");
            Enqueue(item);
        }
        if (_ended && _held is { Count: > 0 })
        {
            var late = _held.Values.MinBy(v => (v.Chunk.Header.Epoch, v.Chunk.Header.Sequence));
            throw DeviceStreamState.Fail(StreamErrorCode.UnexpectedChunk, late.Channel, late.Chunk,
                $"{ChunkTypeRules.Name(late.Chunk.Header.Type)} for device {_device} (epoch {late.Chunk.Header.Epoch} sequence {late.Chunk.Header.Sequence}) after its DEVICE_END");
        }
    }

    private void DropHeldOlderThan(uint epoch)
    {
        if (_held is null) return;
        List<(uint, ulong)>? stale = null;
        foreach (var key in _held.Keys)
            if (key.Epoch < epoch) (stale ??= []).Add(key);
        if (stale is not null)
        {
            foreach (var key in stale)
            {
                _held.Remove(key, out var item);
                Release(item);
                StaleDropped++;
                _session.Consumed(item.WindowBytes);
            }
        }
        if (_newestHeldDiscard < epoch) _newestHeldDiscard = 0;
    }

    private void Grow()
    {
        var bigger = new Item[_queue.Length * 2];
        for (int i = 0; i < _count; i++) bigger[i] = _queue[(_head + i) % _queue.Length];
        _queue = bigger;
        _head = 0;
    }
}
