using System.Diagnostics;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>Something that lends buffers to a channel's send queue and wants them back once sent.</summary>
internal interface IChunkBufferOwner
{
    void ReturnBuffer(byte[] buffer);
}

/// <summary>
/// One forward channel of a sender: its <see cref="ChunkWriter"/> (numbering, CRC, codec decisions),
/// a FIFO of encoded chunks, and the loop that sends them in order (on a socket a thread of its own with
/// blocking sends, else async) with one gather-free send per chunk (header and payload are contiguous in
/// the pump's pinned buffer). Producers (device pumps) encode and hand over under <see cref="WriterLock"/>,
/// so a device's (epoch, sequence) order on the channel is the order of hand-over. While the channel has
/// nothing to send it sends an empty PADDING every <c>keepalive</c>, so the receiver's idle timeout only
/// fires when the sender is really gone.
/// <para>
/// Inline sends: one send at a time holds the connection (the send token, <c>_sending</c>). A chunk
/// handed over while nothing is queued and the token is free is sent by the producer itself
/// (<see cref="EnqueueOrClaim"/> then <see cref="SendClaimed"/>): on a socket as a blocking send
/// (<see cref="TransportConnection.TrySendBlocking"/>), so the pump reads, sends, reads, sends like a raw
/// copy loop and the loop is not woken; on other transports as an async send, and one that does not
/// complete at once is handed to the loop, which finishes it before anything queued behind it. A failed
/// inline send is handed over too: the session fails exactly as for the loop's own sends. Anything
/// handed over while the token is held or chunks are queued is queued, so the wire order is the order
/// of hand-over on either path, and a buffer goes back to its owner only once its send completed.
/// </para>
/// </summary>
internal sealed class ChannelSender
{
    private readonly object _queueGate = new();
    private readonly Item[] _ring;
    private readonly LoopSignal _signal;
    private readonly byte[] _endBuffer = GC.AllocateUninitializedArray<byte>(ChunkHeader.Size + WireLimits.MaxRecordLength + 64, pinned: true);
    private readonly byte[] _keepaliveBuffer = GC.AllocateUninitializedArray<byte>(ChunkHeader.Size, pinned: true);
    private readonly TimeSpan _keepalive;
    private int _head;
    private int _count;
    private long _lastSend = Stopwatch.GetTimestamp();
    private long _bytesSent;
    private long _inlineSends;
    private long _queuedSends;
    private long _handedOffSends;
    private bool _stopped;
    private bool _sending;          // the send token: a send (inline or the loop's) holds the connection
    private ValueTask _handedOffSend; // an inline send that did not complete at once, waiting for the loop
    private Item _handedOff;          // its chunk (Buffer null: none)
    private TaskCompletionSource? _tokenReleased; // the stopped loop waits for an inline send to finish

    private readonly record struct Item(byte[] Buffer, int Length, IChunkBufferOwner? Owner, bool Last);

    internal ChannelSender(int index, TransportConnection connection, ChunkWriter writer, ChunkSink sink, int queueCapacity, TimeSpan keepalive)
    {
        Index = index;
        Connection = connection;
        Writer = writer;
        Sink = sink;
        _ring = new Item[queueCapacity];
        _keepalive = keepalive;
        _signal = new LoopSignal(onThread: connection.CanSendBlocking);
    }

    internal int Index { get; }

    internal TransportConnection Connection { get; }

    /// <summary>Held while numbering, encoding and enqueuing a chunk (the writer is not thread-safe).</summary>
    internal object WriterLock { get; } = new();

    /// <summary>Use under <see cref="WriterLock"/>.</summary>
    internal ChunkWriter Writer { get; }

    /// <summary>Use under <see cref="WriterLock"/>.</summary>
    internal ChunkSink Sink { get; }

    /// <summary>Chunk bytes handed to the transport so far.</summary>
    internal long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>Chunks sent inline by their producer and completed at once (diagnostics and tests).</summary>
    internal long InlineSends => Volatile.Read(ref _inlineSends);

