using System.Net;
using System.Runtime.CompilerServices;
using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// One StreamKit channel over one RDMA reliable-connected queue pair (spec/rdma-transport.md):
/// a byte stream in each direction, carried as SEND messages into receive buffers the peer
/// pre-posted, with credits so a slow receiver never has a message arrive without a buffer.
/// <para>
/// Zero-copy shape. Sending: <see cref="GetSendBufferAsync"/> lends a registered buffer, the
/// caller fills it in place (chunk header, then <c>read(data_fd)</c> straight into the rest)
/// and calls <see cref="RdmaSendBuffer.Send"/>; the adapter reads the message from that memory.
/// Receiving: <see cref="ReceiveAsync"/> returns the message in the registered buffer the
/// adapter wrote; the caller verifies it there, writes payloads from it into the device, and
/// disposes it, which re-posts the buffer and returns the credit.
/// </para>
/// <para>
/// Threading: one task sends (GetSendBufferAsync / Send / CompleteAsync) and one task receives,
/// concurrently; <see cref="RdmaReceivedMessage.Dispose"/> and <see cref="RdmaSendBuffer.Send"/>
/// may be called from any thread. A progress thread per channel polls the completion queue and
/// the connection-manager events; it never runs application code.
/// </para>
/// <para>
/// Ending: <see cref="CompleteAsync"/> sends the end marker after all data and waits until the
/// peer's adapter has acknowledged everything; <see cref="ReceiveAsync"/> returns null once the
/// peer's end arrived. Dispose disconnects. A peer that disconnects, dies or breaks the protocol
/// fails every pending and later operation with a typed <see cref="RdmaException"/> (messages
/// already received are still delivered first).
/// </para>
/// </summary>
internal sealed partial class RdmaChannel : IDisposable, IAsyncDisposable
{
    private const int EndMarker = -1;

    private readonly Lock _sync = new();
    private readonly RdmaChannelOptions _options;
    private readonly AsyncSignal _sendSignal = new();
    private readonly AsyncSignal _receiveSignal = new();

    // Send side, under _sync.
    private RdmaSendBuffer[] _sendBuffers = [];
    private int[] _freeSlots = [];
    private int _freeCount;
    private IntRing _pending = new(1);
    private int _sendsInFlight;      // data and end requests posted and not yet completed
    private int _controlInFlight;    // credit-only requests posted and not yet completed
    private bool _endQueued;
    private bool _endCompleted;
    private long _dataMessagesSent;
    private long _creditMessagesSent;

    // Receive side, under _sync.
    private readonly RdmaReceivedMessage[] _received;
    private readonly IntRing _ready;
    private bool _peerEnded;

    private CreditLedger _ledger = null!;
    private RdmaException? _failure;
    private bool _disposed;

    /// <summary>The peer's address.</summary>
    public IPEndPoint? RemoteEndPoint { get; }

    /// <summary>Largest message this side may send: min(own send buffer cap, peer's receive buffer size).</summary>
    public int MaxMessageSize { get; private set; }

    /// <summary>
    /// Largest chunk payload that still fits one message with its header: what the forward
    /// sender announces as the preamble's max_payload, so every chunk is placed zero-copy.
    /// </summary>
    public int MaxChunkPayload => MaxMessageSize - Wire.ChunkHeader.Size;

    /// <summary>Receive buffer slots (data and credit-only); <see cref="RdmaReceivedMessage.Slot"/> is below this.</summary>
    internal int ReceiveSlots => _received.Length;

    /// <summary>Data receive buffers: the data credits granted to the peer, so at most this many data messages are held at once.</summary>
    internal int DataReceiveBuffers => _options.ReceiveDepth;

