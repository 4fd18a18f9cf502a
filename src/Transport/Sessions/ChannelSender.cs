using System.Diagnostics;
using StreamKit.Transport.Rdma;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>Something that lends buffers to a channel's send queue and wants them back once sent.</summary>
internal interface IChunkBufferOwner
{
    void ReturnBuffer(byte[] buffer);
}

/// <summary>
/// One forward channel of a sender: its <see cref="ChunkWriter"/> (numbering, CRC, codec decisions),
/// a FIFO of encoded chunks, and the async loop that sends them in order with one gather-free send per
/// chunk (header and payload are contiguous in the pump's pinned buffer). Producers (device pumps)
/// encode and enqueue under <see cref="WriterLock"/>, so a device's (epoch, sequence) order on the
/// channel is the order of the queue. While the channel has nothing to send it sends an empty PADDING
/// every <c>keepalive</c>, so the receiver's idle timeout only fires when the sender is really gone.
/// </summary>
internal sealed class ChannelSender
{
    private readonly object _queueGate = new();
    private readonly Item[] _ring;
    private readonly AsyncSignal _signal = new();
    private readonly byte[] _endBuffer = GC.AllocateUninitializedArray<byte>(ChunkHeader.Size + WireLimits.MaxRecordLength + 64, pinned: true);
    private readonly byte[] _keepaliveBuffer = GC.AllocateUninitializedArray<byte>(ChunkHeader.Size, pinned: true);
    private readonly TimeSpan _keepalive;
    private int _head;
    private int _count;
    private long _lastSend = Stopwatch.GetTimestamp();
    private long _bytesSent;
    private bool _stopped;

    private readonly record struct Item(byte[] Buffer, int Length, IChunkBufferOwner? Owner, bool Last);

    internal ChannelSender(int index, TransportConnection connection, ChunkWriter writer, ChunkSink sink, int queueCapacity, TimeSpan keepalive)
    {
        Index = index;
        Connection = connection;
        Writer = writer;
        Sink = sink;
        _ring = new Item[queueCapacity];
        _keepalive = keepalive;
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

    /// <summary>Queues an encoded chunk (call under <see cref="WriterLock"/>, right after encoding it).</summary>
    internal void Enqueue(byte[] buffer, int length, IChunkBufferOwner? owner, bool last = false)
    {
        lock (_queueGate)
        {
            if (!_stopped)
            {
                if (_count == _ring.Length) throw new InvalidOperationException("channel send queue overflow (more buffers in flight than planned)");
                _ring[(_head + _count) % _ring.Length] = new Item(buffer, length, owner, last);
                _count++;
                owner = null;
            }
        }
        owner?.ReturnBuffer(buffer); // the loop has stopped (failure): nothing will be sent
        _signal.Set();
    }

    /// <summary>Wakes the loop (keepalive check).</summary>
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
    internal async Task RunAsync(SessionFailure failure, Task? peerAnswer)
    {
        try
        {
            while (true)
            {
                if (failure.IsFailed) return;
                if (!TryDequeue(out var item))
                {
                    if (Stopwatch.GetElapsedTime(Volatile.Read(ref _lastSend)) >= _keepalive) await SendKeepaliveAsync().ConfigureAwait(false);
                    await _signal.WaitAsync(failure.Token).ConfigureAwait(false);
                    continue;
                }
                try
                {
                    await Connection.SendAsync(item.Buffer.AsMemory(0, item.Length)).ConfigureAwait(false);
                }
                finally
                {
                    item.Owner?.ReturnBuffer(item.Buffer);
                }
                Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
                Volatile.Write(ref _bytesSent, _bytesSent + item.Length);
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
        }
    }

    private async ValueTask SendKeepaliveAsync()
    {
        int length;
        lock (WriterLock)
        {
            lock (_queueGate)
                if (_count > 0) return;
            if (Writer.IsEnded) return;
            Sink.Attach(_keepaliveBuffer);
            Writer.WritePadding(0);
            length = Sink.Written;
        }
        await Connection.SendAsync(_keepaliveBuffer.AsMemory(0, length)).ConfigureAwait(false);
        Volatile.Write(ref _lastSend, Stopwatch.GetTimestamp());
        Volatile.Write(ref _bytesSent, _bytesSent + length);
    }

    /// <summary>
    /// After a failure, once the loop has stopped: ABORT with the reason, if the connection still works
    /// and the channel has not ended. Bounded by <paramref name="timeout"/>.
    /// </summary>
    internal async Task TrySendAbortAsync(StreamErrorCode reason, string text, TimeSpan timeout)
    {
        if (Connection.AbortReason is not null || !Connection.CanSend) return;
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
            if (_count == 0 || _stopped)
            {
                item = default;
                return false;
            }
            item = _ring[_head];
            _ring[_head] = default;
            _head = (_head + 1) % _ring.Length;
            _count--;
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
