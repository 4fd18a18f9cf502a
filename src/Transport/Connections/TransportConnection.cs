using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Authentication;

namespace StreamKit.Transport;

/// <summary>
/// One byte-stream channel (TCP, Unix socket, TLS over either, a file, or an in-memory pipe).
/// The shared part lives here (the role of Kestrel's <c>TransportConnection</c>): one sender and one
/// receiver at a time (they may run concurrently), bandwidth throttling before a send, the idle-receive
/// and send deadlines, byte counters and metrics, and failure handling: every failure is classified once
/// into a <see cref="TransportException"/>, the first reason aborts the connection, and every later call
/// reports that same reason. Cancelling an operation aborts the connection too, because a half-sent
/// chunk cannot be resumed; the caller gets <see cref="OperationCanceledException"/>.
/// <para>
/// Hot-path contract: <see cref="SendAsync(ReadOnlyMemory{byte}, ReadOnlyMemory{byte}, CancellationToken)"/>
/// and <see cref="ReceiveAsync"/> allocate nothing in steady state (pooled async state machines, reused
/// socket operations). Send buffers may be reused as soon as the send completes.
/// </para>
/// </summary>
internal abstract class TransportConnection : IAsyncDisposable
{
    private readonly ConnectionSettings _settings;
    private readonly ReadOnlyMemory<byte>[] _pair = new ReadOnlyMemory<byte>[2];
    private readonly ReadOnlyMemory<byte>[] _single = new ReadOnlyMemory<byte>[1];
    private readonly ReusableDelay? _throttle;
    private readonly Timer? _heartbeat;
    private TransportException? _abortReason;
    private int _sending;
    private int _receiving;
    private int _disposed;
    private bool _sendCompleted;
    private long _sendStartedAt;
    private long _receiveStartedAt;
    private long _bytesSent;
    private long _bytesReceived;

    protected TransportConnection(TransportKind kind, string localEndPoint, string remoteEndPoint, ConnectionSettings settings)
    {
        Kind = kind;
        LocalEndPoint = localEndPoint;
        RemoteEndPoint = remoteEndPoint;
        _settings = settings;
        if (settings.Bandwidth is not null) _throttle = new ReusableDelay();
        TimeSpan shortest = Min(settings.IdleReceiveTimeout, settings.SendTimeout);
        if (shortest != Timeout.InfiniteTimeSpan)
        {
            // Check deadlines a few times per timeout: cheap, and a timeout fires at most 25 % late.
            var period = TimeSpan.FromMilliseconds(Math.Clamp(shortest.TotalMilliseconds / 4, 10, 1000));
            _heartbeat = new Timer(static s => ((TransportConnection)s!).OnHeartbeat(), this, period, period);
        }
        TransportMetrics.Opened(kind);
    }

    /// <summary>Which implementation.</summary>
    public TransportKind Kind { get; }

    /// <summary>This end, for messages (address:port, socket path, file path).</summary>
    public string LocalEndPoint { get; }

    /// <summary>The other end, for messages.</summary>
    public string RemoteEndPoint { get; }

    /// <summary>False for a connection that only receives (a file being read).</summary>
    public abstract bool CanSend { get; }

    /// <summary>False for a connection that only sends (a file being written: no return path).</summary>
    public abstract bool CanReceive { get; }

    /// <summary>Bytes sent so far (for progress).</summary>
    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>Bytes received so far (for progress).</summary>
    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    /// <summary>Why the connection was aborted or closed (the first reason); null while healthy.</summary>
    public TransportException? AbortReason => Volatile.Read(ref _abortReason);

