using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

// Zero-copy sends from caller memory: a pinned array registered once with this channel's
// protection domain, then sent from in place. This is how device bytes go out: the session's
// pump reads data_fd into its pinned buffers, and the adapter reads the message from there.
internal sealed partial class RdmaChannel
{
    /// <summary>Pending-queue entries with this bit are zero-copy sends (index into <see cref="_externalSends"/>).</summary>
    private const int ExternalTag = 1 << 30;

    private readonly List<RegisteredMemory> _externalRegions = [];
    private ExternalSend[] _externalSends = [];
    private int[] _externalFree = [];
    private int _externalFreeCount;
    private int _externalOutstanding;   // zero-copy messages queued or in flight

    private readonly record struct ExternalSend(ulong Address, int Length, uint Lkey);

    /// <summary>
    /// Registers <paramref name="pinnedArray"/> (allocated on the pinned object heap) with this
    /// channel's protection domain, so <see cref="SendRegisteredAsync"/> can send from it without
    /// a copy. The registration lasts until the channel is disposed.
    /// </summary>
    /// <exception cref="RdmaException">The channel failed, or <c>ibv_reg_mr</c> failed (memlock limit).</exception>
    internal RegisteredMemory Register(byte[] pinnedArray)
    {
        ArgumentNullException.ThrowIfNull(pinnedArray);
        lock (_sync)
        {
            ThrowIfUnusable();
            if (_pd == 0) throw new InvalidOperationException("the channel has no protection domain yet");
            var region = new RegisteredMemory(_pd, pinnedArray, "a send buffer lent by the session");
            _externalRegions.Add(region);
            return region;
        }
    }

    /// <summary>
    /// Sends <paramref name="length"/> bytes at <paramref name="offset"/> of a registered array,
    /// in place, as messages of at most <see cref="MaxMessageSize"/> bytes, in order after every
    /// message queued before. Completes when the adapter has finished with all of them, so the
    /// caller may then reuse the memory. At most <see cref="RdmaChannelOptions.SendDepth"/>
    /// such messages are queued or in flight; credits gate them like any data message.
    /// </summary>
    /// <exception cref="RdmaException">The channel failed or was closed.</exception>
    internal async ValueTask SendRegisteredAsync(RegisteredMemory region, int offset, int length, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        if ((long)offset + length > region.SlotSize) throw new ArgumentOutOfRangeException(nameof(length), "beyond the registered array");
        ulong address = region.SlotAddress(0) + (ulong)offset;
        int queued = 0;
        while (true)
        {
            lock (_sync)
            {
                ThrowIfUnusable();
                if (queued < length && _endQueued) throw new InvalidOperationException("the channel's stream was already completed");
                while (queued < length && _externalFreeCount > 0)
                {
                    int piece = Math.Min(MaxMessageSize, length - queued);
                    int index = _externalFree[--_externalFreeCount];
                    _externalSends[index] = new ExternalSend(address + (ulong)queued, piece, region.Lkey);
                    _externalOutstanding++;
                    _pending.Enqueue(ExternalTag | index);
                    queued += piece;
                }
                DrainPendingLocked();
                if (queued == length && _externalOutstanding == 0) return;
            }
            await _sendSignal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>This side's address of the connection (for messages).</summary>
    internal unsafe System.Net.IPEndPoint? LocalEndPoint =>
        _id == null ? null : SockAddr.Decode(new ReadOnlySpan<byte>(&_id->SrcAddr, SockAddr.MaxSize));

    /// <summary>Fails the channel with <paramref name="reason"/> and disconnects: the peer sees the connection drop.</summary>
    internal void Abort(string reason) => Fail(new RdmaException(RdmaErrorKind.Closed, reason));
}
