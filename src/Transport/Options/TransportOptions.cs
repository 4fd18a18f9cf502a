namespace StreamKit.Transport;

/// <summary>
/// Connection settings for every transport. Defaults suit a migration over a LAN or loopback;
/// all timeouts accept <see cref="Timeout.InfiniteTimeSpan"/> to disable them.
/// </summary>
public sealed class TransportOptions
{
    /// <summary>Shared defaults.</summary>
    public static TransportOptions Default { get; } = new();

    /// <summary>
    /// SO_SNDBUF and SO_RCVBUF in bytes (default 4 MiB; Linux caps it at net.core.[rw]mem_max and doubles it).
    /// 0 leaves the kernel's autotuning on.
    /// </summary>
    public int SocketBufferSize { get; init; } = 4 << 20;

    /// <summary>Deadline for establishing one connection (TCP connect or Unix connect), default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Deadline per accepted or opened connection for its TLS handshake and its preamble (default 10 s),
    /// so a silent or slow peer cannot hold a listener.
    /// </summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Deadline for all channels of a multi-channel stream to arrive after the first (default 10 s).</summary>
    public TimeSpan ChannelGroupTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A pending receive that sees no byte for this long aborts the connection with
    /// <see cref="TransportErrorKind.Timeout"/> (default 30 s). Sessions send PADDING keepalives well inside it.
    /// </summary>
    public TimeSpan IdleReceiveTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A send that cannot complete for this long (peer not reading, link dead) aborts the connection (default 30 s).</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>TCP keepalive: idle time before the first probe (default 10 s); infinite disables keepalive.</summary>
    public TimeSpan KeepAliveTime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>TCP keepalive: interval between probes (default 5 s).</summary>
    public TimeSpan KeepAliveInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>TCP keepalive: unanswered probes before the kernel declares the peer dead (default 3).</summary>
    public int KeepAliveProbes { get; init; } = 3;

    /// <summary>Send-side bandwidth limit in bytes per second for a whole stream (all its channels); 0 = unlimited.</summary>
    public long BandwidthLimit { get; init; }

    /// <summary>
    /// Token-bucket burst in bytes (how far ahead of the rate a sender may get after idling);
    /// 0 = a tenth of a second at <see cref="BandwidthLimit"/>, at least 64 KiB.
    /// </summary>
    public long BandwidthBurst { get; init; }

    /// <summary>TLS settings; null = plaintext. Applies to tcp and unix.</summary>
    public TransportTlsOptions? Tls { get; init; }

    /// <summary>
    /// How many multi-channel streams a listener assembles at once (default 1: a migration destination
    /// expects one stream, so a channel of another stream is refused while one is being assembled).
    /// </summary>
    public int MaxPendingStreams { get; init; } = 1;

    /// <summary>Largest channel count a listener accepts in a preamble (default <see cref="TransportAddress.MaxChannels"/>).</summary>
    public int MaxChannels { get; init; } = TransportAddress.MaxChannels;

    /// <summary>Whether writing a stream to a <c>file:</c> address may replace an existing file (default false).</summary>
    public bool OverwriteFile { get; init; }

    /// <summary>The effective token-bucket burst.</summary>
    internal long EffectiveBurst => BandwidthBurst > 0 ? BandwidthBurst : Math.Max(64 * 1024, BandwidthLimit / 10);

    /// <summary>Checks every setting; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public void Validate()
    {
        if (SocketBufferSize < 0) throw new ArgumentException("must be ≥ 0", nameof(SocketBufferSize));
        CheckTimeout(ConnectTimeout, nameof(ConnectTimeout));
        CheckTimeout(HandshakeTimeout, nameof(HandshakeTimeout));
        CheckTimeout(ChannelGroupTimeout, nameof(ChannelGroupTimeout));
        CheckTimeout(IdleReceiveTimeout, nameof(IdleReceiveTimeout));
        CheckTimeout(SendTimeout, nameof(SendTimeout));
        CheckTimeout(KeepAliveTime, nameof(KeepAliveTime));
        CheckTimeout(KeepAliveInterval, nameof(KeepAliveInterval));
        if (KeepAliveTime != Timeout.InfiniteTimeSpan && KeepAliveTime < TimeSpan.FromSeconds(1))
            throw new ArgumentException("TCP keepalive works in whole seconds; use ≥ 1 s or infinite", nameof(KeepAliveTime));
        if (KeepAliveInterval != Timeout.InfiniteTimeSpan && KeepAliveInterval < TimeSpan.FromSeconds(1))
            throw new ArgumentException("TCP keepalive works in whole seconds; use ≥ 1 s", nameof(KeepAliveInterval));
        if (KeepAliveProbes is < 1 or > 127) throw new ArgumentException("must be 1..127", nameof(KeepAliveProbes));
        if (BandwidthLimit < 0) throw new ArgumentException("must be ≥ 0", nameof(BandwidthLimit));
        if (BandwidthBurst < 0) throw new ArgumentException("must be ≥ 0", nameof(BandwidthBurst));
        if (MaxPendingStreams < 1) throw new ArgumentException("must be ≥ 1", nameof(MaxPendingStreams));
        if (MaxChannels is < 1 or > ushort.MaxValue) throw new ArgumentException("must be 1..65535", nameof(MaxChannels));
        Tls?.Validate();
    }

    private static void CheckTimeout(TimeSpan value, string name)
    {
        if (value != Timeout.InfiniteTimeSpan && (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue))
            throw new ArgumentException("must be positive (or Timeout.InfiniteTimeSpan) and below 24 days", name);
    }
}
