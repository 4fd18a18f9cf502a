using System.Globalization;

namespace StreamKit.Device;

/// <summary>
/// Parser for simulated-device SPEC strings.
/// <code>
/// spec       := ["sim:"] pair ("," pair)*          each key at most once, profile required
/// profile    := mtty | mlx5 | hisi | bulk
/// size       := bytes                               mlx5/hisi/bulk, multiple of 4 KiB, ≤ 64 GiB
/// ports      := 1 | 2                               mtty only
/// seed       := u64                                 default 1
/// state      := blank | u32                         initial state generation, default 1
/// zero       := fraction                            share of zero pages
/// zero-run   := int 1..65536                        zero pages come in aligned runs of that many pages (1)
/// dirty-rate := number "/s" | number "/MiB"         pages re-dirtied in PRE_COPY per second / per MiB read
/// model      := u32                                 hisi device model (match data)
/// max-record := bytes                               mlx5 destination's largest record
/// chunk      := bytes                               mlx5 source's FW_DATA record payload (≥ 64 KiB)
/// p2p, precopy := bool                              advertise the feature (default true)
/// name       := text without ',' '='
/// reset-at   := point        reset-at-bytes := bytes        reset-after := duration
/// read-error-at := point     read-errno := errno
/// write-error := errno       write-error-at := point
/// commit-error := errno      set-error := state [":" errno]   (the arc into that state fails; default EIO)
/// slow-read, slow-write := duration      repeat := int ≥ 1
/// state      := stop | running | stop-copy | resuming | running-p2p | pre-copy | pre-copy-p2p
/// bytes      := number [B | K | KiB | M | MiB | G | GiB | T | TiB | KB | MB | GB | TB]  (K/M/G binary, KB/MB/GB decimal)
/// point      := number "%" | bytes                  a fraction of the full image, or a byte offset
/// fraction   := number in [0,1] | number "%"
/// duration   := number ("us" | "ms" | "s")
/// errno      := EFAULT | ENOMEM | EINVAL | EIO | ... | decimal number
/// bool       := true | false | yes | no | on | off | 1 | 0
/// </code>
/// </summary>
internal static class SimulatedSpecParser
{
    private const string Prefix = "sim:";

