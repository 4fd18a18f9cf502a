using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using StreamKit.Transport.Rdma;

namespace StreamKit.Transport;

/// <summary>
/// One stream channel over an <see cref="RdmaChannel"/> (one RC queue pair), behind the same
/// connection contract as a socket, so sessions run over <c>rdma://</c> unchanged.
/// <para>
/// Send path. A segment inside an array registered with <see cref="RegisterSendBuffer"/> (the
/// session registers its pinned device-read buffers) is sent in place: the adapter reads the
/// message from where <c>read(data_fd)</c> put the bytes, and the send completes when the adapter
/// is done with that memory. Any other segment (preambles, keepalives, STREAM_END, return-path
/// records, LZ4 output) is copied into the channel's own registered send buffers.
/// </para>
/// <para>
/// Receive path. Messages land in the channel's registered receive buffers. A
/// <see cref="ReceiveWindow"/> takes them in place (<see cref="TransportConnection.ReceiveLentAsync"/>):
/// each message becomes a segment of the window's sequence, so chunk parsing, the payload CRC and the
/// device write read the adapter's memory, and the segment's final release re-posts the buffer and
/// returns the credit. At most <see cref="SegmentLender.Limit"/> messages are lent at once; beyond
/// that (and for plain <see cref="TransportConnection.ReceiveAsync"/> callers) receives copy out of
/// the message into the caller's buffer and release it once consumed. Either way a receiver that
/// stops reading stops the sender after the granted credits.
/// </para>
/// <para>
/// Ending. Completing the send direction sends the end marker and waits for the adapter's
/// acknowledgement; disposing without an abort first completes the send direction (bounded), like
/// a socket's FIN on close; an abort disconnects at once, which the peer sees as a typed failure.
/// </para>
/// </summary>
internal sealed class RdmaConnection : TransportConnection
{
    private static readonly TimeSpan GracefulCloseTimeout = TimeSpan.FromSeconds(2);

    private readonly RdmaChannel _channel;
    private readonly SegmentLender _lender;
    private readonly Lock _registrationGate = new();
    private RegisteredMemory[] _registered = [];
    private RdmaReceivedMessage? _reading;
    private int _readOffset;
    private bool _ended;
    private volatile bool _aborted;
    private long _zeroCopyBytes;
    private long _copiedBytes;
    private long _receivedInPlaceBytes;
    private long _receivedCopiedBytes;
    private long _receivedFallbackBytes;
    private bool _copyingForBudget;

    public RdmaConnection(RdmaChannel channel, string localEndPoint, ConnectionSettings settings)
        : base(TransportKind.Rdma, localEndPoint, "rdma://" + (channel.RemoteEndPoint?.ToString() ?? "(unknown)"), settings)
    {
        _channel = channel;
        _lender = new SegmentLender(channel.ReceiveSlots, channel.DataReceiveBuffers);
    }

    public override bool CanSend => true;
    public override bool CanReceive => true;

    /// <summary>The channel underneath (lab checks and diagnostics).</summary>
    internal RdmaChannel Channel => _channel;

    /// <summary>Bytes sent in place from registered caller memory (no CPU copy).</summary>
    internal long ZeroCopyBytes => Volatile.Read(ref _zeroCopyBytes);

    /// <summary>Bytes copied into the channel's own send buffers first.</summary>
    internal long CopiedBytes => Volatile.Read(ref _copiedBytes);

    /// <summary>Bytes received in place: lent to the reader in the registered receive buffer (no CPU copy).</summary>
    internal long ReceivedInPlaceBytes => Volatile.Read(ref _receivedInPlaceBytes);

    /// <summary>Bytes copied out of the registered receive buffers (lending budget used up, or a plain receive such as the preamble's).</summary>
    internal long ReceivedCopiedBytes => Volatile.Read(ref _receivedCopiedBytes);

    /// <summary>The part of <see cref="ReceivedCopiedBytes"/> copied because the lending budget was used up.</summary>
    internal long ReceivedFallbackBytes => Volatile.Read(ref _receivedFallbackBytes);

    /// <summary>Receive buffers lent and not yet released by every holder (diagnostics and tests).</summary>
    internal int LentBuffers => _lender.Outstanding;

    internal override bool LendNextReceive()
    {
        bool lend = _lender.CanLend;
        _copyingForBudget = !lend;
        return lend;
    }

    public override void RegisterSendBuffer(byte[] pinnedArray)
    {
        ArgumentNullException.ThrowIfNull(pinnedArray);
        lock (_registrationGate)
        {
            foreach (var region in _registered)
                if (ReferenceEquals(region.Array, pinnedArray)) return;
            RegisteredMemory added;
            try
            {
                added = _channel.Register(pinnedArray);
            }
            catch (RdmaException e)
            {
                throw RdmaErrors.ToTransport(e, RemoteEndPoint);
            }
            // Copy-on-write: the send path scans the array without taking the lock.
            _registered = [.. _registered, added];
        }
    }

