using StreamKit.Transport.Rdma;

namespace StreamKit.Transport;

/// <summary>
/// Wakes one loop that either owns a thread (a socket's loop: blocking waits, no thread-pool hop per wake-up)
/// or runs asynchronously (other transports): an auto-reset signal in either form, chosen once. Any thread may
/// <see cref="Set"/> it; a set with no waiter lets the next wait pass. The waiter re-checks its condition after
/// every wait (a set that lands while it is awake may be folded into the wake-up it already had).
/// </summary>
internal sealed class LoopSignal
{
    private readonly AsyncSignal? _async;
    private readonly ManualResetEventSlim? _thread;

    /// <param name="onThread">True: the waiter is a dedicated thread (<see cref="Wait"/>); false: a task (<see cref="WaitAsync"/>).</param>
    internal LoopSignal(bool onThread)
    {
        if (onThread) _thread = new ManualResetEventSlim(false, spinCount: 0); // no spinning: the setter is rarely about to set again
        else _async = new AsyncSignal();
    }

    /// <summary>True when the waiter is a dedicated thread.</summary>
    internal bool OnThread => _thread is not null;

    /// <summary>Wakes the waiter, or lets the next wait pass at once.</summary>
    internal void Set()
    {
        if (_thread is { } thread) thread.Set();
        else _async!.Set();
    }

    /// <summary>Blocks until a set (or a pending one) or <paramref name="timeout"/>; only when <see cref="OnThread"/>.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    internal void Wait(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var thread = _thread ?? throw new InvalidOperationException("an async loop's signal is awaited (WaitAsync)");
        thread.Wait(timeout, cancellationToken);
        thread.Reset(); // before the caller re-checks: a set from here on passes the next wait
    }

    /// <summary>Completes at the next (or a pending) set; only when not <see cref="OnThread"/>.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    internal ValueTask WaitAsync(CancellationToken cancellationToken) =>
        (_async ?? throw new InvalidOperationException("a thread's signal is waited for blocking (Wait)")).WaitAsync(cancellationToken);
}
