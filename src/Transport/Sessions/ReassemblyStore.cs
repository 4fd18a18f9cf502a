using System.Buffers;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// Where a receiver keeps chunks that arrived early on one channel while an earlier chunk of the same
/// device is still on its way on another (spec §5.2). Each held chunk is copied out of the receive
/// buffer (so the channel's receive blocks recycle at once) into a pinned block of the pool the receive
/// windows use too, and charged its wire length plus 64 bytes against a hard cap shared by all devices;
/// going over it is <see cref="StreamErrorCode.ReassemblyOverflow"/>. So is a copy that would take the
/// pool's rented bytes past <paramref name="poolLimit"/>: the pool's rest is each channel's reserve, so
/// the chunk an early one waits for can always be received. A sender that honours the announced window
/// gets to neither, since the window bounds everything in flight. In-order chunks never come here.
/// </summary>
internal sealed class ReassemblyStore(long cap, PinnedBufferPool pool, long poolLimit)
{
    private readonly object _gate = new();
    private long _used;
    private long _peak;

    /// <summary>Bytes charged now.</summary>
    internal long Used
    {
        get { lock (_gate) return _used; }
    }

    /// <summary>Most bytes charged at once.</summary>
    internal long Peak
    {
        get { lock (_gate) return _peak; }
    }

    /// <summary>Copies <paramref name="chunk"/>'s payload (if any) and charges it.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.ReassemblyOverflow"/>.</exception>
    internal PooledBuffer? Hold(int channel, in Chunk chunk, out long charge)
    {
        charge = chunk.Header.WireLength + (long)WireLimits.ReassemblyEntryOverhead;
        lock (_gate)
        {
            if (_used + charge > cap)
                throw Overflow(channel, chunk, charge);
            _used += charge;
            if (_used > _peak) _peak = _used;
        }
        if (chunk.Header.WireLength == 0) return null;
        if (!pool.TryRent((int)chunk.Header.WireLength, poolLimit, out var copy))
        {
            lock (_gate) _used -= charge;
            throw new StreamFormatException(StreamErrorCode.ReassemblyOverflow, chunk.StreamOffset,
                $"channel {channel} chunk #{chunk.Index}: holding it ({charge} bytes) would pass the receiver's buffer budget ({pool.RentedBytes} of {poolLimit} bytes in use by receive windows and {Used} bytes of early chunks; the sender does not respect the receive window)");
        }
        chunk.Payload.CopyTo(copy.Array);
        return copy;
    }

    /// <summary>Gives a held chunk's memory and charge back.</summary>
    internal void Release(PooledBuffer? copy, long charge)
    {
        copy?.Release();
        lock (_gate) _used -= charge;
    }

    private StreamFormatException Overflow(int channel, in Chunk chunk, long charge) =>
        new(StreamErrorCode.ReassemblyOverflow, chunk.StreamOffset,
            $"channel {channel} chunk #{chunk.Index}: holding {Used} bytes of out-of-order chunks; this one ({charge}) would pass the reassembly cap {cap} (the sender does not respect the receive window)");
}