    private RegisteredMemory? FindRegistered(byte[] array)
    {
        foreach (var region in Volatile.Read(ref _registered))
            if (ReferenceEquals(region.Array, array)) return region;
        return null;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask SendCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, long totalBytes, CancellationToken cancellationToken)
    {
        RdmaSendBuffer? packing = null;
        int packed = 0;
        try
        {
            for (int i = 0; i < segments.Count; i++)
            {
                var segment = segments[i];
                if (segment.IsEmpty) continue;
                if (MemoryMarshal.TryGetArray(segment, out var array) && FindRegistered(array.Array!) is { } region)
                {
                    if (packing is not null) SendPacked(ref packing, ref packed);
                    await _channel.SendRegisteredAsync(region, array.Offset, array.Count, cancellationToken).ConfigureAwait(false);
                    Volatile.Write(ref _zeroCopyBytes, _zeroCopyBytes + array.Count);
                    continue;
                }
                while (!segment.IsEmpty)
                {
                    packing ??= await _channel.GetSendBufferAsync(cancellationToken).ConfigureAwait(false);
                    int n = Math.Min(segment.Length, packing.Memory.Length - packed);
                    segment.Span[..n].CopyTo(packing.Span[packed..]);
                    packed += n;
                    segment = segment[n..];
                    Volatile.Write(ref _copiedBytes, _copiedBytes + n);
                    if (packed == packing.Memory.Length) SendPacked(ref packing, ref packed);
                }
            }
            if (packing is not null) SendPacked(ref packing, ref packed);
        }
        catch (RdmaException e)
        {
            throw RdmaErrors.ToTransport(e, RemoteEndPoint);
        }
        finally
        {
            if (packing is not null && !_channel.IsClosed) packing.Return();
        }
    }

    /// <summary>Sends the packed prefix of a leased buffer; the lease ends whether or not the send throws.</summary>
    private static void SendPacked(ref RdmaSendBuffer? packing, ref int packed)
    {
        var buffer = packing!;
        int length = packed;
        packing = null;
        packed = 0;
        buffer.Send(length);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (!await NextMessageAsync(cancellationToken).ConfigureAwait(false)) return 0;
        int n = Math.Min(buffer.Length, _reading!.Length - _readOffset);
        _reading.Span.Slice(_readOffset, n).CopyTo(buffer.Span);
        _readOffset += n;
        Volatile.Write(ref _receivedCopiedBytes, _receivedCopiedBytes + n);
        if (_copyingForBudget) Volatile.Write(ref _receivedFallbackBytes, _receivedFallbackBytes + n);
        if (_readOffset == _reading.Length)
        {
            _reading.Dispose(); // re-post the buffer, owe the credit back
            _reading = null;
        }
        return n;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<LentSegment?> ReceiveLentCoreAsync(CancellationToken cancellationToken)
    {
        if (!await NextMessageAsync(cancellationToken).ConfigureAwait(false)) return null;
        // The rest of the message (all of it unless a copying receive took a prefix) goes in place;
        // the segment owns the message now, and its final release disposes it (re-post + credit).
        var message = _reading!;
        var bytes = message.Memory[_readOffset..];
        _reading = null;
        Volatile.Write(ref _receivedInPlaceBytes, _receivedInPlaceBytes + bytes.Length);
        return _lender.Lend(message.Slot, bytes, message);
    }

    /// <summary>Makes <see cref="_reading"/> a message with unread bytes; false at the peer's end of stream.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> NextMessageAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (_reading is null)
            {
                if (_ended) return false;
                _reading = await _channel.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                _readOffset = 0;
                if (_reading is null) _ended = true;
            }
            return true;
        }
        catch (RdmaException e)
        {
            throw RdmaErrors.ToTransport(e, RemoteEndPoint);
        }
    }

    protected override async ValueTask CompleteSendCoreAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _channel.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (RdmaException e)
        {
            throw RdmaErrors.ToTransport(e, RemoteEndPoint);
        }
    }

    protected override void AbortCore(TransportException reason)
    {
        _aborted = true;
        _channel.Abort(reason.Message);
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        if (!_aborted && !_channel.IsClosed)
        {
            // A socket close sends FIN after the queued bytes; the RDMA equivalent is the end
            // marker, acknowledged, before the disconnect. Bounded: a gone peer must not hold us.
            using var deadline = new CancellationTokenSource(GracefulCloseTimeout);
            try { await _channel.CompleteAsync(deadline.Token).ConfigureAwait(false); }
            catch (Exception e) when (e is RdmaException or OperationCanceledException or InvalidOperationException) { /* closing anyway */ }
        }
        _reading?.Dispose();
        _reading = null;
        // Segments still lent (leases of chunks a device writer has not finished) stay readable: the
        // receive array outlives the registration, and their late release re-posts nothing on a
        // closed channel (RdmaChannel.Release).
        _channel.Dispose();
    }
}
