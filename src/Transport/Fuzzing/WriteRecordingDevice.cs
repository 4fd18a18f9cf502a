using StreamKit.Device;

namespace StreamKit.Transport.Fuzzing;

/// <summary>
/// A destination device wrapper that keeps a copy of every write into its data channels, so a fuzz
/// target can check afterwards that each write was part of a CRC-verified chunk of its input.
/// </summary>
internal sealed class WriteRecordingDevice(SimulatedDevice inner) : ForwardingDevice(inner)
{
    private readonly List<byte[]> _writes = [];

    internal SimulatedDevice Inner { get; } = inner;

    /// <summary>Every write, in order (a copy of its bytes).</summary>
    internal IReadOnlyList<byte[]> Writes
    {
        get { lock (_writes) return [.. _writes]; }
    }

    protected override IMigrationDataChannel Wrap(IMigrationDataChannel channel) => new Channel(channel, this);

    private sealed class Channel(IMigrationDataChannel inner, WriteRecordingDevice owner) : ForwardingDataChannel(inner)
    {
        public override void Write(ReadOnlySpan<byte> data)
        {
            lock (owner._writes) owner._writes.Add(data.ToArray()); // recorded first: a write the device refuses still reached it
            Inner.Write(data);
        }
    }
}
