using System.Globalization;
using StreamKit.Device;

namespace StreamKit.Cli;

/// <summary>
/// Parses the quantities the command line takes: byte sizes (<c>64MiB</c>, <c>1G</c>, <c>500MB</c>),
/// bandwidths (<c>100MiB/s</c>, <c>1Gbit/s</c>) and durations (<c>500ms</c>, <c>30s</c>, <c>2m</c>).
/// K/M/G/T and KiB/MiB/GiB/TiB are binary; KB/MB/GB/TB decimal; kbit/Mbit/Gbit decimal bits.
/// </summary>
internal static class Quantities
{
    /// <summary>Parses a byte size.</summary>
    /// <exception cref="CliUsageException">Not a size.</exception>
    internal static long Bytes(string text, string what) =>
        ByteSizeText.TryParse(text, out long bytes, out string error) ? bytes : throw new CliUsageException($"{what}: {error}");

    /// <summary>Parses a bandwidth in bytes per second; "0" or "unlimited" is 0 (no limit).</summary>
    /// <exception cref="CliUsageException">Not a bandwidth.</exception>
    internal static long BytesPerSecond(string text, string what)
    {
        string t = text.Trim();
        if (t is "0" || t.Equals("unlimited", StringComparison.OrdinalIgnoreCase)) return 0;
        if (!t.EndsWith("/s", StringComparison.Ordinal))
            throw new CliUsageException($"{what}: '{text}' needs a per-second unit, e.g. 100MiB/s or 1Gbit/s");
        string amount = t[..^2];
        foreach (var (suffix, bitsPerUnit) in new[] { ("kbit", 1e3), ("Kbit", 1e3), ("Mbit", 1e6), ("Gbit", 1e9), ("bit", 1.0) })
        {
            if (!amount.EndsWith(suffix, StringComparison.Ordinal)) continue;
            if (!double.TryParse(amount[..^suffix.Length], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double bits) || bits <= 0)
                throw new CliUsageException($"{what}: '{text}' is not a bandwidth");
            return Math.Max(1, (long)(bits * bitsPerUnit / 8));
        }
        long bytes = Bytes(amount, what);
        return bytes > 0 ? bytes : throw new CliUsageException($"{what}: must be positive (or 0 / unlimited)");
    }

    /// <summary>Parses a duration: a number with ms, s or m.</summary>
    /// <exception cref="CliUsageException">Not a duration.</exception>
    internal static TimeSpan Duration(string text, string what)
    {
        string t = text.Trim();
        (string number, double seconds) = t switch
        {
            _ when t.EndsWith("ms", StringComparison.Ordinal) => (t[..^2], 1e-3),
            _ when t.EndsWith('s') => (t[..^1], 1.0),
            _ when t.EndsWith('m') => (t[..^1], 60.0),
            _ => throw new CliUsageException($"{what}: '{text}' needs a unit: ms, s or m"),
        };
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n) || n <= 0 || n * seconds > 86400)
            throw new CliUsageException($"{what}: '{text}' is not a positive duration up to a day");
        return TimeSpan.FromSeconds(n * seconds);
    }

    /// <summary>"1.5 GiB"-style text for tables.</summary>
    internal static string FormatBytes(double bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        int i = 0;
        while (Math.Abs(bytes) >= 1024 && i < units.Length - 1) { bytes /= 1024; i++; }
        return i == 0 ? string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B") : string.Create(CultureInfo.InvariantCulture, $"{bytes:0.0#} {units[i]}");
    }

    /// <summary>"812.3 MiB/s"-style text.</summary>
    internal static string FormatRate(double bytes, TimeSpan elapsed) =>
        elapsed <= TimeSpan.Zero ? "-" : FormatBytes(bytes / elapsed.TotalSeconds) + "/s";

    /// <summary>"12.3 ms" / "1.24 s".</summary>
    internal static string FormatDuration(TimeSpan t) =>
        t.TotalSeconds >= 1 ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.00} s")
                            : string.Create(CultureInfo.InvariantCulture, $"{t.TotalMilliseconds:0.0} ms");
}