    internal static SimulatedDeviceSpec Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string body = spec.Trim();
        if (body.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)) body = body[Prefix.Length..];
        if (body.Length == 0) throw new DeviceSpecException(spec, null, "empty spec; at least profile=mtty|mlx5|hisi|bulk");

        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string part in body.Split(','))
        {
            string item = part.Trim();
            int eq = item.IndexOf('=');
            if (eq <= 0) throw new DeviceSpecException(spec, item.Length == 0 ? null : item, "expected key=value");
            string key = item[..eq].Trim().ToLowerInvariant();
            string value = item[(eq + 1)..].Trim();
            if (value.Length == 0) throw new DeviceSpecException(spec, key, "empty value");
            if (!values.TryAdd(key, value)) throw new DeviceSpecException(spec, key, "given twice");
        }

        var p = new Reader(spec, values);
        SimulatedProfile profile = p.Take("profile") is { } prof
            ? prof.ToLowerInvariant() switch
            {
                "mtty" => SimulatedProfile.Mtty,
                "mlx5" => SimulatedProfile.Mlx5,
                "hisi" => SimulatedProfile.Hisi,
                "bulk" => SimulatedProfile.Bulk,
                _ => throw p.Error("profile", $"unknown profile '{prof}' (mtty, mlx5, hisi, bulk)"),
            }
            : throw new DeviceSpecException(spec, "profile", "missing; one of mtty, mlx5, hisi, bulk");

        var s = new SimulatedDeviceSpec { Profile = profile };
        if (p.Take("size") is { } size)
        {
            if (profile == SimulatedProfile.Mtty) throw p.Error("size", "mtty's size follows from ports=1|2");
            long bytes = p.Bytes("size", size);
            if (bytes <= 0 || bytes % SimulatedDeviceSpec.PageBytes != 0 || bytes > SimulatedDeviceSpec.MaxSizeBytes)
                throw p.Error("size", $"must be a positive multiple of 4 KiB up to 64 GiB, got {bytes}");
            s = s with { SizeBytes = bytes };
        }
        if (p.Take("ports") is { } ports)
        {
            if (profile != SimulatedProfile.Mtty) throw p.Error("ports", "only for profile=mtty");
            s = s with { Ports = ports is "1" or "2" ? ports[0] - '0' : throw p.Error("ports", "must be 1 or 2") };
        }
        if (p.Take("seed") is { } seed)
            s = s with { Seed = ulong.TryParse(seed, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : throw p.Error("seed", "not an unsigned 64-bit number") };
        if (p.Take("state") is { } state)
            s = s with
            {
                StateGeneration = state.Equals("blank", StringComparison.OrdinalIgnoreCase) ? 0
                    : uint.TryParse(state, NumberStyles.None, CultureInfo.InvariantCulture, out uint g) ? g
                    : throw p.Error("state", "blank or an unsigned 32-bit generation"),
            };
        if (p.Take("zero") is { } zero) s = s with { ZeroFraction = p.Fraction("zero", zero) };
        if (p.Take("zero-run") is { } zeroRun)
            s = s with { ZeroRunPages = int.TryParse(zeroRun, NumberStyles.None, CultureInfo.InvariantCulture, out int run) && run is >= 1 and <= 65536 ? run : throw p.Error("zero-run", "must be an integer 1..65536 (pages)") };
        if (p.Take("dirty-rate") is { } rate)
        {
            int slash = rate.IndexOf('/');
            if (slash < 0) throw p.Error("dirty-rate", "expected N/s or N/MiB");
            double n = p.Number("dirty-rate", rate[..slash]);
            if (n < 0 || n > 1e9) throw p.Error("dirty-rate", "out of range");
            s = rate[(slash + 1)..].ToLowerInvariant() switch
            {
                "s" => s with { DirtyUnitsPerSecond = n },
                "mib" => s with { DirtyUnitsPerMiB = n },
                _ => throw p.Error("dirty-rate", "unit must be /s or /MiB"),
            };
        }
        if (p.Take("model") is { } model)
            s = s with { Model = uint.TryParse(model, NumberStyles.None, CultureInfo.InvariantCulture, out uint m) ? m : throw p.Error("model", "not an unsigned 32-bit number") };
        if (p.Take("max-record") is { } maxRecord)
        {
            long v = p.Bytes("max-record", maxRecord);
            s = s with { MaxRecordBytes = v > 0 ? v : throw p.Error("max-record", "must be positive") };
        }
        if (p.Take("chunk") is { } chunk)
        {
            long v = p.Bytes("chunk", chunk);
            s = s with { ChunkBytes = v is >= 64 << 10 and <= 1L << 30 ? v : throw p.Error("chunk", "must be 64 KiB .. 1 GiB") };
        }
        if (p.Take("p2p") is { } p2p) s = s with { P2P = p.Bool("p2p", p2p) };
        if (p.Take("precopy") is { } pre) s = s with { PreCopy = p.Bool("precopy", pre) };
        if (p.Take("name") is { } name) s = s with { Name = name };

        var f = SimulatedFaults.None;
        string? resetAt = p.Take("reset-at"), resetAtBytes = p.Take("reset-at-bytes");
        if (resetAt is not null && resetAtBytes is not null) throw p.Error("reset-at-bytes", "give reset-at or reset-at-bytes, not both");
        if (resetAt is not null) f = f with { ResetAt = p.Point("reset-at", resetAt) };
        if (resetAtBytes is not null) f = f with { ResetAt = FaultPoint.AtBytes(p.Bytes("reset-at-bytes", resetAtBytes)) };
        if (p.Take("reset-after") is { } after) f = f with { ResetAfter = p.Duration("reset-after", after) };
        if (p.Take("read-error-at") is { } readAt) f = f with { ReadErrorAt = p.Point("read-error-at", readAt) };
        if (p.Take("read-errno") is { } readErrno) f = f with { ReadErrno = p.Errno("read-errno", readErrno) };
        if (p.Take("write-error") is { } writeErrno) f = f with { WriteErrno = p.Errno("write-error", writeErrno) };
        if (p.Take("write-error-at") is { } writeAt)
        {
            if (f.WriteErrno == 0) throw p.Error("write-error-at", "needs write-error=ERRNO");
            f = f with { WriteErrorAt = p.Point("write-error-at", writeAt) };
        }
        if (p.Take("commit-error") is { } commit) f = f with { CommitErrno = p.Errno("commit-error", commit) };
        if (p.Take("set-error") is { } setError)
        {
            string[] parts = setError.Split(':');
            if (parts.Length > 2) throw p.Error("set-error", "expected STATE or STATE:ERRNO");
            f = f with
            {
                SetErrorState = StateByName(parts[0]) ?? throw p.Error("set-error", $"unknown or unsettable state '{parts[0]}' (stop, running, stop-copy, resuming, running-p2p, pre-copy, pre-copy-p2p)"),
                SetErrno = parts.Length == 2 ? p.Errno("set-error", parts[1]) : StreamKit.Device.Errno.EIO,
            };
        }
        if (p.Take("slow-read") is { } slowRead) f = f with { SlowRead = p.Duration("slow-read", slowRead) };
        if (p.Take("slow-write") is { } slowWrite) f = f with { SlowWrite = p.Duration("slow-write", slowWrite) };
        if (p.Take("repeat") is { } repeat)
            f = f with { Repeat = int.TryParse(repeat, NumberStyles.None, CultureInfo.InvariantCulture, out int r) && r >= 1 ? r : throw p.Error("repeat", "must be an integer ≥ 1") };
        s = s with { Faults = f };

        if (values.Count > 0)
        {
            string unknown = values.Keys.First();
            throw new DeviceSpecException(spec, unknown, "unknown key");
        }
        return s;
    }

    private static readonly (string Name, MigrationState State)[] StateNames =
    [
        ("stop", MigrationState.Stop), ("running", MigrationState.Running), ("stop-copy", MigrationState.StopCopy),
        ("resuming", MigrationState.Resuming), ("running-p2p", MigrationState.RunningP2P),
        ("pre-copy", MigrationState.PreCopy), ("pre-copy-p2p", MigrationState.PreCopyP2P),
    ];

    private static MigrationState? StateByName(string name)
    {
        foreach (var (n, s) in StateNames)
            if (n.Equals(name, StringComparison.OrdinalIgnoreCase)) return s;
        return null;
    }

    internal static string StateName(MigrationState state) => StateNames.First(x => x.State == state).Name;

    internal static string FormatSize(long bytes)
    {
        string[] units = ["TiB", "GiB", "MiB", "KiB"];
        for (int i = 0; i < units.Length; i++)
        {
            long unit = 1L << (10 * (4 - i));
            if (bytes >= unit && bytes % unit == 0) return (bytes / unit).ToString(CultureInfo.InvariantCulture) + units[i];
        }
        return bytes.ToString(CultureInfo.InvariantCulture);
    }

    internal static string FormatDuration(TimeSpan t) =>
        t.Ticks % TimeSpan.TicksPerMillisecond == 0
            ? ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms"
            : ((long)(t.Ticks / 10)).ToString(CultureInfo.InvariantCulture) + "us";

    /// <summary>Takes keys out of the dictionary as they are read, so leftovers are unknown keys.</summary>
    private readonly struct Reader(string spec, Dictionary<string, string> values)
    {
        internal string? Take(string key) => values.Remove(key, out string? v) ? v : null;

        internal DeviceSpecException Error(string key, string reason) => new(spec, key, reason);

        internal double Number(string key, string text) =>
            double.TryParse(text, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d)
                ? d : throw Error(key, $"'{text}' is not a number");

        internal long Bytes(string key, string text) =>
            ByteSizeText.TryParse(text, out long bytes, out string error) ? bytes : throw Error(key, error);

        internal double Fraction(string key, string text)
        {
            double f = text.EndsWith('%') ? Number(key, text[..^1]) / 100 : Number(key, text);
            return f is >= 0 and <= 1 ? f : throw Error(key, "must be within 0..1 (or 0%..100%)");
        }

        internal FaultPoint Point(string key, string text) =>
            text.EndsWith('%') ? FaultPoint.AtFraction(Fraction(key, text)) : FaultPoint.AtBytes(Bytes(key, text));

        internal TimeSpan Duration(string key, string text)
        {
            (string num, double scale) = text switch
            {
                _ when text.EndsWith("us", StringComparison.Ordinal) => (text[..^2], 1e-6),
                _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 1e-3),
                _ when text.EndsWith('s') => (text[..^1], 1.0),
                _ => throw Error(key, "duration needs a unit: us, ms or s"),
            };
            double seconds = Number(key, num) * scale;
            return seconds <= 3600 ? TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond)) : throw Error(key, "longer than an hour");
        }

        internal int Errno(string key, string text)
        {
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n is > 0 and < 4096) return n;
            string upper = text.ToUpperInvariant();
            for (int e = 1; e < 4096; e++)
                if (StreamKit.Device.Errno.Name(e) == upper || StreamKit.Device.Errno.Name(e) == text) return e;
            throw Error(key, $"unknown errno '{text}' (use a name such as EFAULT or a number)");
        }

        internal bool Bool(string key, string text) => text.ToLowerInvariant() switch
        {
            "true" or "yes" or "on" or "1" => true,
            "false" or "no" or "off" or "0" => false,
            _ => throw Error(key, "expected true/false"),
        };
    }
}
