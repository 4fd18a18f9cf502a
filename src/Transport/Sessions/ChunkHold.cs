namespace StreamKit.Transport;

/// <summary>
/// A blocking channel loop's place to wait while it holds an early chunk in place (in its receive buffer,
/// not copied) until the chunk's device reaches it (<see cref="DeviceInbox.Route"/>). One per loop, reused
/// for every hold: nothing is allocated per chunk. The loop sleeps on <see cref="Turn"/> without spinning
/// (its CPU goes to the lagging channel's thread) and reads nothing from its socket meanwhile, so TCP holds
/// the rest of that channel back in the kernel. Registered with at most one inbox at a time, under that
/// inbox's lock.
/// </summary>
internal sealed class ChunkHold(TimeSpan bound) : IDisposable
{
    /// <summary>How long a hold lasts at most before the chunk is copied after all (its predecessor may be very late, or never come).</summary>
    internal TimeSpan Bound { get; } = bound;

    /// <summary>Set by the inbox when the held chunk's turn came, its device ended, the session failed, or no channel left can deliver its predecessor.</summary>
    internal ManualResetEventSlim Turn { get; } = new(false, spinCount: 0);

    /// <summary>The held chunk's place in its device's order (valid while registered).</summary>
    internal uint Epoch { get; set; }

    /// <summary>See <see cref="Epoch"/>.</summary>
    internal ulong Sequence { get; set; }

    /// <summary>True while registered with an inbox (guarded by that inbox's lock).</summary>
    internal bool Registered { get; set; }

    public void Dispose() => Turn.Dispose();
}
