using StreamKit.Device;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// The first failure of a migration, whoever sees it (a pump, a channel loop, the return path, the
/// caller's cancellation): the first reason wins, every part of the session is cancelled through
/// <see cref="Token"/>, and later failures (usually consequences of the cancellation) are ignored.
/// </summary>
internal sealed class SessionFailure : IDisposable
{
    private readonly CancellationTokenSource _cancel;
    private readonly CancellationTokenRegistration _outer;
    private readonly TaskCompletionSource<MigrationException> _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly bool _sender;
    private MigrationException? _exception;

    internal SessionFailure(bool sender, CancellationToken outer)
    {
        _sender = sender;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(outer);
        _outer = outer.UnsafeRegister(static s => ((SessionFailure)s!).Set(
            new MigrationException(StreamErrorCode.Cancelled, MigrationFailureOrigin.Local, "the migration was cancelled")), this);
    }

    /// <summary>Cancelled once the session failed.</summary>
    internal CancellationToken Token => _cancel.Token;

    /// <summary>The winning failure, or null.</summary>
    internal MigrationException? Exception => Volatile.Read(ref _exception);

    internal bool IsFailed => Exception is not null;

    /// <summary>Completes with the failure.</summary>
    internal Task<MigrationException> Failed => _failed.Task;

    /// <summary>Records <paramref name="exception"/> unless another failure came first; cancels the session.</summary>
    internal bool Set(MigrationException exception)
    {
        if (Interlocked.CompareExchange(ref _exception, exception, null) is not null) return false;
        _failed.TrySetResult(exception);
        // Cancel off the caller's thread: registered callbacks (socket aborts, waits) must not run inside a pump.
        ThreadPool.UnsafeQueueUserWorkItem(static s =>
        {
            try { ((CancellationTokenSource)s!).Cancel(); }
            catch (ObjectDisposedException) { /* the session already finished */ }
        }, _cancel, preferLocal: false);
        return true;
    }

    /// <summary>Classifies <paramref name="e"/> and records it.</summary>
    internal bool Set(Exception e) => Set(Classify(e));

    /// <summary>
    /// A connection failed: the peer may be explaining why on the return path (ERROR, then close).
    /// Give <paramref name="explanation"/> (the return-path reader) a moment to record the peer's reason first.
    /// </summary>
    internal async Task SetAfterGraceAsync(Exception e, Task? explanation, TimeSpan grace)
    {
        if (explanation is not null && !IsFailed)
            await Task.WhenAny(explanation, Task.Delay(grace)).ConfigureAwait(false);
        Set(e);
    }

    /// <summary>Turns any exception into the migration failure it means on this side.</summary>
    internal MigrationException Classify(Exception e) => e switch
    {
        MigrationException m => m,
        AggregateException { InnerExceptions.Count: 1 } a => Classify(a.InnerExceptions[0]),
        DeviceException d => _sender
            ? new MigrationException(StreamErrorCode.SourceDeviceFailed, MigrationFailureOrigin.SourceDevice, d.Message, d)
            : new MigrationException(StreamErrorCode.DeviceRejected, MigrationFailureOrigin.DestinationDevice, d.Message, d),
        // A channel cut mid-chunk reads as a truncated stream: the connection's fault, not the peer's format.
        StreamFormatException { Code: StreamErrorCode.TruncatedPreamble or StreamErrorCode.TruncatedHeader or StreamErrorCode.TruncatedPayload or StreamErrorCode.TruncatedStream } f
            => new MigrationException(f.Code, MigrationFailureOrigin.Transport, f.Message, f),
        StreamFormatException f => new MigrationException(f.Code, MigrationFailureOrigin.Peer, f.Message, f),
        TransportException { Kind: TransportErrorKind.Timeout } t => new MigrationException(StreamErrorCode.Timeout, MigrationFailureOrigin.Transport, t.Message, t),
        TransportException t => new MigrationException(StreamErrorCode.ConnectionFailed, MigrationFailureOrigin.Transport, t.Message, t),
        OperationCanceledException o => new MigrationException(StreamErrorCode.Cancelled, MigrationFailureOrigin.Local, "the migration was cancelled", o),
        _ => new MigrationException(StreamErrorCode.Cancelled, MigrationFailureOrigin.Local, $"internal error: {e.GetType().Name}: {e.Message}", e),
    };

    public void Dispose()
    {
        _outer.Dispose();
        _cancel.Dispose();
    }
}
