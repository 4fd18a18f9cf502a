namespace StreamKit.Transport;

/// <summary>
/// The sender's side of the receive window (spec §6.5): device-chunk bytes reserved (sent or about to
/// be) minus the bytes the receiver reported consumed must stay within the window it announced.
/// A pump reserves a chunk's bytes before the chunk is numbered, so chunks of one device take window
/// in sequence order: every reserved chunk is sent without waiting again, and the chunk the receiver
/// needs next is never stuck behind the window (no deadlock on out-of-order arrival). With nothing in
/// flight a reservation always passes, so a window smaller than one chunk still makes progress.
/// Waits are blocking: pumps are dedicated threads.
/// </summary>
internal sealed class FlowWindow
{
    private readonly object _gate = new();
    private long _window;      // 0 = unlimited
    private long _reserved;    // cumulative
    private long _consumed;    // cumulative, from WINDOW chunks
    private bool _aborted;

    /// <summary>Sets the receiver's window (0 = none: rely on transport back-pressure).</summary>
    internal void SetWindow(long window)
    {
        lock (_gate) _window = window;
    }

    internal long Window => Volatile.Read(ref _window);

    /// <summary>Bytes reserved and not yet reported consumed.</summary>
    internal long InFlight
    {
        get { lock (_gate) return _reserved - _consumed; }
    }

    /// <summary>Blocks until <paramref name="bytes"/> fit in the window.</summary>
    /// <exception cref="OperationCanceledException">The session failed meanwhile.</exception>
    internal void Reserve(long bytes)
    {
        lock (_gate)
        {
            while (!_aborted && _window > 0 && _reserved > _consumed && _reserved + bytes - _consumed > _window)
                Monitor.Wait(_gate);
            if (_aborted) throw new OperationCanceledException("the migration failed");
            _reserved += bytes;
        }
    }

    /// <summary>Returns part of a reservation (a chunk turned out smaller: LZ4, zero run).</summary>
    internal void Refund(long bytes)
    {
        if (bytes == 0) return;
        lock (_gate)
        {
            _reserved -= bytes;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The receiver has consumed <paramref name="consumed"/> bytes in all.</summary>
    internal void OnConsumed(long consumed)
    {
        lock (_gate)
        {
            if (consumed <= _consumed) return;
            _consumed = consumed;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Wakes every waiter with a failure.</summary>
    internal void Abort()
    {
        lock (_gate)
        {
            _aborted = true;
            Monitor.PulseAll(_gate);
        }
    }
}
