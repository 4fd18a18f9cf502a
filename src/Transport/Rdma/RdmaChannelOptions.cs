namespace StreamKit.Transport.Rdma;

/// <summary>
/// Buffer and credit sizing of one RDMA channel (one RC connection). Each side chooses its
/// own; they meet in the connection private data (spec/rdma-transport.md §3, §7).
/// Registered memory per side = (ReceiveDepth + ControlDepth) × ReceiveBufferSize
/// + SendDepth × min(MaxSendBufferSize, peer's ReceiveBufferSize).
/// </summary>
internal sealed record RdmaChannelOptions
{
    /// <summary>Bytes per receive buffer: the largest message the peer may send us. Default 1 MiB.</summary>
    public int ReceiveBufferSize { get; init; } = 1 << 20;

    /// <summary>Receive buffers for data = the data credits granted to the peer. Default 8.</summary>
    public int ReceiveDepth { get; init; } = 8;

    /// <summary>
    /// Extra receive buffers for credit-only messages (the control credits granted), and the
    /// most credit-only messages we keep in flight. Default 2.
    /// </summary>
    public int ControlDepth { get; init; } = 2;

    /// <summary>Registered send buffers: bounds the messages leased, queued for credits and in flight. Default 8.</summary>
    public int SendDepth { get; init; } = 8;

    /// <summary>Cap on the send buffer size; the real size is the smaller of this and the peer's receive buffer size. Default 1 MiB.</summary>
    public int MaxSendBufferSize { get; init; } = 1 << 20;

    /// <summary>Bound on address/route resolution and on the connection handshake. Default 30 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Transport retries before a send fails with "retry exceeded" (IB: 0–7). Default 7.</summary>
    public byte RetryCount { get; init; } = 7;

    /// <summary>
    /// Receiver-not-ready retries (IB: 0–7, 7 = forever). The credit protocol means a receive
    /// buffer is always posted, so an RNR is a bug: a small count turns it into an error instead
    /// of a silent stall. Default 3.
    /// </summary>
    public byte RnrRetryCount { get; init; } = 3;

    /// <summary>The private-data block this side sends.</summary>
    internal ConnectionParameters LocalParameters => new(ReceiveBufferSize, ReceiveDepth, ControlDepth);

    /// <summary>
    /// The rdma_connect / rdma_accept parameters both sides send: retry counts and, as private data, this side's
    /// <see cref="LocalParameters"/> encoded into <paramref name="privateData"/> (<see cref="ConnectionParameters.Size"/>
    /// bytes the caller keeps alive until the call returns).
    /// </summary>
    internal unsafe Native.RdmaConnParam ConnectionParam(byte* privateData)
    {
        LocalParameters.Encode(new Span<byte>(privateData, ConnectionParameters.Size));
        return new Native.RdmaConnParam
        {
            PrivateData = privateData,
            PrivateDataLen = ConnectionParameters.Size,
            RetryCount = RetryCount,
            RnrRetryCount = RnrRetryCount,
        };
    }

    /// <exception cref="ArgumentOutOfRangeException">A value is outside what the protocol or the verbs allow.</exception>
    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveBufferSize, ConnectionParameters.MinBufferSize, nameof(ReceiveBufferSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ReceiveBufferSize, ConnectionParameters.MaxBufferSize, nameof(ReceiveBufferSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSendBufferSize, ConnectionParameters.MinBufferSize, nameof(MaxSendBufferSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveDepth, 1, nameof(ReceiveDepth));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ReceiveDepth, 4096, nameof(ReceiveDepth));
        ArgumentOutOfRangeException.ThrowIfLessThan(ControlDepth, 1, nameof(ControlDepth));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ControlDepth, 16, nameof(ControlDepth));
        ArgumentOutOfRangeException.ThrowIfLessThan(SendDepth, 1, nameof(SendDepth));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SendDepth, 4096, nameof(SendDepth));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RetryCount, (byte)7, nameof(RetryCount));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RnrRetryCount, (byte)7, nameof(RnrRetryCount));
        if (ConnectTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ConnectTimeout), "must be positive");
    }
}
