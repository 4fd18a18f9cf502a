using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace StreamKit.Transport;

/// <summary>
/// The receive side's zero-copy buffer: receives from a connection into large pinned blocks and
/// exposes the unconsumed bytes as a <see cref="ReadOnlySequence{T}"/> over those blocks, so chunks
/// are parsed in place. The protocol (cf. <c>PipeReader.AdvanceTo</c>):
/// <code>
/// var r = await window.ReadAtLeastAsync(ChunkHeader.Size, ct);       // header bytes present (or r.IsCompleted)
/// ... decode header (copy 48 bytes to the stack if they straddle two blocks) ...
/// r = await window.ReadAtLeastAsync(ChunkHeader.Size + wire, ct);      // whole chunk present
/// var payload = r.Buffer.Slice(ChunkHeader.Size, wire);               // no copy
/// var lease = window.Lease(payload);                                   // keeps its blocks alive
/// window.Advance(ChunkHeader.Size + wire);                             // window moves on
/// ... device writer: foreach (segment in payload) write(segment); lease.Release();
/// </code>
/// One reader at a time; leases may be released from any thread. Memory is bounded by the pool's
/// cap: when leased blocks fill it, receiving waits for releases (back-pressure, not failure).
/// <para>
/// In place from the transport: when the connection lends its receive buffers
/// (<see cref="TransportConnection.LendNextReceive"/>, RDMA), each received message is chained as it lies in
/// the registered buffer the adapter wrote (a <see cref="LentSegment"/>) instead of being copied into a
/// block, so parsing, the payload CRC and the device write all read the adapter's memory; the final
/// release of a message (window advanced past it, every lease released) re-posts its buffer. When the
/// transport's lending budget is used up (a chunk spanning many messages, leases of queued chunks), the
/// window copies into its blocks as for a socket, which frees each buffer at once: see
/// <see cref="SegmentLender"/> for why that keeps the sender's credits flowing.
/// </para>
/// </summary>
internal sealed class ReceiveWindow : IDisposable
{
    private readonly TransportConnection _connection;
    private readonly PinnedBufferPool _pool;
    private readonly int _blockSize;
    private readonly int _minimumReceive;
    private WindowSegment? _head;
    private WindowSegment? _tail;
    private int _headOffset;
    private int _tailFilled;
    private long _buffered;
    private long _position;
    private bool _completed;
    private bool _disposed;

    /// <summary>Creates a window over <paramref name="connection"/>.</summary>
    /// <param name="connection">The source of bytes; the window does not own it.</param>
    /// <param name="pool">Where blocks come from.</param>
    /// <param name="blockSize">Block size (rounded up by the pool to a power of two); each receive reads up to one block.</param>
    /// <param name="maxReadAhead">
    /// Largest <c>minimumBytes</c> a read may ask for (bounds memory for one chunk); 0 = the smaller of
    /// 64 MiB and the pool cap less one block.
    /// </param>
    public ReceiveWindow(TransportConnection connection, PinnedBufferPool pool, int blockSize = 1 << 20, int maxReadAhead = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, PinnedBufferPool.MinBlockSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(blockSize, pool.MaxBlockSize);
        if (maxReadAhead == 0) maxReadAhead = (int)Math.Min(64 << 20, pool.MaxBytes - blockSize);
        if (maxReadAhead <= 0 || maxReadAhead > pool.MaxBytes - blockSize)
            throw new ArgumentOutOfRangeException(nameof(maxReadAhead), maxReadAhead, $"must be 1..{pool.MaxBytes - blockSize} (the pool cap less one block)");
        _connection = connection;
        _pool = pool;
        _blockSize = blockSize;
        _minimumReceive = Math.Max(PinnedBufferPool.MinBlockSize, blockSize / 8);
        MaxReadAhead = maxReadAhead;
    }

    /// <summary>Largest amount a single read may require to be buffered.</summary>
    public int MaxReadAhead { get; }

    /// <summary>Stream offset of the first unconsumed byte (bytes advanced past so far): the offset for error reports.</summary>
    public long Position => _position;

    /// <summary>Unconsumed bytes in the window.</summary>
    public long BufferedBytes => _buffered;

    /// <summary>True once the peer has finished sending.</summary>
    public bool IsCompleted => _completed;

    /// <summary>The unconsumed bytes.</summary>
    public ReadOnlySequence<byte> Buffered =>
        _head is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(_head, _headOffset, _tail!, _tailFilled);

    /// <summary>
    /// Receives until at least <paramref name="minimumBytes"/> unconsumed bytes are buffered or the peer
    /// finishes; returns everything buffered. Check <see cref="ReceiveResult.IsCompleted"/> when fewer came.
    /// </summary>
    /// <exception cref="TransportException">The connection failed.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ReceiveResult> ReadAtLeastAsync(int minimumBytes, CancellationToken cancellationToken = default)
    {
        while (NeedsMore(minimumBytes))
        {
            if (_connection.LendNextReceive())
            {
                AppendLent(await _connection.ReceiveLentAsync(cancellationToken).ConfigureAwait(false));
                continue;
            }
            var block = ReusableTail() ?? AppendBlock(await _pool.RentAsync(_blockSize, cancellationToken).ConfigureAwait(false));
            Received(block, await _connection.ReceiveAsync(block.Array.AsMemory(_tailFilled), cancellationToken).ConfigureAwait(false));
        }
        return new ReceiveResult(Buffered, _completed);
    }

