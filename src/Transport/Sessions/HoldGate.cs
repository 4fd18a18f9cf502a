namespace StreamKit.Transport;

/// <summary>
/// Lets channel loops hold early chunks in place (<see cref="ChunkHold"/>) of one device at a time, session-wide.
/// Holds of a single device cannot wait on each other in a cycle: the device's next chunk is the smallest one
/// not yet routed, so every chunk before it on its channel is routed already, and that channel's loop holds
/// nothing (it could only hold a chunk of this device, which would be smaller). With two devices they can: a
/// loop holds X5 (X4 is on the other channel, behind Y4) while the other holds Y4 (Y3 is behind X5). So
/// while loops hold chunks of one device, an early chunk of another is copied at once, as before holds existed.
/// </summary>
internal sealed class HoldGate
{
    private readonly object _gate = new();
    private ushort _device;
    private int _holders;

    /// <summary>Enters a hold of a chunk of <paramref name="device"/>: false while loops hold chunks of another device.</summary>
    internal bool TryEnter(ushort device)
    {
        lock (_gate)
        {
            if (_holders > 0 && _device != device) return false;
            _device = device;
            _holders++;
            return true;
        }
    }

    /// <summary>Ends a hold <see cref="TryEnter"/> let in (the chunk was routed, copied, dropped, or failed).</summary>
    internal void Leave()
    {
        lock (_gate) _holders--;
    }
}