    /// <summary>Inline sends that did not complete at once and were finished by the loop (diagnostics and tests).</summary>
    internal long HandedOffSends => Volatile.Read(ref _handedOffSends);

    /// <summary>Chunks sent by the loop from the queue, STREAM_END included (diagnostics and tests).</summary>
    internal long QueuedSends => Volatile.Read(ref _queuedSends);

    /// <summary>
    /// Nothing queued and no send in progress: a chunk handed over now would be sent inline. A hint
    /// for choosing a channel (read without the lock); <see cref="EnqueueOrClaim"/> decides.
    /// </summary>
    internal bool IsIdle => Volatile.Read(ref _count) == 0 && !Volatile.Read(ref _sending);

    /// <summary>Queues an encoded chunk for the loop (call under <see cref="WriterLock"/>, right after encoding it).</summary>
    internal void Enqueue(byte[] buffer, int length, IChunkBufferOwner? owner, bool last = false)
    {
        lock (_queueGate)
        {
            if (!_stopped)
            {
                Push(new Item(buffer, length, owner, last));
                owner = null;
            }
        }
        owner?.ReturnBuffer(buffer); // the loop has stopped (failure): nothing will be sent
        _signal.Set();
    }

    /// <summary>
    /// Hands over an encoded chunk (call under <see cref="WriterLock"/>, right after encoding it). True: the
    /// queue was empty and no send was in progress, the caller now holds the send token and must call
    /// <see cref="SendClaimed"/> (after leaving the lock is fine: whatever is handed over meanwhile queues
    /// behind it). False: the chunk was queued (or, the loop having stopped, its buffer given back).
    /// </summary>
    internal bool EnqueueOrClaim(byte[] buffer, int length, IChunkBufferOwner? owner)
    {
        lock (_queueGate)
        {
            if (!_stopped)
            {
                if (_count == 0 && !_sending)
                {
                    _sending = true;
                    return true;
                }
                Push(new Item(buffer, length, owner, false));
                owner = null;
            }
        }
        owner?.ReturnBuffer(buffer);
        _signal.Set();
        return false;
    }

    /// <summary>
    /// Sends a chunk on the caller's thread after <see cref="EnqueueOrClaim"/> returned true. Returns once the
    /// send completed (buffer given back, token released) or was handed to the loop (it completes the send,
    /// gives the buffer back and, on a failure, fails the session). Never throws for a send failure.
    /// </summary>
    internal void SendClaimed(byte[] buffer, int length, IChunkBufferOwner? owner)
    {
        ValueTask send;
        try
        {
            // A socket: a blocking send, like a raw copy loop (measured: the pump sleeping in the kernel costs less
            // than a partial send finished by the thread pool). Other transports: async, usually complete at once.
            send = Connection.TrySendBlocking(buffer.AsSpan(0, length))
                ? ValueTask.CompletedTask
                : Connection.SendAsync(buffer.AsMemory(0, length));
        }
        catch (Exception e)
        {
            send = ValueTask.FromException(e); // the loop reports it, as for its own sends
        }
        if (send.IsCompletedSuccessfully)
        {
            send.GetAwaiter().GetResult(); // returns a pooled source, if any
            Volatile.Write(ref _inlineSends, _inlineSends + 1);
            OnSent(length);
            owner?.ReturnBuffer(buffer);
            if (ReleaseToken()) _signal.Set();
            return;
        }
        bool handedOff = false;
        lock (_queueGate)
        {
            if (!_stopped)
            {
                _handedOffSend = send;
                _handedOff = new Item(buffer, length, owner, false);
                handedOff = true;
            }
        }
        if (handedOff) _signal.Set();
        else _ = FinishAbandonedAsync(send, new Item(buffer, length, owner, false)); // the loop has stopped (failure)
    }

    /// <summary>
    /// An inline send the stopped loop will not finish (the session failed): waits for it, then gives the buffer
    /// back and releases the send token. Its own failure adds nothing: the session's reason is reported already.
    /// </summary>
    private async Task FinishAbandonedAsync(ValueTask send, Item item)
    {
        try
        {
            await send.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The session has failed already.
        }
        item.Owner?.ReturnBuffer(item.Buffer);
        ReleaseToken();
    }