    /// <summary>
    /// Lends a registered send buffer, waiting while all <see cref="RdmaChannelOptions.SendDepth"/>
    /// buffers are leased, queued for credits or in flight — which is where a slow receiver
    /// blocks the sender.
    /// </summary>
    /// <exception cref="RdmaException">The channel failed or was closed.</exception>
    /// <exception cref="InvalidOperationException">The stream was already completed.</exception>
    public ValueTask<RdmaSendBuffer> GetSendBufferAsync(CancellationToken cancellationToken = default) =>
        TryLeaseSendBuffer(out var buffer) ? new(buffer!) : GetSendBufferSlowAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RdmaSendBuffer> GetSendBufferSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await _sendSignal.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (TryLeaseSendBuffer(out var buffer)) return buffer!;
        }
    }

    private bool TryLeaseSendBuffer(out RdmaSendBuffer? buffer)
    {
        lock (_sync)
        {
            ThrowIfUnusable();
            if (_endQueued) throw new InvalidOperationException("the channel's stream was already completed");
            if (_freeCount == 0)
            {
                buffer = null;
                return false;
            }
            buffer = _sendBuffers[_freeSlots[--_freeCount]];
            buffer.State = SendBufferState.Leased;
            return true;
        }
    }

    /// <summary>Queues a leased buffer's first <paramref name="length"/> bytes as one message; posts it at once when a credit is available.</summary>
    internal void Send(RdmaSendBuffer buffer, int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, MaxMessageSize);
        lock (_sync)
        {
            if (buffer.State != SendBufferState.Leased) throw new InvalidOperationException($"send buffer {buffer.Slot} is not leased (it is {buffer.State})");
            if (_failure != null || _endQueued)
            {
                FreeSlotLocked(buffer.Slot);
                ThrowIfUnusable();
                throw new InvalidOperationException("the channel's stream was already completed");
            }
            buffer.Length = length;
            buffer.State = SendBufferState.Queued;
            _pending.Enqueue(buffer.Slot);
            DrainPendingLocked();
        }
    }

    /// <summary>Ends a lease without sending.</summary>
    internal void ReturnUnsent(RdmaSendBuffer buffer)
    {
        lock (_sync)
        {
            if (buffer.State != SendBufferState.Leased) throw new InvalidOperationException($"send buffer {buffer.Slot} is not leased (it is {buffer.State})");
            FreeSlotLocked(buffer.Slot);
        }
        _sendSignal.Set();
    }

    /// <summary>
    /// Ends this side's stream: the end marker goes after every message already sent, and the
    /// task completes when the peer's adapter has acknowledged all of them (nothing is lost if
    /// the channel is disposed afterwards).
    /// </summary>
    /// <exception cref="RdmaException">The channel failed before everything was acknowledged.</exception>
    public async ValueTask CompleteAsync(CancellationToken cancellationToken = default)
    {
        lock (_sync)
        {
            ThrowIfUnusable();
            if (!_endQueued)
            {
                _endQueued = true;
                _pending.Enqueue(EndMarker);
                DrainPendingLocked();
            }
        }
        while (true)
        {
            lock (_sync)
            {
                if (_endCompleted && _sendsInFlight == 0) return;
                ThrowIfUnusable();
            }
            await _sendSignal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The next received message, in its registered buffer; null once the peer ended its stream.
    /// Dispose each message when done with it.
    /// </summary>
    /// <exception cref="RdmaException">The channel failed (after every message received before the failure was returned) or was closed.</exception>
    public ValueTask<RdmaReceivedMessage?> ReceiveAsync(CancellationToken cancellationToken = default) =>
        TryTakeReceived(out var message) ? new(message) : ReceiveSlowAsync(cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RdmaReceivedMessage?> ReceiveSlowAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await _receiveSignal.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (TryTakeReceived(out var message)) return message;
        }
    }

    private bool TryTakeReceived(out RdmaReceivedMessage? message)
    {
        lock (_sync)
        {
            if (_disposed) throw _failure!.Rethrown();
            if (_ready.Count > 0)
            {
                message = _received[_ready.Dequeue()];
                message.Leased = true;
                return true;
            }
            message = null;
            if (_peerEnded) return true;
            if (_failure != null) throw _failure.Rethrown();
            return false;
        }
    }

    /// <summary>Re-posts a received message's buffer and owes its credit back to the peer.</summary>
    internal void Release(RdmaReceivedMessage message)
    {
        lock (_sync)
        {
            if (!message.Leased) return;
            message.Leased = false;
            // After the peer's end no data can come: keep the buffer, return no credit.
            if (_disposed || _failure != null || _peerEnded) return;
            try
            {
                PostReceiveLocked(message.Slot);
                _ledger.OnDataBufferReposted();
                MaybeSendCreditLocked();
            }
            catch (RdmaException)
            {
                // Already recorded as the channel's failure; the next send or receive reports it.
                // Dispose must not throw.
            }
        }
    }

    /// <summary>True once the channel failed or was disposed: every send or receive would throw.</summary>
    public bool IsClosed
    {
        get
        {
            lock (_sync) return _failure != null;
        }
    }

    /// <summary>A consistent snapshot of the channel's counters (diagnostics and tests).</summary>
    internal RdmaChannelCounters Counters
    {
        get
        {
            lock (_sync)
            {
                return new RdmaChannelCounters(
                    _ledger.DataCredits, _ledger.ControlCredits, _pending.Count, _sendsInFlight, _freeCount,
                    _dataMessagesSent, _creditMessagesSent, _ledger.DataReceived, _ready.Count, _ledger.OwedData);
            }
        }
    }

    private void DrainPendingLocked()
    {
        while (_pending.Count > 0 && _failure == null && _ledger.TryConsumeDataCredit())
        {
            int slot = _pending.Dequeue();
            _sendsInFlight++;
            if (slot == EndMarker)
            {
                PostSendLocked(WorkKind.SendEnd, MessageKind.End, 0, 0);
                continue;
            }
            if ((slot & ExternalTag) != 0)
            {
                int index = slot & ~ExternalTag;
                PostSendLocked(WorkKind.SendExternal, MessageKind.Data, index, _externalSends[index].Length);
                _dataMessagesSent++;
                continue;
            }
            var buffer = _sendBuffers[slot];
            buffer.State = SendBufferState.InFlight;
            PostSendLocked(WorkKind.SendData, MessageKind.Data, slot, buffer.Length);
            _dataMessagesSent++;
        }
    }

    private void MaybeSendCreditLocked()
    {
        if (_failure != null || _peerEnded || !_ledger.CreditUpdateDue) return;
        if (_controlInFlight >= _options.ControlDepth || !_ledger.TryConsumeControlCredit()) return;
        _controlInFlight++;
        PostSendLocked(WorkKind.SendCredit, MessageKind.Credit, 0, 0);
        _creditMessagesSent++;
    }

    private void FreeSlotLocked(int slot)
    {
        _sendBuffers[slot].State = SendBufferState.Free;
        _freeSlots[_freeCount++] = slot;
    }

    private void ThrowIfUnusable()
    {
        if (_failure != null) throw _failure.Rethrown();
    }

    /// <summary>Records the first failure, disconnects, and wakes every waiter.</summary>
    private void Fail(RdmaException failure)
    {
        lock (_sync)
        {
            if (_failure != null) return;
            _failure = failure;
            DisconnectLocked();
        }
        _sendSignal.Set();
        _receiveSignal.Set();
    }

    /// <summary>Closes the connection without ending the stream if it was not ended: the peer sees a disconnect.</summary>
    public void Dispose()
    {
        lock (_sync)
        {
            if (_disposed) return;
            _disposed = true;
            _failure ??= new RdmaException(RdmaErrorKind.Closed, "the channel was closed locally");
            DisconnectLocked();
        }
        StopProgress();
        _sendSignal.Set();
        _receiveSignal.Set();
        DestroyResources();
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A snapshot of a channel's flow-control state.</summary>
internal readonly record struct RdmaChannelCounters(
    int DataCredits,
    int ControlCredits,
    int PendingSends,
    int SendsInFlight,
    int FreeSendBuffers,
    long DataMessagesSent,
    long CreditMessagesSent,
    long DataMessagesReceived,
    int ReadyMessages,
    int OwedDataCredits);
