using System.Threading.Tasks.Sources;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// An auto-reset event with one asynchronous waiter and no allocation per wait: the channel's
/// progress thread sets it, an application task awaits it and re-checks its condition. A set
/// with no waiter is remembered, so a wake-up between "check" and "wait" is never lost.
/// Continuations never run on the setter's thread (the progress thread must not run
/// application code).
/// </summary>
internal sealed class AsyncSignal : IValueTaskSource
{
    private readonly Lock _lock = new();
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _registration;
    private CancellationToken _token;
    private bool _signaled;
    private bool _waiting;

    /// <summary>Completes at the next (or a pending) <see cref="Set"/>.</summary>
    /// <exception cref="InvalidOperationException">Another wait is already pending.</exception>
    internal ValueTask WaitAsync(CancellationToken cancellationToken)
    {
        short version;
        lock (_lock)
        {
            if (_signaled)
            {
                _signaled = false;
                return ValueTask.CompletedTask;
            }
            if (_waiting) throw new InvalidOperationException("only one task may wait on this channel operation at a time");
            cancellationToken.ThrowIfCancellationRequested();
            _core.Reset();
            _waiting = true;
            _token = cancellationToken;
            version = _core.Version;
            // Registered under the lock (Lock is re-entrant: a token cancelled meanwhile runs
            // Cancel right here) so the registration is stored before any completion can dispose it.
            if (cancellationToken.CanBeCanceled)
                _registration = cancellationToken.UnsafeRegister(static s => ((AsyncSignal)s!).Cancel(), this);
        }
        return new ValueTask(this, version);
    }

    /// <summary>Wakes the waiter, or lets the next wait pass at once.</summary>
    internal void Set()
    {
        lock (_lock)
        {
            if (!_waiting)
            {
                _signaled = true;
                return;
            }
            _waiting = false;
        }
        _core.SetResult(true);
    }

    private void Cancel()
    {
        lock (_lock)
        {
            if (!_waiting) return;
            _waiting = false;
        }
        _core.SetException(new OperationCanceledException(_token));
    }

    void IValueTaskSource.GetResult(short token)
    {
        _registration.Dispose();
        _registration = default;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