    /// <summary>
    /// <see cref="ReadAtLeastAsync"/> on the calling thread, which sleeps in the kernel while it waits for bytes
    /// (and in the pool while leased blocks fill it): for a dedicated receive thread. Only on a connection
    /// that can receive that way (<see cref="TransportConnection.CanReceiveBlocking"/>).
    /// </summary>
    /// <exception cref="TransportException">The connection failed.</exception>
    /// <exception cref="InvalidOperationException">The connection cannot receive blocking.</exception>
    public ReceiveResult ReadAtLeast(int minimumBytes, CancellationToken cancellationToken = default)
    {
        if (!_connection.CanReceiveBlocking)
            throw new InvalidOperationException($"the {_connection.Kind} connection cannot receive on the calling thread; use ReadAtLeastAsync");
        while (NeedsMore(minimumBytes))
        {
            var block = ReusableTail() ?? AppendBlock(_pool.RentBlocking(_blockSize, cancellationToken));
            // Wake once the bytes this read needs are there, not at every segment (the peer owes them: see TryReceiveBlocking).
            _connection.TryReceiveBlocking(block.Array.AsSpan(_tailFilled), out int received, cancellationToken, (int)(minimumBytes - _buffered));
            Received(block, received);
        }
        return new ReceiveResult(Buffered, _completed);
    }

    /// <summary>Checks the argument; true while fewer than <paramref name="minimumBytes"/> are buffered and more can come.</summary>
    private bool NeedsMore(int minimumBytes)
    {
        if ((uint)minimumBytes > (uint)MaxReadAhead)
            throw new ArgumentOutOfRangeException(nameof(minimumBytes), minimumBytes, $"must be 0..{MaxReadAhead}");
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _buffered < minimumBytes && !_completed;
    }

    /// <summary>
    /// The block the next receive goes into when no new one is needed: the tail while it has room, or a
    /// fully consumed, unleased single block reused in place (cache-warm, no pool round trip). Null: rent one.
    /// </summary>
    private PooledBuffer? ReusableTail()
    {
        if (_tail is not PooledBuffer tail) return null;
        if (tail.Length - _tailFilled >= _minimumReceive) return tail;
        if (_head == _tail && _headOffset == _tailFilled && tail.References == 1)
        {
            _headOffset = _tailFilled = 0;
            tail.SetSegment(0, tail.RunningIndex);
            return tail;
        }
        return null;
    }

    private PooledBuffer AppendBlock(PooledBuffer block)
    {
        block.SetSegment(0, 0);
        Append(block, 0);
        return block;
    }

    /// <summary>Accounts for <paramref name="received"/> bytes just received into <paramref name="block"/> (the tail); 0 = the peer finished.</summary>
    private void Received(PooledBuffer block, int received)
    {
        if (received == 0)
        {
            _completed = true;
            return;
        }
        _tailFilled += received;
        block.SetFilled(_tailFilled);
        _buffered += received;
    }

    /// <summary>Chains a lent transport buffer, in place, after the buffered bytes; null = the peer finished.</summary>
    private void AppendLent(LentSegment? lent)
    {
        if (lent is null)
        {
            _completed = true;
            return;
        }
        Append(lent, lent.Memory.Length);
        _buffered += lent.Memory.Length;
    }

    /// <summary>Makes <paramref name="segment"/> (one reference, owned by the window now) the tail holding <paramref name="filled"/> bytes.</summary>
    private void Append(WindowSegment segment, int filled)
    {
        if (_tail is null)
        {
            _head = _tail = segment;
            _headOffset = 0;
            _tailFilled = filled;
            return;
        }
        segment.SetRunningIndex(_tail.RunningIndex + _tailFilled);
        if (_head == _tail && _headOffset == _tailFilled)
        {
            // Nothing unconsumed in the old tail: drop the window's hold (a lease may still keep it).
            _tail.Release();
            _head = _tail = segment;
            _headOffset = 0;
            _tailFilled = filled;
            return;
        }
        _tail.SetNext(segment);
        _tail = segment;
        _tailFilled = filled;
    }

    /// <summary>Consumes <paramref name="bytes"/> from the front; blocks left behind return to the pool (lent buffers to the transport) unless leased.</summary>
    public void Advance(long bytes)
    {
        if ((ulong)bytes > (ulong)_buffered)
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"only {_buffered} bytes are buffered");
        _buffered -= bytes;
        _position += bytes;
        while (true)
        {
            int inHead = (_head == _tail ? _tailFilled : _head!.Memory.Length) - _headOffset;
            if (bytes <= inHead && (bytes < inHead || _head == _tail))
            {
                _headOffset += (int)bytes;
                return;
            }
            bytes -= inHead;
            var next = _head!.Next;
            _head.Release();
            _head = next;
            _headOffset = 0;
        }
    }

    /// <summary>Consumes everything before <paramref name="consumed"/> (a position in the latest <see cref="Buffered"/>).</summary>
    public void AdvanceTo(SequencePosition consumed) => Advance(Buffered.Slice(0, consumed).Length);

    /// <summary>
    /// Keeps the blocks under <paramref name="slice"/> (a slice of <see cref="Buffered"/>) alive past
    /// <see cref="Advance"/> until the lease is released.
    /// </summary>
    public BufferLease Lease(in ReadOnlySequence<byte> slice)
    {
        Debug.Assert(slice.IsEmpty || slice.Start.GetObject() is WindowSegment { References: > 0 }, "slice is not from this window");
        return BufferLease.Create(slice);
    }

    /// <summary>Returns the window's blocks (leased ones stay alive until their leases are released).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        var block = _head;
        while (block is not null)
        {
            var next = block == _tail ? null : block.Next;
            block.Release();
            block = next;
        }
        _head = _tail = null;
        _buffered = 0;
    }
}
