namespace StreamKit.Transport;

/// <summary>
/// A transport's own receive buffer lent in place to a <see cref="ReceiveWindow"/> (an RDMA receive
/// buffer the adapter wrote a message into): the window chains it like a pooled block, leases keep it,
/// and the final <see cref="WindowSegment.Release"/> gives it back to the transport through its loan
/// (for RDMA: re-post the buffer, return the sender's credit). One object per transport buffer slot,
/// reused for every message that slot receives, so lending allocates nothing.
/// </summary>
internal sealed class LentSegment : WindowSegment
{
    private readonly SegmentLender _lender;
    private IDisposable? _loan;

    internal LentSegment(SegmentLender lender) => _lender = lender;

    /// <summary>Starts a loan of <paramref name="bytes"/>; disposing <paramref name="loan"/> returns the transport's buffer.</summary>
    internal void Lend(ReadOnlyMemory<byte> bytes, IDisposable loan)
    {
        _loan = loan;
        Activate();
        Place(bytes, 0);
    }

    protected override void OnReleased()
    {
        var loan = _loan!;
        _loan = null;
        // Counted back before the buffer is: once re-posted, the slot may be lent again at once.
        _lender.OnReturned();
        loan.Dispose();
    }

    protected override string Describe() => "lent receive buffer";
}
