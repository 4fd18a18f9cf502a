namespace StreamKit.Transport;

/// <summary>
/// The receiving end of a transport address: yields incoming streams as <see cref="ChannelGroup"/>s
/// whose forward preambles have been read and checked. For tcp, unix and rdma it listens, accepts,
/// handshakes every connection concurrently under its own deadline and groups channels by stream id;
/// for file it opens the file and reads its preamble (one stream).
/// </summary>
internal abstract class TransportListener : IAsyncDisposable
{
    /// <summary>The address actually bound (a tcp port 0 is replaced by the real port).</summary>
    public abstract TransportAddress Address { get; }

    /// <summary>
    /// Waits for the next complete stream. Streams that fail to assemble (a channel missing at the
    /// deadline) are reported here as a <see cref="TransportException"/>; single refused connections
    /// (bad preamble, stray, duplicate, TLS failures) only go to the listener's rejection callback.
    /// </summary>
    public abstract ValueTask<ChannelGroup> AcceptAsync(CancellationToken cancellationToken = default);

    /// <summary>Stops listening and closes connections not yet accepted.</summary>
    public abstract ValueTask DisposeAsync();

    /// <summary>Starts listening at (or opens) <paramref name="address"/>.</summary>
    /// <param name="address">tcp, unix, rdma or file.</param>
    /// <param name="options">Settings (default <see cref="TransportOptions.Default"/>).</param>
    /// <param name="onRejected">Called (on a pool thread) for every refused connection, with the reason.</param>
    /// <exception cref="TransportException">The address is in use, unavailable, or the file cannot be opened.</exception>
    public static TransportListener Bind(TransportAddress address, TransportOptions? options = null, Action<TransportException>? onRejected = null)
    {
        options ??= TransportOptions.Default;
        options.Validate();
        return address.Scheme switch
        {
            TransportScheme.Tcp or TransportScheme.Unix => SocketListener.Start(address, options, onRejected),
            TransportScheme.File => new FileListener(address, options),
            TransportScheme.Rdma => RdmaTransportListener.Start(address, options, onRejected),
            _ => throw new ArgumentOutOfRangeException(nameof(address), address.Scheme, "unknown transport scheme"),
        };
    }
}
