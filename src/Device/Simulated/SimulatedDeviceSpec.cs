using System.Globalization;
using System.Text;

namespace StreamKit.Device;

/// <summary>
/// Everything that defines a <see cref="SimulatedDevice"/>: profile, state size, seed, dynamics and
/// faults. Source and destination of a migration must use the same profile, size/ports, seed, zero
/// fraction and zero run (their content function); anything else is an incompatible destination, detected like the
/// real drivers do. Parsed from SPEC strings (see <see cref="Parse"/>); <see cref="ToString"/> gives
/// the canonical SPEC back.
/// </summary>
public sealed record SimulatedDeviceSpec
{
    /// <summary>Largest simulated state (bookkeeping is 4 bytes per 4 KiB page).</summary>
    public const long MaxSizeBytes = 64L << 30;

    /// <summary>State unit of the mlx5, hisi and bulk profiles (one page).</summary>
    public const int PageBytes = 4096;

    /// <summary>The driver behaviour.</summary>
    public SimulatedProfile Profile { get; init; }

    /// <summary>State bytes (mlx5, hisi, bulk; a multiple of 4 KiB); 0 selects the profile default
    /// (mlx5 1 MiB, hisi 64 KiB, bulk 256 MiB). mtty's size follows from <see cref="Ports"/>.</summary>
    public long SizeBytes { get; init; }

    /// <summary>mtty UART ports, 1 or 2 (60 or 96 bytes of state).</summary>
    public int Ports { get; init; } = 2;

    /// <summary>Seed of the content function and of every random choice.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Initial state: 0 = blank (all units zero, a freshly reset device), N ≥ 1 = a seeded state
    /// (different N, different state with the same content function).</summary>
    public uint StateGeneration { get; init; } = 1;

    /// <summary>Share of all-zero pages (mlx5, hisi, bulk), 0..1.</summary>
    public double ZeroFraction { get; init; }

    /// <summary>
    /// Zero pages come in aligned runs of this many pages (1 = each page decided alone, the default): the
    /// zero decision is taken per run, so real-world sparse state (unused buffers, large zero regions) can be
    /// modelled next to scattered zero pages, the worst case for zero-run elision. 1..65536.
    /// </summary>
    public int ZeroRunPages { get; init; } = 1;

    /// <summary>Pages re-dirtied per second while in PRE_COPY(_P2P).</summary>
    public double DirtyUnitsPerSecond { get; init; }

    /// <summary>Pages re-dirtied per MiB read from the saving channel while in PRE_COPY(_P2P).</summary>
    public double DirtyUnitsPerMiB { get; init; }

    /// <summary>hisi device model id carried in the match data; a different model is incompatible (EFAULT).</summary>
    public uint Model { get; init; } = 1;

    /// <summary>mlx5 destination: largest record it loads; bigger record_size ⇒ ENOMEM (real device max 4 GiB).</summary>
    public long MaxRecordBytes { get; init; } = 4L << 30;

    /// <summary>mlx5 source: FW_DATA payload bytes per record (chunk mode, real MAX_CHUNK_SIZE 8 MiB).</summary>
    public long ChunkBytes { get; init; } = 8L << 20;

    /// <summary>Advertise P2P (RUNNING_P2P, PRE_COPY_P2P). Set false to model a device without it.</summary>
    public bool P2P { get; init; } = true;

    /// <summary>Advertise PRE_COPY. Set false to model a stop-copy-only device.</summary>
    public bool PreCopy { get; init; } = true;

    /// <summary>Device name; null selects "sim-PROFILE-SEED".</summary>
    public string? Name { get; init; }

    /// <summary>Injected faults.</summary>
    public SimulatedFaults Faults { get; init; } = SimulatedFaults.None;

    /// <summary>State bytes after applying the profile default.</summary>
    public long EffectiveSizeBytes => Profile switch
    {
        SimulatedProfile.Mtty => 24 + 36L * Ports,
        _ when SizeBytes > 0 => SizeBytes,
        SimulatedProfile.Mlx5 => 1L << 20,
        SimulatedProfile.Hisi => 64L << 10,
        _ => 256L << 20,
    };

