using StreamKit.Device;

namespace StreamKit.Transport.Fuzzing;

/// <summary>
/// A destination device wrapper that keeps a copy of every write into its data channels, so a fuzz
/// target can check afterwards that each write was part of a CRC-verified chunk of its input.
/// </summary>
internal sealed class WriteRecordingDevice(SimulatedDevice inner) : IMigrationDevice
{
    private readonly List<byte[]> _writes = [];

    internal SimulatedDevice Inner { get; } = inner;

    /// <summary>Every write, in order (a copy of its bytes).</summary>
    internal IReadOnlyList<byte[]> Writes
    {
        get { lock (_writes) return [.. _writes]; }
    }

    public string Name => Inner.Name;
    public string DriverHint => Inner.DriverHint;
    public MigrationFeatures Features => Inner.Features;
    public MigrationState GetState() => Inner.GetState();
    public ulong? GetStopCopySizeEstimate() => Inner.GetStopCopySizeEstimate();
    public void Reset() => Inner.Reset();
    public void Dispose() => Inner.Dispose();

    public IMigrationDataChannel? SetState(MigrationState target)
    {
        var channel = Inner.SetState(target);
        return channel is null ? null : new Channel(channel, this);
    }

    private sealed class Channel(IMigrationDataChannel inner, WriteRecordingDevice owner) : IMigrationDataChannel
    {
        public bool IsSaving => inner.IsSaving;
        public DataReadResult Read(Span<byte> buffer) => inner.Read(buffer);

        public void Write(ReadOnlySpan<byte> data)
        {
            lock (owner._writes) owner._writes.Add(data.ToArray()); // recorded first: a write the device refuses still reached it
            inner.Write(data);
        }

        public PrecopyInfo? GetPrecopyInfo() => inner.GetPrecopyInfo();
        public void Dispose() => inner.Dispose();
    }
}
