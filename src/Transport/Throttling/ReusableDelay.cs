using System.Threading.Tasks.Sources;

namespace StreamKit.Transport;

/// <summary>
/// A cancellable delay that can be awaited again and again without allocating (one timer and one
/// value-task source, reused), unlike <c>Task.Delay</c>. One waiter at a time: a connection's
/// sender uses it for token-bucket waits.
/// </summary>
internal sealed class ReusableDelay : IValueTaskSource, IDisposable
{
    private const int Idle = 0, Waiting = 1;

    private readonly Timer _timer;
    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationTokenRegistration _registration;
    private CancellationToken _token;
    private int _state;

    public ReusableDelay()
    {
        _timer = new Timer(static s => ((ReusableDelay)s!).Complete(canceled: false), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Waits <paramref name="delay"/>, or throws <see cref="OperationCanceledException"/> when the token fires first.</summary>
    public ValueTask WaitAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested) return ValueTask.FromCanceled(cancellationToken);
        if (delay <= TimeSpan.Zero) return ValueTask.CompletedTask;
        if (Interlocked.CompareExchange(ref _state, Waiting, Idle) != Idle)
            throw new InvalidOperationException("ReusableDelay supports one waiter at a time");
        _core.Reset();
        _token = cancellationToken;
        if (cancellationToken.CanBeCanceled)
            _registration = cancellationToken.UnsafeRegister(static s => ((ReusableDelay)s!).Complete(canceled: true), this);
        _timer.Change(delay, Timeout.InfiniteTimeSpan);
        return new ValueTask(this, _core.Version);
    }

    private void Complete(bool canceled)
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Waiting) != Waiting) return;
        _timer.Change(Timeout.Infinite, Timeout.Infinite);
        // Unregister does not wait for a running callback, so it is safe from inside one.
        _registration.Unregister();
        if (canceled) _core.SetException(new OperationCanceledException(_token));
        else _core.SetResult(true);
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);
    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void Dispose()
    {
        _timer.Dispose();
        Complete(canceled: true);
    }
}
