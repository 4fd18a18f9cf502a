namespace StreamKit.Transport;

/// <summary>Per-connection settings derived from <see cref="TransportOptions"/> (internal plumbing, immutable).</summary>
internal sealed record ConnectionSettings(TimeSpan IdleReceiveTimeout, TimeSpan SendTimeout, TokenBucket? Bandwidth)
{
    /// <summary>No timeouts, no limit (files, in-memory pairs by default).</summary>
    public static ConnectionSettings Unbounded { get; } = new(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan, null);

    /// <summary>Settings from options; <paramref name="bandwidth"/> is shared by every channel of one stream.</summary>
    public static ConnectionSettings From(TransportOptions options, TokenBucket? bandwidth) =>
        new(options.IdleReceiveTimeout, options.SendTimeout, bandwidth);

    /// <summary>A bucket for one stream, or null when unlimited.</summary>
    public static TokenBucket? CreateBucket(TransportOptions options) =>
        options.BandwidthLimit > 0 ? new TokenBucket(options.BandwidthLimit, options.EffectiveBurst) : null;
}