    private void Push(Item item)
    {
        if (_count == _ring.Length) throw new InvalidOperationException("channel send queue overflow (more buffers in flight than planned)");
        _ring[(_head + _count) % _ring.Length] = item;
        _count++;
    }

    /// <summary>Gives the send token back; true when chunks are queued (the loop must be woken to send them).</summary>
    private bool ReleaseToken()
    {
        TaskCompletionSource? released;
        bool queued;
        lock (_queueGate)
        {
            _sending = false;
            queued = _count > 0;
            released = _tokenReleased;
            _tokenReleased = null;
        }
        released?.TrySetResult();
        return queued;
    }

    /// <summary>Completes when no send holds the connection (the loop has stopped: none starts any more).</summary>
    private Task WhenTokenReleased()
    {
        lock (_queueGate)
        {
            if (!_sending) return Task.CompletedTask;
            return (_tokenReleased ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    private void OnSent(int length)
    {
        Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
        Volatile.Write(ref _bytesSent, _bytesSent + length);
    }

    /// <summary>Wakes the loop (something to send, or the keepalive check).</summary>
    internal void Wake() => _signal.Set();

    /// <summary>Ends the channel: STREAM_END is queued behind everything already queued, and the loop ends after sending it.</summary>
    internal void EndStream()
    {
        lock (WriterLock)
        {
            Sink.Attach(_endBuffer);
            Writer.EndStream();
            Enqueue(_endBuffer, Sink.Written, null, last: true);
        }
    }

    /// <summary>
    /// Sends queued chunks until STREAM_END went out or the session failed. Sends are not cancelled by
    /// the failure (a half-sent chunk would make the ABORT unreadable); the failure path aborts the
    /// connection if a send does not finish soon.
    /// </summary>
    /// <param name="failure">The session's failure.</param>
    /// <param name="peerAnswer">Completes when the return path ended (its ERROR explains a send failure better than the send error).</param>
    /// <remarks>
    /// On a TCP or Unix socket the loop runs on a thread of its own and sends blocking, as the producers' inline
    /// sends do: an async send that has to wait (a queued chunk, when several devices feed the channel) registers
    /// the socket with the runtime's epoll thread for good, and every later readiness edge of the bulk stream on it
    /// wakes that thread and a thread-pool worker. The task completes when the loop has ended.
    /// </remarks>
    internal Task RunAsync(SessionFailure failure, Task? peerAnswer) => !_signal.OnThread
        ? Run(async: true, failure, peerAnswer)
        : DedicatedThread.Run($"streamkit-send-{Index}", () => Run(async: false, failure, peerAnswer).GetAwaiter().GetResult());

    /// <summary>The loop; with <paramref name="async"/> false it waits and sends blocking (only the failure path may still await).</summary>
    private async Task Run(bool async, SessionFailure failure, Task? peerAnswer)
    {
        try
        {
            while (true)
            {
                if (failure.IsFailed) return;
                // A handed-off inline send is older than anything queued: it is finished first. Either way
                // this loop holds the send token until the send is done.
                bool handedOff = TryTakeHandedOff(out var send, out var item);
                if (!handedOff && !TryDequeue(out item))
                {
                    if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSend)) >= _keepalive) await SendKeepaliveAsync(async).ConfigureAwait(false);
                    if (async) await _signal.WaitAsync(failure.Token).ConfigureAwait(false);
                    else _signal.Wait(Timeout.InfiniteTimeSpan, failure.Token);
                    continue;
                }
                try
                {
                    if (!handedOff) send = SendQueued(async, item.Buffer.AsMemory(0, item.Length));
                    await send.ConfigureAwait(false);
                    if (handedOff) Volatile.Write(ref _handedOffSends, _handedOffSends + 1);
                    else Volatile.Write(ref _queuedSends, _queuedSends + 1);
                    OnSent(item.Length); // before the token goes: its next holder updates the same counters
                }
                finally
                {
                    item.Owner?.ReturnBuffer(item.Buffer);
                    ReleaseToken();
                }
                if (item.Last) return;
            }
        }
        catch (OperationCanceledException) when (failure.IsFailed)
        {
        }
        catch (TransportException e)
        {
            Drain();
            await failure.SetAfterGraceAsync(e, peerAnswer, TimeSpan.FromMilliseconds(500)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure.Set(e);
        }
        finally
        {
            Drain();
            if (TryTakeHandedOff(out var abandoned, out var abandonedItem)) await FinishAbandonedAsync(abandoned, abandonedItem).ConfigureAwait(false);
            // A producer's inline send may still be running: the loop ends after it, so "the loop ended" still
            // means "nothing is being sent on this channel" (the failure rule aborts a connection whose loop hangs).
            await WhenTokenReleased().ConfigureAwait(false);
        }
    }

    /// <summary>Sends a buffer the loop holds the send token for: blocking on the loop's own thread, else async.</summary>
    private ValueTask SendQueued(bool async, ReadOnlyMemory<byte> data)
    {
        if (async) return Connection.SendAsync(data);
        Connection.TrySendBlocking(data.Span);
        return ValueTask.CompletedTask;
    }

    private async ValueTask SendKeepaliveAsync(bool async)
    {
        int length;
        lock (WriterLock)
        {
            if (Writer.IsEnded) return;
            lock (_queueGate)
            {
                if (_count > 0 || _sending) return; // something is being sent: no keepalive needed
                _sending = true;
            }
            Sink.Attach(_keepaliveBuffer);
            Writer.WritePadding(0);
            length = Sink.Written;
        }
        try
        {
            await SendQueued(async, _keepaliveBuffer.AsMemory(0, length)).ConfigureAwait(false);
            OnSent(length);
        }
        finally
        {
            ReleaseToken();
        }
    }

    /// <summary>
    /// After a failure, once the loop has stopped: ABORT with the reason, if the connection still works
    /// and the channel has not ended. Bounded by <paramref name="timeout"/>.
    /// </summary>
    internal async Task TrySendAbortAsync(StreamErrorCode reason, string text, TimeSpan timeout)
    {
        if (Connection.AbortReason is not null || !Connection.CanSend) return;
        if (Volatile.Read(ref _sending)) return; // the loop was abandoned with a send hanging: the connection is aborted
        int length;
        lock (WriterLock)
        {
            if (Writer.IsEnded) return;
            Sink.Attach(_endBuffer);
            Writer.Abort(reason, text);
            length = Sink.Written;
        }
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await Connection.SendAsync(_endBuffer.AsMemory(0, length), deadline.Token).ConfigureAwait(false);
            await Connection.CompleteSendAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TransportException or OperationCanceledException or InvalidOperationException)
        {
            // The peer is gone or not reading: nothing more to tell it.
        }
    }

    private bool TryDequeue(out Item item)
    {
        lock (_queueGate)
        {
            if (_count == 0 || _stopped || _sending)
            {
                item = default;
                return false;
            }
            _sending = true;
            item = _ring[_head];
            _ring[_head] = default;
            _head = (_head + 1) % _ring.Length;
            _count--;
            return true;
        }
    }

    private bool TryTakeHandedOff(out ValueTask send, out Item item)
    {
        lock (_queueGate)
        {
            send = _handedOffSend;
            item = _handedOff;
            if (item.Buffer is null) return false;
            _handedOffSend = default;
            _handedOff = default;
            return true;
        }
    }

    /// <summary>Gives queued buffers back to their owners (nothing more will be sent).</summary>
    private void Drain()
    {
        while (true)
        {
            Item item;
            lock (_queueGate)
            {
                if (_count == 0)
                {
                    _stopped = true;
                    return;
                }
                item = _ring[_head];
                _ring[_head] = default;
                _head = (_head + 1) % _ring.Length;
                _count--;
            }
            item.Owner?.ReturnBuffer(item.Buffer);
        }
    }
}