    /// <summary>
    /// Parses a SPEC such as <c>sim:profile=mlx5,size=2GiB,seed=1,reset-at=40%</c>. The "sim:" prefix is optional.
    /// Grammar: <c>["sim:"] key=value ("," key=value)*</c>, every key at most once, <c>profile</c>
    /// required; the keys and value forms are listed in spec/simulated-devices.md.
    /// </summary>
    /// <exception cref="DeviceSpecException">Unknown or repeated key, bad value, inconsistent combination.</exception>
    public static SimulatedDeviceSpec Parse(string spec) => SimulatedSpecParser.Parse(spec);

    /// <summary>The canonical SPEC (only non-default keys), accepted by <see cref="Parse"/>.</summary>
    public override string ToString()
    {
        var b = new StringBuilder("sim:profile=").Append(Profile.ToString().ToLowerInvariant());
        void Add(string key, string value) => b.Append(',').Append(key).Append('=').Append(value);
        string F(double d) => d.ToString("R", CultureInfo.InvariantCulture);
        if (Profile == SimulatedProfile.Mtty) { if (Ports != 2) Add("ports", Ports.ToString(CultureInfo.InvariantCulture)); }
        else if (SizeBytes != 0) Add("size", SimulatedSpecParser.FormatSize(SizeBytes));
        if (Seed != 1) Add("seed", Seed.ToString(CultureInfo.InvariantCulture));
        if (StateGeneration != 1) Add("state", StateGeneration == 0 ? "blank" : StateGeneration.ToString(CultureInfo.InvariantCulture));
        if (ZeroFraction != 0) Add("zero", F(ZeroFraction));
        if (ZeroRunPages != 1) Add("zero-run", ZeroRunPages.ToString(CultureInfo.InvariantCulture));
        if (DirtyUnitsPerSecond != 0) Add("dirty-rate", F(DirtyUnitsPerSecond) + "/s");
        if (DirtyUnitsPerMiB != 0) Add("dirty-rate", F(DirtyUnitsPerMiB) + "/MiB");
        if (Model != 1) Add("model", Model.ToString(CultureInfo.InvariantCulture));
        if (MaxRecordBytes != 4L << 30) Add("max-record", SimulatedSpecParser.FormatSize(MaxRecordBytes));
        if (ChunkBytes != 8L << 20) Add("chunk", SimulatedSpecParser.FormatSize(ChunkBytes));
        if (!P2P) Add("p2p", "false");
        if (!PreCopy) Add("precopy", "false");
        if (Name is not null) Add("name", Name);
        var f = Faults;
        if (f.ResetAt is { } r) Add("reset-at", r.IsFraction ? r.ToString() : SimulatedSpecParser.FormatSize(r.Bytes));
        if (f.ResetAfter is { } ra) Add("reset-after", SimulatedSpecParser.FormatDuration(ra));
        if (f.ReadErrorAt is { } re) Add("read-error-at", re.IsFraction ? re.ToString() : SimulatedSpecParser.FormatSize(re.Bytes));
        if (f.ReadErrno != Errno.EIO) Add("read-errno", Errno.Name(f.ReadErrno));
        if (f.WriteErrno != 0) Add("write-error", Errno.Name(f.WriteErrno));
        if (f.WriteErrorAt != FaultPoint.AtBytes(0))
            Add("write-error-at", f.WriteErrorAt.IsFraction ? f.WriteErrorAt.ToString() : SimulatedSpecParser.FormatSize(f.WriteErrorAt.Bytes));
        if (f.CommitErrno != 0) Add("commit-error", Errno.Name(f.CommitErrno));
        if (f.SetErrorState is { } setError)
            Add("set-error", SimulatedSpecParser.StateName(setError) + (f.SetErrno == Errno.EIO ? "" : ":" + Errno.Name(f.SetErrno)));
        if (f.SlowRead != TimeSpan.Zero) Add("slow-read", SimulatedSpecParser.FormatDuration(f.SlowRead));
        if (f.SlowWrite != TimeSpan.Zero) Add("slow-write", SimulatedSpecParser.FormatDuration(f.SlowWrite));
        if (f.Repeat != 1) Add("repeat", f.Repeat.ToString(CultureInfo.InvariantCulture));
        return b.ToString();
    }
}
