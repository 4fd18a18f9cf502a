using System.Buffers;
using System.Diagnostics;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// Puts one destination device's chunks back into (epoch, sequence) order as the channel loops parse
/// them (spec §5.2) and decides who applies each one, under one lock:
/// <list type="bullet">
/// <item>Inline (the common case): a chunk that is next in line, with nothing queued ahead of it and
/// nobody writing the device, is applied by the channel loop that parsed it, right away, from the
/// receive buffer (its CRC was checked by the reader already). The loop holds the device's write
/// ownership meanwhile and afterwards applies whatever other loops queued behind it.</item>
/// <item>Queued: a chunk that is next in line while another thread owns the device, or while the queue
/// is not empty, is queued with a lease on its receive buffer (no copy). So are the chunks whose device
/// operation may block for long (DEVICE_BEGIN: RESUMING; DISCARD: reset; DEVICE_END: the commit): those
/// are always left to the device's writer thread, which owns the device while it applies queued chunks.</item>
/// <item>Held: a chunk that is early (its predecessor is on another channel) is held in place by a blocking
/// channel loop for a short while (<see cref="ChunkHold"/>): the loop sleeps, reading nothing more, until the
/// chunk is next in line and is routed as such, from its receive buffer. Loops hold chunks of one device at a
/// time (<see cref="HoldGate"/>: no cycle of holds across devices), and a hold is bounded in time (the
/// predecessor may be very late) and ends at once when no channel left can deliver the predecessor (every
/// other channel has ended or holds an early chunk of this device too: it was lost); otherwise, past the bound
/// or in that case, and always for a loop that cannot block (TLS, RDMA, files) the chunk is copied into the
/// <see cref="ReassemblyStore"/> until its turn, then queued.</item>
/// </list>
/// Exactly one thread owns the device at a time, and it takes chunks in routing order, so the device
/// sees them in (epoch, sequence) order whichever channel carried them. Chunks of an epoch older than
/// the current one arrived late after a DISCARD overtook them and are dropped; a DISCARD of a newer
/// epoch is queued as soon as it arrives, even across a gap, since it voids that gap. With a single
/// channel nothing may be early. The structure itself (offsets, digests, phases) is checked by the
/// writer's <see cref="DeviceStreamState"/>, whoever applies the chunk.
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
    private bool _writing;
    private uint _epoch;
    private ulong _next;
    private Dictionary<(uint Epoch, ulong Sequence), Item>? _held;
    private uint _newestHeldDiscard;
    private readonly List<ChunkHold> _holders = [];
    private long _longestHoldTicks;
    private bool _holdsOff; // a hold ran out, or was stranded, at (_holdsOffEpoch, _holdsOffNext): no more holds at that gap
    private bool _stranded; // ... stranded: no channel left could deliver that gap's chunk, so the holds there end too
    private uint _holdsOffEpoch;
    private ulong _holdsOffNext;
    private long _heldInPlace;
    private long _holdTimeouts;
    private long _strandedHolds;
    private long _earlyChunks;

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

    /// <summary>Early chunks a loop held in place until their turn (never copied).</summary>
    internal long HeldInPlace
    {
        get { lock (_gate) return _heldInPlace; }
    }

    /// <summary>Early chunks held in place until <see cref="ChunkHold.Bound"/> passed, then copied into the store.</summary>
    internal long HoldTimeouts
    {
        get { lock (_gate) return _holdTimeouts; }
    }

    /// <summary>
    /// Holds ended before their bound because no channel left could deliver the held chunk's predecessor (every
    /// other channel loop had ended or held an early chunk of this device too); the chunks were copied into the store.
    /// </summary>
    internal long StrandedHolds
    {
        get { lock (_gate) return _strandedHolds; }
    }

    /// <summary>Channel loops holding an early chunk of this device in place now.</summary>
    internal int HoldingCount
    {
        get { lock (_gate) return _holders.Count; }
    }

    /// <summary>Early chunks met so far: held in place, copied, or both (tests wait for a loop to reach one).</summary>
    internal long EarlyChunks
    {
        get { lock (_gate) return _earlyChunks; }
    }

    /// <summary>Longest time a loop held an early chunk of this device in place.</summary>
    internal TimeSpan LongestHold
    {
        get { lock (_gate) return Stopwatch.GetElapsedTime(0, _longestHoldTicks); }
    }

    /// <summary>True while the in-order queue is above its high-water mark.</summary>
    internal bool Overfull => Volatile.Read(ref _overfull);

    /// <summary>True while nothing is queued and no thread writes the device (the next in-order chunk would be written inline).</summary>
    internal bool Idle
    {
        get { lock (_gate) return !_writing && _count == 0; }
    }

    /// <summary>Chunks held for reassembly now.</summary>
    internal int HeldCount
    {
        get { lock (_gate) return _held?.Count ?? 0; }
    }

    /// <summary>What a channel loop does after <see cref="Route"/>.</summary>
    internal enum Routing
    {
        /// <summary>Queued, held, or dropped: nothing more to do.</summary>
        Done,

        /// <summary>The caller owns the device: it applies this chunk, then <see cref="TryTakeInline"/> until false.</summary>
        ApplyInline,

        /// <summary>The caller owns the device: the chunk was queued behind others; <see cref="TryTakeInline"/> until false.</summary>
        DrainInline,
    }

    /// <summary>True for the chunk types a channel loop applies itself; the others can block on the device for long.</summary>
    internal static bool IsInline(ChunkType type) => type is not (ChunkType.DeviceBegin or ChunkType.Discard or ChunkType.DeviceEnd);

    /// <summary>
    /// Routes a chunk a channel loop has just read (CRC checked, per-channel order checked). An early chunk is
    /// first held in place when the loop brings a <paramref name="hold"/> (a blocking loop): the loop sleeps
    /// until the chunk is next in line (then it is routed like any in-order chunk, straight from the receive
    /// buffer), the device ends, the session fails, no channel left can deliver the chunk's predecessor (see
    /// <see cref="ChannelEnded"/>), or <see cref="ChunkHold.Bound"/> passes; only then is it copied into the store.
    /// </summary>
    /// <returns>Whether the caller now owns the device's writes and must apply (see <see cref="Routing"/>).</returns>
    /// <exception cref="StreamFormatException">Duplicate, gap on a single channel, chunk after DEVICE_END, reassembly overflow.</exception>
    internal Routing Route(int channel, in Chunk chunk, ReceiveWindow window, ChunkHold? hold = null)
    {
        long heldSince = 0;
        try
        {
            while (true)
            {
                var routing = RouteOnce(channel, chunk, window, hold, ref heldSince, out bool wait);
                if (!wait) return routing;
                // Outside the lock: the loop that routes the predecessor (or Abort) sets Turn.
                long left = heldSince + BoundTicks(hold!) - Stopwatch.GetTimestamp();
                // Whole milliseconds, rounded up: a wait of 0 would return at once and spin until the deadline.
                if (left > 0) hold!.Turn.Wait((int)Math.Min(int.MaxValue, (left * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency));
            }
        }
        finally
        {
            if (heldSince != 0) EndHold(heldSince);
        }
    }

    private static long BoundTicks(ChunkHold hold) => (long)(hold.Bound.TotalSeconds * Stopwatch.Frequency);

    /// <summary>
    /// One pass of <see cref="Route"/> under the lock. <paramref name="wait"/>: the chunk is early and the caller
    /// is registered to hold it (since <paramref name="heldSince"/>, set on the first pass that holds).
    /// </summary>
    private Routing RouteOnce(int channel, in Chunk chunk, ReceiveWindow window, ChunkHold? hold, ref long heldSince, out bool wait)
    {
        var h = chunk.Header;
        wait = false;
        lock (_gate)
        {
            if (hold is { Registered: true }) Unregister(hold);
            // Once the session failed nothing more reaches the device (it is about to be reset).
            if (_aborted || _session.Failure.IsFailed) return Routing.Done;
            // Spec §5.2 order: a voided epoch's chunk is dropped, then duplicates, then "after DEVICE_END" (a late
            // chunk of a voided epoch may arrive after the device committed; the stream is still valid).
            if (_begun && h.Epoch < _epoch)
            {
                StaleDropped++;
                _session.Consumed(ChunkHeader.Size + (long)h.WireLength);
                return Routing.Done;
            }
            if (h.Epoch == _epoch && h.Sequence < _next)
                throw DeviceStreamState.Fail(StreamErrorCode.DuplicateChunk, channel, chunk, $"device {_device} epoch {h.Epoch} sequence {h.Sequence} was already received");
            if (_ended)
                throw DeviceStreamState.Fail(StreamErrorCode.UnexpectedChunk, channel, chunk, $"{ChunkTypeRules.Name(h.Type)} for device {_device} after its DEVICE_END");
            bool inOrder = (h.Epoch == _epoch && h.Sequence == _next) || (_begun && h.Epoch > _epoch && h.Sequence == 0);
            if (inOrder)
            {
                if (heldSince != 0) _heldInPlace++;
                if (_count == 0 && !_writing && IsInline(h.Type))
                {
                    MovePast(h);
                    Drain(); // held chunks that follow it now queue behind it
                    _writing = true;
                    return Routing.ApplyInline;
                }
                Enqueue(new Item(channel, chunk, h.WireLength == 0 ? default : window.Lease(chunk.Payload), null, 0));
                Drain();
                return Claim();
            }
            if ((_held is not null && _held.ContainsKey((h.Epoch, h.Sequence))) || IsHeldInPlace(h.Epoch, h.Sequence))
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
            if (heldSince == 0) _earlyChunks++;
            if (hold is not null && KeepHolding(hold, ref heldSince))
            {
                Register(hold, h);
                wait = true;
                return Routing.Done;
            }
            var copy = _store.Hold(channel, chunk, out long charge);
            var held = new Chunk(h, copy is null ? default : new ReadOnlySequence<byte>(copy.Array, 0, (int)h.WireLength), chunk.StreamOffset, chunk.Index);
            _held ??= [];
            _held.Add((h.Epoch, h.Sequence), new Item(channel, held, default, copy, charge));
            if (h.Sequence == 0 && h.Epoch > _newestHeldDiscard) _newestHeldDiscard = h.Epoch;
            return Routing.Done;
        }
    }

    /// <summary>
    /// Writer thread: the next queued chunk, waiting until there is one and nobody else writes the device;
    /// the writer owns the device until <see cref="EndWrite"/>. False once the stream ended (or failed) and nothing is left.
    /// </summary>
    internal bool TryTake(out Item item)
    {
        lock (_gate)
        {
            while (!_aborted && (_writing || (_count == 0 && !_completed))) Monitor.Wait(_gate);
            if (_aborted || _count == 0)
            {
                item = default;
                return false;
            }
            item = Dequeue();
            _writing = true;
            return true;
        }
    }

    /// <summary>
    /// A channel loop that owns the device (<see cref="Route"/> said so): the next queued chunk if it may apply
    /// it too. Otherwise it gives the ownership up (and wakes the writer thread for a queued chunk it leaves).
    /// </summary>
    internal bool TryTakeInline(out Item item)
    {
        lock (_gate)
        {
            if (!_aborted && !_session.Failure.IsFailed && _count > 0 && IsInline(_queue[_head].Chunk.Header.Type))
            {
                item = Dequeue();
                return true;
            }
            item = default;
            _writing = false;
            if (_count > 0 || _aborted) Monitor.PulseAll(_gate);
            return false;
        }
    }

    /// <summary>Gives up the device's write ownership (the writer after each chunk; a channel loop whose inline apply threw).</summary>
    internal void EndWrite()
    {
        lock (_gate)
        {
            _writing = false;
            if (_count > 0 || _aborted) Monitor.PulseAll(_gate);
        }
    }

    /// <summary>After <see cref="Abort"/>: waits until no thread is writing the device (false if <paramref name="timeout"/> passed first).</summary>
    internal bool WaitIdle(TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_gate)
        {
            while (_writing)
            {
                long left = deadline - Environment.TickCount64;
                if (left <= 0) return false;
                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(left));
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

    /// <summary>
    /// A channel loop ended (STREAM_END, the end of its input, or a failure; <see cref="ReceiverSession.ChannelsReceiving"/>
    /// counts it out already): when every loop still receiving holds an early chunk of this device, the chunk they
    /// wait for can no longer come, and their holds end now rather than at the bound. A hold that starts later
    /// checks the same condition under this lock, so an end racing with the start of a hold is not missed.
    /// </summary>
    internal void ChannelEnded()
    {
        lock (_gate)
        {
            if (WaitingHolders() > 0 && Stranded(self: 0)) Strand();
        }
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
            WakeHolders();
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

    /// <summary>
    /// Caller holds the lock, after queuing. Nobody owns the device: the calling loop takes it when the head
    /// of the queue is a chunk it may apply; else the writer thread is woken for it.
    /// </summary>
    private Routing Claim()
    {
        if (_writing || _count == 0) return Routing.Done;
        if (IsInline(_queue[_head].Chunk.Header.Type))
        {
            _writing = true;
            return Routing.DrainInline;
        }
        Monitor.PulseAll(_gate);
        return Routing.Done;
    }

    /// <summary>Caller holds the lock. Takes the head of the queue.</summary>
    private Item Dequeue()
    {
        var item = _queue[_head];
        _queue[_head] = default;
        _head = (_head + 1) % _queue.Length;
        _count--;
        _queuedBytes -= item.Chunk.Header.WireLength;
        if (_overfull && _count <= LowWater && _queuedBytes <= _highWaterBytes / 2)
        {
            Volatile.Write(ref _overfull, false);
            _session.WakeChannels();
        }
        return item;
    }

    /// <summary>Caller holds the lock. Queues an in-order item and moves the routing position past it.</summary>
    private void Enqueue(in Item item)
    {
        MovePast(item.Chunk.Header);
        if (_count == _queue.Length) Grow();
        _queue[(_head + _count) % _queue.Length] = item;
        _count++;
        _queuedBytes += item.Chunk.Header.WireLength;
        if (_count > HighWater || _queuedBytes > _highWaterBytes) Volatile.Write(ref _overfull, true);
    }

    /// <summary>Caller holds the lock. Moves the routing position past an in-order chunk.</summary>
    private void MovePast(in ChunkHeader h)
    {
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
        if (_holders.Count > 0) WakeHolders();
    }

    /// <summary>
    /// Caller holds the lock, the chunk is early: whether the loop holds it in place (on) rather than copy it.
    /// Not when holds are off, while loops hold chunks of another device (<see cref="HoldGate"/>), or after a
    /// hold of this device ran out at the same gap (its next chunk is badly late: holding more would stall
    /// each channel for the whole bound); nor once the bound passed, nor once no channel left can deliver the
    /// next chunk (<see cref="Stranded"/>: the holds of this device end at once, and none starts at that gap again).
    /// </summary>
    private bool KeepHolding(ChunkHold hold, ref long heldSince)
    {
        long now = Stopwatch.GetTimestamp();
        bool offHere = _holdsOff && _holdsOffEpoch == _epoch && _holdsOffNext == _next;
        if (heldSince == 0)
        {
            if (hold.Bound <= TimeSpan.Zero || offHere) return false;
            if (Stranded(self: 1))
            {
                Strand();
                return false;
            }
            if (!_session.Holds.TryEnter(_device)) return false;
            heldSince = now;
            return true;
        }
        if ((offHere && _stranded) || Stranded(self: 1))
        {
            _strandedHolds++;
            Strand();
            return false;
        }
        if (now - heldSince < BoundTicks(hold)) return true;
        _holdTimeouts++;
        (_holdsOff, _stranded, _holdsOffEpoch, _holdsOffNext) = (true, false, _epoch, _next);
        return false;
    }

    /// <summary>
    /// Caller holds the lock. True when no channel loop that could route this device's next chunk is left: every
    /// loop still receiving (but the caller, <paramref name="self"/> = 1, when it is one of them) holds an early
    /// chunk of this device. A channel carries a device's chunks in order, so the next one is behind none of those
    /// held chunks: it was on a channel that ended without it (lost), and waiting longer cannot bring it.
    /// </summary>
    private bool Stranded(int self) => _session.ChannelsReceiving - self <= WaitingHolders();

    /// <summary>Caller holds the lock, <see cref="Stranded"/>: no more holds at this gap; the loops holding chunks of this device re-evaluate and copy them.</summary>
    private void Strand()
    {
        (_holdsOff, _stranded, _holdsOffEpoch, _holdsOffNext) = (true, true, _epoch, _next);
        foreach (var hold in _holders) hold.Turn.Set();
    }

    /// <summary>Caller holds the lock. Registered holders still waiting (not woken for their chunk's turn, or its void epoch).</summary>
    private int WaitingHolders()
    {
        int waiting = 0;
        foreach (var hold in _holders)
            if (!MayRoute(hold)) waiting++;
        return waiting;
    }

    /// <summary>Caller holds the lock. Whether the held chunk is now next in line, or of a voided epoch (dropped).</summary>
    private bool MayRoute(ChunkHold hold) => hold.Epoch < _epoch || (hold.Epoch == _epoch && hold.Sequence == _next);

    /// <summary>A hold ended (routed, copied, dropped or failed): leaves the gate, keeps the longest hold for diagnostics.</summary>
    private void EndHold(long heldSince)
    {
        _session.Holds.Leave();
        long ticks = Stopwatch.GetTimestamp() - heldSince;
        lock (_gate)
        {
            if (ticks > _longestHoldTicks) _longestHoldTicks = ticks;
        }
    }

    /// <summary>Caller holds the lock. Registers a loop holding early chunk <paramref name="h"/> in place; it waits on its <see cref="ChunkHold.Turn"/>.</summary>
    private void Register(ChunkHold hold, in ChunkHeader h)
    {
        hold.Epoch = h.Epoch;
        hold.Sequence = h.Sequence;
        hold.Turn.Reset();
        hold.Registered = true;
        _holders.Add(hold);
    }

    /// <summary>Caller holds the lock.</summary>
    private void Unregister(ChunkHold hold)
    {
        hold.Registered = false;
        _holders.Remove(hold);
    }

    /// <summary>Caller holds the lock. Whether a loop holds (epoch, sequence) in place now.</summary>
    private bool IsHeldInPlace(uint epoch, ulong sequence)
    {
        foreach (var hold in _holders)
            if (hold.Epoch == epoch && hold.Sequence == sequence) return true;
        return false;
    }

    /// <summary>
    /// Caller holds the lock, after the routing position moved (or the inbox aborted): wakes the holders whose
    /// chunk is now next in line or void, and all of them once the device ended or the session failed. The rest
    /// sleep on: a wake-up per routed chunk for every holder would cost each a context switch.
    /// </summary>
    private void WakeHolders()
    {
        foreach (var hold in _holders)
        {
            if (_aborted || _ended || MayRoute(hold))
                hold.Turn.Set();
        }
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
