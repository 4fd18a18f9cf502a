using System.Collections.Concurrent;
using System.Threading.Channels;
using StreamKit.Transport;

namespace StreamKit.Tests.Transport;

/// <summary>
/// The receive side of an RDMA channel, in process (no RDMA device on the test host): a connection that
/// receives what it sends, carried as messages of at most <c>messageSize</c> bytes in a fixed set of
/// receive buffers, one credit each. A send waits for a free buffer exactly as an RDMA sender waits for
/// a credit, and a buffer is free again only when the receiver released it: a lent message only once
/// every holder of its <see cref="LentSegment"/> has. So a window that kept every buffer while waiting
/// for more bytes would hang here as it would over RDMA. Lending goes through the production
/// <see cref="SegmentLender"/>, as in <see cref="RdmaConnection"/>.
/// </summary>
internal sealed class LendingLoopbackConnection : TransportConnection
{
    private readonly byte[][] _buffers;
    private readonly ConcurrentQueue<int> _free = new();
    private readonly SemaphoreSlim _credits;
    private readonly Channel<(int Slot, int Length)> _messages = Channel.CreateUnbounded<(int, int)>();
    private readonly CancellationTokenSource _aborted = new();
    private readonly SegmentLender _lender;
    private readonly Loan[] _loans;
    private int _slot = -1;
    private int _offset;
    private int _length;
    private long _inPlace;
    private long _copied;

    public LendingLoopbackConnection(int buffers, int messageSize)
        : base(TransportKind.Memory, "lending:local", "lending:remote", ConnectionSettings.Unbounded)
    {
        _buffers = Enumerable.Range(0, buffers).Select(_ => GC.AllocateUninitializedArray<byte>(messageSize, pinned: true)).ToArray();
        _loans = Enumerable.Range(0, buffers).Select(i => new Loan(this, i)).ToArray();
        for (int i = 0; i < buffers; i++) _free.Enqueue(i);
        _credits = new SemaphoreSlim(buffers);
        _lender = new SegmentLender(buffers, buffers);
    }

    public override bool CanSend => true;
    public override bool CanReceive => true;
    internal override bool LendNextReceive() => _lender.CanLend;

    public SegmentLender Lender => _lender;
    public long InPlaceBytes => Volatile.Read(ref _inPlace);
    public long CopiedBytes => Volatile.Read(ref _copied);

    /// <summary>Buffers neither holding an undelivered message nor held by the receiver.</summary>
    public int FreeCredits => _credits.CurrentCount;

    /// <summary>True if <paramref name="array"/> is one of the receive buffers (bytes read in place).</summary>
    public bool IsReceiveBuffer(byte[]? array) => array is not null && _buffers.Contains(array);

    protected override async ValueTask SendCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, long totalBytes, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _aborted.Token);
        int slot = -1, packed = 0;
        foreach (var piece in segments)
        {
            var rest = piece;
            while (!rest.IsEmpty)
            {
                if (slot < 0)
                {
                    await _credits.WaitAsync(linked.Token).ConfigureAwait(false);
                    if (!_free.TryDequeue(out slot)) throw new InvalidOperationException("a credit without a free buffer");
                }
                int n = Math.Min(rest.Length, _buffers[slot].Length - packed);
                rest.Span[..n].CopyTo(_buffers[slot].AsSpan(packed));
                packed += n;
                rest = rest[n..];
                if (packed == _buffers[slot].Length) Post(ref slot, ref packed);
            }
        }
        if (slot >= 0) Post(ref slot, ref packed);
    }

    private void Post(ref int slot, ref int length)
    {
        _messages.Writer.TryWrite((slot, length));
        slot = -1;
        length = 0;
    }

    protected override async ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (!await NextAsync(cancellationToken).ConfigureAwait(false)) return 0;
        int n = Math.Min(buffer.Length, _length - _offset);
        _buffers[_slot].AsSpan(_offset, n).CopyTo(buffer.Span);
        _offset += n;
        Interlocked.Add(ref _copied, n);
        if (_offset == _length)
        {
            _loans[_slot].Dispose();
            _slot = -1;
        }
        return n;
    }

    protected override async ValueTask<LentSegment?> ReceiveLentCoreAsync(CancellationToken cancellationToken)
    {
        if (!await NextAsync(cancellationToken).ConfigureAwait(false)) return null;
        int slot = _slot;
        _slot = -1;
        Interlocked.Add(ref _inPlace, _length - _offset);
        return _lender.Lend(slot, _buffers[slot].AsMemory(_offset, _length - _offset), _loans[slot]);
    }

    private async ValueTask<bool> NextAsync(CancellationToken cancellationToken)
    {
        if (_slot >= 0) return true;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _aborted.Token);
        if (!await _messages.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false)) return false;
        _messages.Reader.TryRead(out var message);
        (_slot, _length, _offset) = (message.Slot, message.Length, 0);
        return true;
    }

    protected override ValueTask CompleteSendCoreAsync(CancellationToken cancellationToken)
    {
        _messages.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    protected override void AbortCore(TransportException reason) => _aborted.Cancel();

    protected override ValueTask DisposeCoreAsync()
    {
        _messages.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    /// <summary>Giving a buffer back: the sender gets its credit.</summary>
    private sealed class Loan(LendingLoopbackConnection owner, int slot) : IDisposable
    {
        public void Dispose()
        {
            owner._free.Enqueue(slot);
            owner._credits.Release();
        }
    }
}
