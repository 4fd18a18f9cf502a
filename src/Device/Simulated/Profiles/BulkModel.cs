namespace StreamKit.Device;

/// <summary>
/// Bulk page state for transport benchmarks: the stream is <see cref="UnitRunFormat"/> runs of 4 KiB
/// pages generated on the fly (memcpy from a small random pool), never held in memory. PRE_COPY
/// sends every page once, then pages re-dirtied meanwhile (dirty rate); a drained pre-copy stream
/// reads as a temporary end; STOP_COPY sends what is left and the end record with the state digest.
/// Resume checks every header at write time (EINVAL on a structural error, poisoning the session)
/// and every page's bytes against generate(seed, page, version); the commit fails EINVAL on any
/// content mismatch, missing page, missing end record or digest difference.
/// </summary>
internal sealed class BulkModel(SimulatedDeviceSpec spec)
    : DeviceModel(spec, profileSalt: 0x62756C6B, SimulatedDeviceSpec.PageBytes, (int)(spec.EffectiveSizeBytes / SimulatedDeviceSpec.PageBytes))
{
    internal override string DriverHint => "streamkit-sim-bulk";

    internal override MigrationFeatures NativeFeatures =>
        MigrationFeatures.StopCopy | MigrationFeatures.P2P | MigrationFeatures.PreCopy;

    internal override long FullImageBytes => LiveRunSource.FullImageBytes(UnitCount, Content.UnitSize);

    internal override SaveStream OpenSave(bool precopy) => new Save(this);

    internal override LoadStream OpenLoad() => new RunLoad(this);

    private sealed class Save(BulkModel model) : SaveStream
    {
        private readonly LiveRunSource _source = new(model);

        internal override PrecopyInfo GetPrecopyInfo()
        {
            long initial = _source.InitialUnitsLeft;
            long dirty = _source.UnitsLeft - initial;
            return new PrecopyInfo((ulong)(initial * model.Content.UnitSize), (ulong)(dirty * model.Content.UnitSize));
        }

        internal override void OnUnitDirtied(long unit) => _source.MarkDirty(unit);

        internal override long RemainingEstimate() => _source.RemainingEstimate();

        protected override int ReadCore(Span<byte> dest) => _source.Read(dest, allowEnd: StopCopy);

        protected override void OnStopCopy() { }
    }
}

/// <summary>Resume of a plain <see cref="UnitRunFormat"/> stream (bulk): structural errors EINVAL at write, the rest at commit.</summary>
internal sealed class RunLoad : LoadStream
{
    private readonly uint[] _staged;
    private readonly RunReader _reader;

    internal RunLoad(DeviceModel model)
    {
        _staged = new uint[model.UnitCount];
        _reader = new RunReader(model.Content, _staged);
    }

    internal override uint[] StagedVersions => _staged;

    protected override int WriteCore(ReadOnlySpan<byte> src) =>
        _reader.Feed(src) ? 0 : Reject(Errno.EINVAL, _reader.Problem ?? "malformed stream");

    protected override int WriteZerosCore(long count) =>
        _reader.FeedZeros(count) ? 0 : Reject(Errno.EINVAL, _reader.Problem ?? "malformed stream");

    protected override int ValidateCore() => ValidateRuns(_reader, this);

    /// <summary>Commit check shared by the run-based profiles.</summary>
    internal static int ValidateRuns(RunReader reader, LoadStream load)
    {
        if (!reader.SawEnd)
            return load.RejectAtCommit($"truncated: no end record after {reader.BytesConsumed} run bytes");
        if (reader.ContentMismatch || reader.EndMismatch)
            return load.RejectAtCommit(reader.Problem ?? "state differs from the source's");
        return 0;
    }
}
