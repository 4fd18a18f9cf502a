using System.Globalization;
using System.Net;
using System.Threading.Channels;
using StreamKit.Transport.Rdma;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// Listener for rdma:// addresses: rdma_cm accepts each RC connection (its transport handshake
/// exchanges buffer sizes and credits), then, concurrently and under
/// <see cref="TransportOptions.HandshakeTimeout"/>, the channel's preamble is read and the channel
/// goes to the same <see cref="ChannelGroupAssembler"/> as TCP channels.
/// </summary>
internal sealed class RdmaTransportListener : TransportListener
{
    private readonly RdmaListener _listener;
    private readonly TransportAddress _address;
    private readonly TransportOptions _options;
    private readonly Action<TransportException>? _onRejected;
    private readonly ChannelGroupAssembler _assembler;
    private readonly Channel<object> _outcomes = Channel.CreateBounded<object>(SocketListener.MaxUnacceptedStreams);
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<Task> _inflight = [];
    private readonly Task _acceptLoop;
    private int _disposed;

    private RdmaTransportListener(RdmaListener listener, TransportAddress address, TransportOptions options, Action<TransportException>? onRejected)
    {
        _listener = listener;
        _address = address;
        _options = options;
        _onRejected = onRejected;
        _assembler = new ChannelGroupAssembler(options, OnGroupComplete, OnGroupExpired);
        _acceptLoop = AcceptLoopAsync();
    }

    public override TransportAddress Address => _address;

    /// <exception cref="TransportException">Libraries or device missing, TLS asked for, or the address is not on an RDMA device.</exception>
    public static RdmaTransportListener Start(TransportAddress address, TransportOptions options, Action<TransportException>? onRejected)
    {
        RdmaTransport.EnsureUsable(address, options);
        var ip = RdmaTransport.ResolveListenAddress(address);
        RdmaListener listener;
        try
        {
            listener = RdmaListener.Bind(new IPEndPoint(ip, address.Port), RdmaTransport.ChannelOptions(options));
        }
        catch (RdmaException e)
        {
            throw RdmaErrors.ToTransport(e, address.ToString());
        }
        return new RdmaTransportListener(listener, address.WithPort(listener.LocalEndPoint.Port), options, onRejected);
    }

    public override async ValueTask<ChannelGroup> AcceptAsync(CancellationToken cancellationToken = default)
    {
        object outcome;
        try
        {
            outcome = await _outcomes.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(RdmaTransportListener), "the listener was disposed");
        }
        return outcome as ChannelGroup ?? throw (TransportException)outcome;
    }

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        while (!_stopping.IsCancellationRequested)
        {
            RdmaChannel channel;
            try
            {
                channel = await _listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (RdmaException e)
            {
                // A peer that failed its transport handshake, or a device problem: report, breathe, keep listening.
                Report(RdmaErrors.ToTransport(e, _address.ToString()));
                try { await Task.Delay(50, _stopping.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
                continue;
            }
            Track(HandshakeAsync(channel));
        }
    }

    private async Task HandshakeAsync(RdmaChannel channel)
    {
        var connection = new RdmaConnection(channel, RdmaTransport.Describe(channel.LocalEndPoint), ConnectionSettings.From(_options, bandwidth: null));
        bool handedOver = false;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
        if (_options.HandshakeTimeout != Timeout.InfiniteTimeSpan) deadline.CancelAfter(_options.HandshakeTimeout);
        try
        {
            var preamble = await PreambleExchange.ReadAsync(connection, deadline.Token).ConfigureAwait(false);
            var refusal = _assembler.Offer(connection, preamble);
            if (refusal is null)
            {
                handedOver = true; // the assembler owns it now
                return;
            }
            await RejectionNotice.TrySendAsync(connection, preamble, StreamErrorCode.BadChannel, refusal.Detail).ConfigureAwait(false);
            Report(refusal);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException)
        {
            Report(new TransportException(TransportErrorKind.Timeout, string.Create(CultureInfo.InvariantCulture,
                $"no complete preamble within {_options.HandshakeTimeout.TotalSeconds:0.###} s ({connection.BytesReceived} bytes received); closing"), connection.RemoteEndPoint));
        }
        catch (TransportException e)
        {
            Report(e);
        }
        finally
        {
            if (!handedOver) await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void OnGroupComplete(ChannelGroup group)
    {
        if (_outcomes.Writer.TryWrite(group)) return;
        var refusal = new TransportException(TransportErrorKind.HandshakeRejected, _disposed != 0
            ? $"stream {group.StreamId} completed while the listener was shutting down"
            : $"stream {group.StreamId} refused: {SocketListener.MaxUnacceptedStreams} complete streams are already waiting to be accepted");
        Report(refusal);
        Track(CloseAsync(Enumerable.Range(0, group.Count).Select(i => (group[i], group.Preambles[i])).ToList(), StreamErrorCode.BadChannel, refusal.Detail));
    }

    private void OnGroupExpired(TransportException error, IReadOnlyList<(TransportConnection Connection, Preamble Preamble)> arrived)
    {
        Track(CloseAsync(arrived, StreamErrorCode.Timeout, error.Detail));
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

    private void Report(TransportException rejection)
    {
        TransportMetrics.Refused(rejection.Kind);
        try { _onRejected?.Invoke(rejection); }
        catch (Exception) { /* a faulty observer must not stop the listener */ }
    }

    private void Track(Task task)
    {
        lock (_inflight) _inflight.Add(task);
        task.ContinueWith(static (t, s) =>
        {
            var set = (HashSet<Task>)s!;
            lock (set) set.Remove(t);
        }, _inflight, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    public override async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stopping.Cancel();
        await Task.Run(_listener.Dispose).ConfigureAwait(false); // waits for a running accept's poll slice
        await _acceptLoop.ConfigureAwait(false);
        Task[] inflight;
        lock (_inflight) inflight = [.. _inflight];
        await Task.WhenAll(inflight).ConfigureAwait(false);
        foreach (var (connection, _) in _assembler.Drain())
            await connection.DisposeAsync().ConfigureAwait(false);
        _outcomes.Writer.TryComplete();
        while (_outcomes.Reader.TryRead(out var outcome))
            if (outcome is ChannelGroup group) await group.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }
}