    /// <summary>
    /// Sends a chunk header and its payload as one gather write (one <c>sendmsg</c> on a socket,
    /// one <c>pwritev</c> on a file). When <paramref name="payload"/> directly follows
    /// <paramref name="header"/> in the same array they go as a single segment.
    /// </summary>
    /// <exception cref="TransportException">The connection failed or had been aborted.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        EnterSend();
        IReadOnlyList<ReadOnlyMemory<byte>> segments;
        if (TryMergeAdjacent(header, payload, out var merged))
        {
            _single[0] = merged;
            segments = _single;
        }
        else
        {
            _pair[0] = header;
            _pair[1] = payload;
            segments = _pair;
        }
        return SendGuardedAsync(segments, header.Length + (long)payload.Length, chunk: true, cancellationToken);
    }

    /// <summary>Sends one buffer.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        EnterSend();
        _single[0] = data;
        return SendGuardedAsync(_single, data.Length, chunk: false, cancellationToken);
    }

    /// <summary>Sends several buffers as one gather write (split only where the OS limit of 1024 segments requires).</summary>
    public ValueTask SendAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(segments);
        EnterSend();
        long total = 0;
        for (int i = 0; i < segments.Count; i++) total += segments[i].Length;
        return SendGuardedAsync(segments, total, chunk: false, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendGuardedAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, long total, bool chunk, CancellationToken cancellationToken)
    {
        try
        {
            CheckSendOpen();
            if (total == 0) return;
            try
            {
                if (_settings.Bandwidth is { } bucket)
                {
                    TimeSpan wait = bucket.Reserve(total);
                    if (wait > TimeSpan.Zero) await _throttle!.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
                }
                Volatile.Write(ref _sendStartedAt, Stopwatch.GetTimestamp());
                await SendCoreAsync(segments, total, cancellationToken).ConfigureAwait(false);
                CountSent(total, chunk);
            }
            catch (Exception e) when (IsTransportFailure(e))
            {
                throw Fail(e, "send", cancellationToken);
            }
        }
        finally
        {
            _pair[0] = _pair[1] = _single[0] = default;
            ExitSend();
        }
    }

    /// <summary>
    /// True when <see cref="TrySendBlocking"/> sends on this connection (a TCP or Unix socket without a bandwidth
    /// limit); a send loop that sees it can run on a thread of its own, as a raw blocking <c>send</c> loop does.
    /// </summary>
    internal bool CanSendBlocking => CanSend && CanSendBlockingCore && _settings.Bandwidth is null;

    /// <summary>
    /// Sends one buffer on the calling thread, returning once every byte was handed to the transport
    /// (as a blocking <c>send</c> does: the thread sleeps in the kernel while the socket buffer is full),
    /// when the connection can do that: a TCP or Unix socket without a bandwidth limit. Otherwise it sends
    /// nothing and returns false (use <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>).
    /// For a dedicated thread that produces and sends (the sender's device pump): no thread-pool hop,
    /// no epoll wake-up, no allocation. Same rules as the async send: one send at a time, the send
    /// timeout applies, the buffer may be reused once it returns, and a failure aborts the connection.
    /// </summary>
    /// <exception cref="TransportException">The connection failed, timed out, or had been aborted.</exception>
    public bool TrySendBlocking(ReadOnlySpan<byte> data)
    {
        if (!CanSendBlocking) return false;
        EnterSend();
        try
        {
            CheckSendOpen();
            if (data.IsEmpty) return true;
            try
            {
                Volatile.Write(ref _sendStartedAt, Stopwatch.GetTimestamp());
                SendBlockingCore(data);
                CountSent(data.Length, chunk: false);
            }
            catch (Exception e) when (IsTransportFailure(e))
            {
                throw Fail(e, "send", CancellationToken.None);
            }
            return true;
        }
        finally
        {
            ExitSend();
        }
    }

    /// <summary>
    /// Receives up to <paramref name="buffer"/>.Length bytes; returns 0 when the peer has finished
    /// sending (graceful end). Waits at most the idle receive timeout for the first byte.
    /// </summary>
    /// <exception cref="TransportException">The connection failed, timed out, or had been aborted.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) throw new ArgumentException("receive needs a non-empty buffer (0 would be ambiguous with end of stream)", nameof(buffer));
        EnterReceive();
        try
        {
            int received = await ReceiveCoreAsync(buffer, cancellationToken).ConfigureAwait(false);
            CountReceived(received);
            return received;
        }
        catch (Exception e) when (IsTransportFailure(e))
        {
            throw Fail(e, "receive", cancellationToken);
        }
        finally
        {
            ExitReceive();
        }
    }

    /// <summary>
    /// True when <see cref="TryReceiveBlocking"/> receives on this connection (a TCP or Unix socket); a
    /// receive loop that sees it can run on a thread of its own, as a raw blocking <c>recv</c> loop does.
    /// </summary>
    internal bool CanReceiveBlocking => CanReceive && CanReceiveBlockingCore;

    /// <summary>
    /// Receives up to <paramref name="buffer"/>.Length bytes on the calling thread (which sleeps in the kernel
    /// until the first byte arrives, as a blocking <c>recv</c> does), when the connection can do that
    /// (<see cref="CanReceiveBlocking"/>); otherwise it receives nothing and returns false (use
    /// <see cref="ReceiveAsync"/>). <paramref name="received"/> is 0 when the peer has finished sending.
    /// For a dedicated receive thread: no epoll wake-up, no thread-pool hop, no allocation. Same rules as
    /// <see cref="ReceiveAsync"/>: one receive at a time, the idle receive timeout applies, bytes are
    /// counted, a failure aborts the connection, and cancelling aborts it too (noticed within a poll slice).
    /// </summary>
    /// <exception cref="TransportException">The connection failed, timed out, or had been aborted.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <param name="buffer">Where the bytes go.</param>
    /// <param name="received">Bytes received; 0 at the end of the peer's stream.</param>
    /// <param name="cancellationToken">Ends the wait (and aborts the connection).</param>
    /// <param name="wakeAtBytes">
    /// Bytes the caller needs before it can go on, all of which the peer is bound to send (the rest of a chunk
    /// it has begun): a wait may then sleep until that many have arrived instead of waking for every segment.
    /// 1 (the default) wakes at the first byte. Never more than the caller needs: a larger value could wait
    /// for bytes the peer is not going to send until it hears back.
    /// </param>
    public bool TryReceiveBlocking(Span<byte> buffer, out int received, CancellationToken cancellationToken = default, int wakeAtBytes = 1)
    {
        received = 0;
        if (!CanReceiveBlockingCore) return false;
        if (buffer.IsEmpty) throw new ArgumentException("receive needs a non-empty buffer (0 would be ambiguous with end of stream)", nameof(buffer));
        EnterReceive();
        try
        {
            received = ReceiveBlockingCore(buffer, Math.Max(1, wakeAtBytes), cancellationToken);
            CountReceived(received);
            return true;
        }
        catch (Exception e) when (IsTransportFailure(e))
        {
            throw Fail(e, "receive", cancellationToken);
        }
        finally
        {
            ExitReceive();
        }
    }

    /// <summary>
    /// Decides how the next receive goes: true = in place, lending the transport's own receive buffer
    /// (<see cref="ReceiveLentAsync"/>); false = copying into the caller's buffer (<see cref="ReceiveAsync"/>).
    /// True only when the transport lends (RDMA) and its lending budget (<see cref="SegmentLender"/>) has
    /// room; a lending transport remembers a false so it can count the copy as a budget fallback.
    /// Sockets always copy.
    /// </summary>
    internal virtual bool LendNextReceive() => false;

    /// <summary>
    /// Receives the next bytes in place in the transport's receive buffer: a segment holding one
    /// reference that the caller (a <see cref="ReceiveWindow"/>) owns and releases when done; the
    /// final release returns the buffer to the transport. Null when the peer has finished sending.
    /// Same deadlines, counters and failure handling as <see cref="ReceiveAsync"/>; call only when
    /// <see cref="LendNextReceive"/> said so.
    /// </summary>
    /// <exception cref="TransportException">The connection failed, timed out, or had been aborted.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<LentSegment?> ReceiveLentAsync(CancellationToken cancellationToken = default)
    {
        EnterReceive();
        try
        {
            var segment = await ReceiveLentCoreAsync(cancellationToken).ConfigureAwait(false);
            CountReceived(segment?.Memory.Length ?? 0);
            return segment;
        }
        catch (Exception e) when (IsTransportFailure(e))
        {
            throw Fail(e, "receive", cancellationToken);
        }
        finally
        {
            ExitReceive();
        }
    }

    private void EnterReceive()
    {
        if (!CanReceive) throw new NotSupportedException($"the {Kind} connection {RemoteEndPoint} only sends (a file carries no return path)");
        if (Interlocked.Exchange(ref _receiving, 1) != 0)
            throw new InvalidOperationException("a receive is already in progress on this connection; receives must not overlap");
        if (Volatile.Read(ref _abortReason) is { } reason)
        {
            Volatile.Write(ref _receiving, 0);
            throw reason.Echo();
        }
        Volatile.Write(ref _receiveStartedAt, Stopwatch.GetTimestamp());
    }

    private void CountReceived(int received)
    {
        if (received <= 0) return;
        Volatile.Write(ref _bytesReceived, _bytesReceived + received);
        TransportMetrics.Received(Kind, received);
    }

    private void ExitReceive()
    {
        Volatile.Write(ref _receiveStartedAt, 0);
        Volatile.Write(ref _receiving, 0);
    }

    /// <summary>Fills <paramref name="buffer"/> completely.</summary>
    /// <exception cref="TransportException"><see cref="TransportErrorKind.ConnectionClosed"/> if the peer finished first.</exception>
    public async ValueTask ReceiveExactlyAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            int received = await ReceiveAsync(buffer[filled..], cancellationToken).ConfigureAwait(false);
            if (received == 0) throw ClosedEarly(filled, buffer.Length);
            filled += received;
        }
    }

    /// <summary>
    /// <see cref="ReceiveExactlyAsync"/> on the calling thread, with blocking receives (<see cref="TryReceiveBlocking"/>);
    /// only where <see cref="CanReceiveBlocking"/>.
    /// </summary>
    /// <exception cref="TransportException"><see cref="TransportErrorKind.ConnectionClosed"/> if the peer finished first.</exception>
    internal void ReceiveExactlyBlocking(Span<byte> buffer, CancellationToken cancellationToken)
    {
        int filled = 0;
        while (filled < buffer.Length)
        {
            if (!TryReceiveBlocking(buffer[filled..], out int received, cancellationToken, wakeAtBytes: buffer.Length - filled))
                throw new NotSupportedException($"the {Kind} connection {RemoteEndPoint} has no blocking receive");
            if (received == 0) throw ClosedEarly(filled, buffer.Length);
            filled += received;
        }
    }

    private TransportException ClosedEarly(int filled, int expected) => new(TransportErrorKind.ConnectionClosed,
        $"the peer closed the connection after {filled} of {expected} expected bytes (stream offset {BytesReceived}){EarlyCloseHint}", RemoteEndPoint);

    /// <summary>
    /// Ends the sending direction gracefully after everything sent so far: TCP/Unix half-close (FIN),
    /// TLS close_notify then FIN, file fsync. The peer's receive then returns 0. Receiving may go on.
    /// </summary>
    public async ValueTask CompleteSendAsync(CancellationToken cancellationToken = default)
    {
        EnterSend();
        try
        {
            if (Volatile.Read(ref _abortReason) is { } reason) throw reason.Echo();
            if (_sendCompleted) return;
            _sendCompleted = true;
            try
            {
                await CompleteSendCoreAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsTransportFailure(e))
            {
                throw Fail(e, "completing the send direction", cancellationToken);
            }
        }
        finally
        {
            Volatile.Write(ref _sending, 0);
        }
    }

    /// <summary>
    /// Aborts the connection (a TCP reset where possible) with <paramref name="reason"/>, unless it was
    /// already aborted: the first reason wins and is what every later operation reports.
    /// </summary>
    public void Abort(TransportException reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        if (Interlocked.CompareExchange(ref _abortReason, reason, null) is not null) return;
        TransportMetrics.Failed(reason.Kind);
        _heartbeat?.Dispose();
        try { AbortCore(reason); }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException) { /* already gone */ }
    }

    /// <summary>Aborts with kind <see cref="TransportErrorKind.Aborted"/> and <paramref name="reason"/>.</summary>
    public void Abort(string reason) => Abort(new TransportException(TransportErrorKind.Aborted, reason, RemoteEndPoint));

    /// <summary>Closes the connection (gracefully unless aborted) and releases its resources.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Interlocked.CompareExchange(ref _abortReason, new TransportException(TransportErrorKind.Aborted, "the connection was closed locally", RemoteEndPoint), null);
        _heartbeat?.Dispose();
        _throttle?.Dispose();
        try { await DisposeCoreAsync().ConfigureAwait(false); }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException) { /* closing a broken connection */ }
        finally { TransportMetrics.Closed(Kind); }
        GC.SuppressFinalize(this);
    }

    /// <summary>
    /// Offers a pinned (POH) array the caller will send from repeatedly, so a transport that sends
    /// by DMA can register it once and later send from it without a copy (RDMA). The array must stay
    /// pinned and unmodified while a send from it is in progress (as for every send); the connection
    /// may keep a reference until it is disposed. Sockets need nothing: the default does nothing.
    /// </summary>
    /// <exception cref="TransportException">Registration failed (e.g. the memlock limit).</exception>
    public virtual void RegisterSendBuffer(byte[] pinnedArray) { }

    /// <summary>Appended to "peer closed" messages; lets a transport name a likely cause (e.g. a refused TLS client certificate).</summary>
    protected virtual string EarlyCloseHint => "";

    /// <summary>Writes all bytes of the segments (total <paramref name="totalBytes"/>, &gt; 0).</summary>
    protected abstract ValueTask SendCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, long totalBytes, CancellationToken cancellationToken);

    /// <summary>True when <see cref="SendBlockingCore"/> is implemented.</summary>
    protected virtual bool CanSendBlockingCore => false;

    /// <summary>
    /// Writes all of <paramref name="data"/> (non-empty) on the calling thread, waiting while the transport
    /// is full. Must return (with an error) soon after <see cref="AbortCore"/> ran on another thread.
    /// </summary>
    protected virtual void SendBlockingCore(ReadOnlySpan<byte> data) => throw new NotSupportedException();

    /// <summary>Reads at least one byte, or returns 0 at the end of the peer's stream.</summary>
    protected abstract ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>True when <see cref="ReceiveBlockingCore"/> is implemented.</summary>
    protected virtual bool CanReceiveBlockingCore => false;

    /// <summary>
    /// Reads at least one byte on the calling thread, waiting for it, or returns 0 at the end of the peer's stream.
    /// When it has to wait, it may sleep until <paramref name="wakeAtBytes"/> have arrived (bytes the caller needs
    /// and the peer must send), so as not to wake for every segment.
    /// Must return (with an error) soon after <see cref="AbortCore"/> ran on another thread or the token was cancelled.
    /// </summary>
    protected virtual int ReceiveBlockingCore(Span<byte> buffer, int wakeAtBytes, CancellationToken cancellationToken) => throw new NotSupportedException();

    /// <summary>Receives in place (transports whose <see cref="LendNextReceive"/> can be true override it).</summary>
    protected virtual ValueTask<LentSegment?> ReceiveLentCoreAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException($"the {Kind} connection does not lend its receive buffers");

    /// <summary>Graceful end of the send direction.</summary>
    protected abstract ValueTask CompleteSendCoreAsync(CancellationToken cancellationToken);

    /// <summary>Tears the connection down at once so pending operations fail (called once).</summary>
    protected abstract void AbortCore(TransportException reason);

    /// <summary>Releases resources (called once).</summary>
    protected abstract ValueTask DisposeCoreAsync();

    private void EnterSend()
    {
        if (!CanSend) throw new NotSupportedException($"the {Kind} connection {RemoteEndPoint} only receives");
        if (Interlocked.Exchange(ref _sending, 1) != 0)
            throw new InvalidOperationException("a send is already in progress on this connection; sends must be serialised");
    }

    /// <summary>After <see cref="EnterSend"/>: the connection has not been aborted and sending was not completed.</summary>
    private void CheckSendOpen()
    {
        if (Volatile.Read(ref _abortReason) is { } reason) throw reason.Echo();
        if (_sendCompleted) throw new InvalidOperationException("sending was already completed on this connection");
    }

    private void CountSent(long sent, bool chunk)
    {
        Volatile.Write(ref _bytesSent, _bytesSent + sent);
        TransportMetrics.Sent(Kind, sent, chunk);
    }

    private void ExitSend()
    {
        Volatile.Write(ref _sendStartedAt, 0);
        Volatile.Write(ref _sending, 0);
    }

    private static bool TryMergeAdjacent(ReadOnlyMemory<byte> header, ReadOnlyMemory<byte> payload, out ReadOnlyMemory<byte> merged)
    {
        if (payload.IsEmpty) { merged = header; return true; }
        if (header.IsEmpty) { merged = payload; return true; }
        if (MemoryMarshal.TryGetArray(header, out var h) && MemoryMarshal.TryGetArray(payload, out var p)
            && ReferenceEquals(h.Array, p.Array) && h.Offset + h.Count == p.Offset)
        {
            merged = h.Array.AsMemory(h.Offset, h.Count + p.Count);
            return true;
        }
        merged = default;
        return false;
    }

    /// <summary>Failures that are the connection's (classified and turned into an abort), as opposed to caller bugs.</summary>
    private static bool IsTransportFailure(Exception e) =>
        e is SocketException or IOException or AuthenticationException or ObjectDisposedException or TransportException
            or OperationCanceledException or TimeoutException or UnauthorizedAccessException;

    private Exception Fail(Exception e, string operation, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            // Whatever the operation failed with (a cancelled wait, or the socket error caused by the
            // abort the cancellation triggered), the caller asked for cancellation: report that.
            Abort(new TransportException(TransportErrorKind.Aborted, $"{operation} was cancelled; a stream cannot continue after a cancelled operation", RemoteEndPoint));
            return e as OperationCanceledException ?? new OperationCanceledException($"{operation} was cancelled", e, cancellationToken);
        }
        if (Volatile.Read(ref _abortReason) is { } existing) return ReferenceEquals(existing, e) ? e : existing.Echo();
        var classified = TransportErrors.Classify(e, operation, RemoteEndPoint);
        Abort(classified);
        var winner = Volatile.Read(ref _abortReason)!;
        return ReferenceEquals(winner, classified) ? classified : winner.Echo();
    }

    private void OnHeartbeat()
    {
        long now = Stopwatch.GetTimestamp();
        long receiveStarted = Volatile.Read(ref _receiveStartedAt);
        if (receiveStarted != 0 && _settings.IdleReceiveTimeout != Timeout.InfiniteTimeSpan
            && Stopwatch.GetElapsedTime(receiveStarted, now) > _settings.IdleReceiveTimeout)
        {
            Abort(new TransportException(TransportErrorKind.Timeout,
                string.Create(CultureInfo.InvariantCulture, $"no data received for {_settings.IdleReceiveTimeout.TotalSeconds:0.###} s (idle receive timeout); the peer is silent or gone"), RemoteEndPoint));
            return;
        }
        long sendStarted = Volatile.Read(ref _sendStartedAt);
        if (sendStarted != 0 && _settings.SendTimeout != Timeout.InfiniteTimeSpan
            && Stopwatch.GetElapsedTime(sendStarted, now) > _settings.SendTimeout)
        {
            Abort(new TransportException(TransportErrorKind.Timeout,
                string.Create(CultureInfo.InvariantCulture, $"a send did not complete within {_settings.SendTimeout.TotalSeconds:0.###} s (send timeout); the peer is not reading or the link is down"), RemoteEndPoint));
        }
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b)
    {
        if (a == Timeout.InfiniteTimeSpan) return b;
        if (b == Timeout.InfiniteTimeSpan) return a;
        return a < b ? a : b;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Kind} {LocalEndPoint} -> {RemoteEndPoint}";
}
