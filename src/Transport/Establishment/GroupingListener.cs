using System.Threading.Channels;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// What every accepting listener (tcp, unix, rdma) does after a connection's own handshake: offers the
/// connection and its preamble to a <see cref="ChannelGroupAssembler"/>, queues complete streams (at most
/// <see cref="MaxUnacceptedStreams"/>) and failed ones for <see cref="AcceptAsync"/>, refuses the rest with a
/// <see cref="RejectionNotice"/>, reports every refusal, and tracks the handshakes in flight so disposal
/// waits for them. Subclasses own their accept loop and the transport-specific handshake.
/// </summary>
internal abstract class GroupingListener : TransportListener
{
    /// <summary>Complete streams waiting for <see cref="AcceptAsync"/>; beyond this, new ones are refused (they hold connections).</summary>
    internal const int MaxUnacceptedStreams = 16;

    private readonly Action<TransportException>? _onRejected;
    private readonly ChannelGroupAssembler _assembler;
    private readonly Channel<object> _outcomes = Channel.CreateBounded<object>(MaxUnacceptedStreams);
    private readonly HashSet<Task> _inflight = [];
    private int _disposed;

    protected GroupingListener(TransportOptions options, Action<TransportException>? onRejected)
    {
        Options = options;
        _onRejected = onRejected;
        _assembler = new ChannelGroupAssembler(options, OnGroupComplete, OnGroupExpired);
    }

    protected TransportOptions Options { get; }

    /// <summary>Cancelled when the listener is disposed: ends the accept loop and every handshake.</summary>
    protected CancellationTokenSource Stopping { get; } = new();

    public sealed override async ValueTask<ChannelGroup> AcceptAsync(CancellationToken cancellationToken = default)
    {
        object outcome;
        try
        {
            outcome = await _outcomes.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(GetType().Name, "the listener was disposed");
        }
        return outcome as ChannelGroup ?? throw (TransportException)outcome;
    }

    /// <summary>
    /// Hands a handshaken connection to the assembler; true when it took it. Otherwise the peer is sent the
    /// refusal (the caller still owns and closes the connection).
    /// </summary>
    protected async Task<bool> OfferAsync(TransportConnection connection, Preamble preamble)
    {
        var refusal = _assembler.Offer(connection, preamble);
        if (refusal is null) return true;
        await RejectionNotice.TrySendAsync(connection, preamble, StreamErrorCode.BadChannel, refusal.Detail).ConfigureAwait(false);
        Report(refusal);
        return false;
    }

    /// <summary>Counts a refusal and tells the listener's observer (a faulty observer must not stop the listener).</summary>
    protected void Report(TransportException rejection)
    {
        TransportMetrics.Refused(rejection.Kind);
        try { _onRejected?.Invoke(rejection); }
        catch (Exception) { /* see summary */ }
    }

    /// <summary>Keeps <paramref name="task"/> (a handshake, a refusal being sent) until it ends, so disposal can wait for it.</summary>
    protected void Track(Task task)
    {
        lock (_inflight) _inflight.Add(task);
        task.ContinueWith(static (t, s) =>
        {
            var set = (HashSet<Task>)s!;
            lock (set) set.Remove(t);
        }, _inflight, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Marks the listener disposed and cancels <see cref="Stopping"/>; false when that already happened.</summary>
    protected bool BeginDispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return false;
        Stopping.Cancel();
        return true;
    }

    /// <summary>After the accept loop ended: waits for handshakes, closes channels of incomplete and unaccepted streams.</summary>
    protected async ValueTask EndDisposeAsync()
    {
        Task[] inflight;
        lock (_inflight) inflight = [.. _inflight];
        await Task.WhenAll(inflight).ConfigureAwait(false);
        foreach (var (connection, _) in _assembler.Drain())
            await connection.DisposeAsync().ConfigureAwait(false);
        _outcomes.Writer.TryComplete();
        while (_outcomes.Reader.TryRead(out var outcome))
            if (outcome is ChannelGroup group) await group.DisposeAsync().ConfigureAwait(false);
        Stopping.Dispose();
    }

    private void OnGroupComplete(ChannelGroup group)
    {
        if (_outcomes.Writer.TryWrite(group)) return;
        var refusal = new TransportException(TransportErrorKind.HandshakeRejected, Volatile.Read(ref _disposed) != 0
            ? $"stream {group.StreamId} completed while the listener was shutting down"
            : $"stream {group.StreamId} refused: {MaxUnacceptedStreams} complete streams are already waiting to be accepted");
        Report(refusal);
        Track(CloseAsync(Enumerable.Range(0, group.Count).Select(i => (group[i], group.Preambles[i])).ToList(), StreamErrorCode.BadChannel, refusal.Detail));
    }

    private void OnGroupExpired(TransportException error, IReadOnlyList<(TransportConnection Connection, Preamble Preamble)> arrived)
    {
        Track(CloseAsync(arrived, StreamErrorCode.Timeout, error.Detail));
        // Reported through AcceptAsync (the caller waits for this stream); if nobody is taking outcomes, through the callback.
        if (!_outcomes.Writer.TryWrite(error)) Report(error);
        else TransportMetrics.Refused(error.Kind);
    }

    private static async Task CloseAsync(IReadOnlyList<(TransportConnection Connection, Preamble Preamble)> channels, StreamErrorCode code, string text)
    {
        foreach (var (connection, preamble) in channels)
        {
            await RejectionNotice.TrySendAsync(connection, preamble, code, text).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
