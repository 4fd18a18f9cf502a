using System.Globalization;

namespace StreamKit.Device;

/// <summary>
/// Byte sizes as people write them: <c>64MiB</c>, <c>1G</c>, <c>500MB</c>, <c>1.5GiB</c>. K/M/G/T and KiB/MiB/GiB/TiB
/// are binary, KB/MB/GB/TB decimal. One parser for device SPECs and command-line options, so both accept the same words.
/// </summary>
internal static class ByteSizeText
{
    /// <summary>The units <see cref="TryParse"/> knows, for error messages.</summary>
    internal const string Units = "B, KiB, MiB, GiB, TiB, KB, MB, GB, TB";

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says why (no exception: callers wrap it in their own typed error).</summary>
    internal static bool TryParse(string text, out long bytes, out string error)
    {
        bytes = 0;
        string t = text.Trim();
        int split = 0;
        while (split < t.Length && (char.IsAsciiDigit(t[split]) || t[split] == '.')) split++;
        if (split == 0 || !double.TryParse(t[..split], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n) || !double.IsFinite(n))
        {
            error = $"'{text}' is not a size (e.g. 64MiB, 1GiB, 500MB)";
            return false;
        }
        long unit = t[split..].Trim() switch
        {
            "" or "B" or "b" => 1,
            "K" or "k" or "KiB" or "kiB" => 1L << 10,
            "M" or "MiB" => 1L << 20,
            "G" or "GiB" => 1L << 30,
            "T" or "TiB" => 1L << 40,
            "KB" or "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "TB" => 1_000_000_000_000,
            _ => 0,
        };
        if (unit == 0)
        {
            error = $"unknown size unit '{t[split..].Trim()}' in '{text}' ({Units})";
            return false;
        }
        double value = n * unit;
        if (value >= long.MaxValue / 2 || value != Math.Floor(value))
        {
            error = $"'{text}' is not a whole byte count in range";
            return false;
        }
        bytes = (long)value;
        error = "";
        return true;
    }
}
