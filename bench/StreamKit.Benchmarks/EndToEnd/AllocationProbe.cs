using StreamKit.Device;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>
/// Steady-state allocation probe: counts the device bytes passing through a data channel and samples the
/// process-wide allocated bytes when the count crosses 25 % and 75 % of the expected total, i.e. well
/// after warm-up, pool filling and handshakes and well before the end of the stream. One thread calls
/// <see cref="Add"/> (the device pump or writer).
/// </summary>
internal sealed class AllocationProbe(long expectedBytes)
{
    private readonly long _low = expectedBytes / 4;
    private readonly long _high = expectedBytes * 3 / 4;
    private long _total;
    private long _calls;

    public long Bytes => _total;
    public long Calls => _calls;
    public long? LowAllocated { get; private set; }
    public long? HighAllocated { get; private set; }
    public long LowBytes { get; private set; }
    public long HighBytes { get; private set; }

    /// <summary>Optional type sampler, on between the two samples only.</summary>
    public AllocationSampler? Sampler { get; init; }

    public void Add(int bytes)
    {
        _calls++;
        _total += bytes;
        if (LowAllocated is null && _total >= _low)
        {
            LowAllocated = GC.GetTotalAllocatedBytes(precise: true);
            LowBytes = _total;
            Sampler?.Begin();
        }
        else if (HighAllocated is null && _total >= _high)
        {
            HighAllocated = GC.GetTotalAllocatedBytes(precise: true);
            HighBytes = _total;
            Sampler?.End();
        }
    }

    /// <summary>Allocated bytes between the two samples per <paramref name="chunkSize"/> bytes of device data, null if not both were taken.</summary>
    public double? PerChunk(int chunkSize) =>
        LowAllocated is { } lo && HighAllocated is { } hi && HighBytes > LowBytes
            ? (double)(hi - lo) / ((double)(HighBytes - LowBytes) / chunkSize)
            : null;
}

/// <summary>An <see cref="IMigrationDevice"/> that forwards everything and routes its data channels' bytes through an <see cref="AllocationProbe"/>.</summary>
internal sealed class ProbedDevice(IMigrationDevice inner, AllocationProbe probe) : IMigrationDevice
{
    public string Name => inner.Name;
    public string DriverHint => inner.DriverHint;
    public MigrationFeatures Features => inner.Features;
    public MigrationState GetState() => inner.GetState();

    public IMigrationDataChannel? SetState(MigrationState target) =>
        inner.SetState(target) is { } channel ? new ProbedChannel(channel, probe) : null;

    public ulong? GetStopCopySizeEstimate() => inner.GetStopCopySizeEstimate();
    public void Reset() => inner.Reset();
    public void Dispose() => inner.Dispose();

    private sealed class ProbedChannel(IMigrationDataChannel inner, AllocationProbe probe) : IMigrationDataChannel
    {
        public bool IsSaving => inner.IsSaving;

        public DataReadResult Read(Span<byte> buffer)
        {
            var r = inner.Read(buffer);
            if (r.Count > 0) probe.Add(r.Count);
            return r;
        }

        public void Write(ReadOnlySpan<byte> data)
        {
            inner.Write(data);
            probe.Add(data.Length);
        }

        public void WriteZeros(long count)
        {
            inner.WriteZeros(count);
            probe.Add((int)Math.Min(count, int.MaxValue));
        }

        public PrecopyInfo? GetPrecopyInfo() => inner.GetPrecopyInfo();
        public void Dispose() => inner.Dispose();
    }
}
