using System.Diagnostics;

namespace StreamKit.Transport;

/// <summary>
/// A token bucket in bytes, shared by all channels of a stream. <see cref="Reserve"/> takes the
/// tokens at once, letting the balance go negative (debt), and returns how long the caller must
/// wait for the debt to be refilled; so a send larger than the burst is allowed and simply waits
/// longer, concurrent channels queue fairly in reservation order, and the long-run rate is exact.
/// Over any interval from a full bucket, bytes released ≤ burst + rate × elapsed.
/// </summary>
internal sealed class TokenBucket
{
    private readonly object _gate = new();
    private readonly double _bytesPerTick;
    private readonly double _burst;
    private double _tokens;
    private long _lastRefill;

    /// <summary>Creates a full bucket.</summary>
    public TokenBucket(long bytesPerSecond, long burst)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytesPerSecond);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(burst);
        BytesPerSecond = bytesPerSecond;
        Burst = burst;
        _bytesPerTick = (double)bytesPerSecond / Stopwatch.Frequency;
        _burst = burst;
        _tokens = burst;
        _lastRefill = Stopwatch.GetTimestamp();
    }

    /// <summary>Refill rate.</summary>
    public long BytesPerSecond { get; }

    /// <summary>Bucket capacity.</summary>
    public long Burst { get; }

    /// <summary>Takes <paramref name="bytes"/> tokens; returns the wait before those bytes may go (zero if covered).</summary>
    public TimeSpan Reserve(long bytes)
    {
        double debt;
        lock (_gate)
        {
            long now = Stopwatch.GetTimestamp();
            _tokens = Math.Min(_burst, _tokens + (now - _lastRefill) * _bytesPerTick);
            _lastRefill = now;
            _tokens -= bytes;
            if (_tokens >= 0) return TimeSpan.Zero;
            debt = -_tokens;
        }
        // Round up to whole milliseconds: timers never fire early by less than that, so the rate holds.
        return TimeSpan.FromMilliseconds(Math.Ceiling(debt * 1000.0 / BytesPerSecond));
    }
}
