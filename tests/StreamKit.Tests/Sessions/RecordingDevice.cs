using StreamKit.Device;
using StreamKit.Transport.Fuzzing;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// Wraps a simulated device and records every byte read from (source) or written to (destination) each
/// data session, so a test can prove that a destination only ever received bytes a source produced:
/// no unverified (e.g. corrupted in flight) byte reached the device. It also notices two writes into
/// the device at the same time (each write lingers a little to widen the window for such a race).
/// </summary>
internal sealed class RecordingDevice(SimulatedDevice inner) : ForwardingDevice(inner)
{
    private readonly List<MemoryStream> _sessions = [];
    private int _writing;
    private int _overlaps;

    /// <summary>Writes that began while another write into this device was still running.</summary>
    public int OverlappingWrites => Volatile.Read(ref _overlaps);

    public SimulatedDevice Inner { get; } = inner;

    /// <summary>Bytes of each data session, in order.</summary>
    public IReadOnlyList<byte[]> Sessions
    {
        get { lock (_sessions) return _sessions.Select(s => s.ToArray()).ToList(); }
    }

    protected override IMigrationDataChannel Wrap(IMigrationDataChannel channel)
    {
        var log = new MemoryStream();
        lock (_sessions) _sessions.Add(log);
        return new Channel(channel, log, this);
    }

    /// <summary>True when every session of <paramref name="destination"/> is a prefix of some session of <paramref name="source"/>.</summary>
    public static bool OnlyGenuineBytes(RecordingDevice source, RecordingDevice destination, out string detail)
    {
        var produced = source.Sessions;
        foreach (var (written, i) in destination.Sessions.Select((w, i) => (w, i)))
        {
            if (!produced.Any(p => p.Length >= written.Length && p.AsSpan(0, written.Length).SequenceEqual(written)))
            {
                detail = $"destination session {i} ({written.Length} bytes) is not a prefix of any of the {produced.Count} source sessions";
                return false;
            }
        }
        detail = $"{destination.Sessions.Count} destination sessions checked";
        return true;
    }

    private sealed class Channel(IMigrationDataChannel inner, MemoryStream log, RecordingDevice owner) : ForwardingDataChannel(inner)
    {
        public override DataReadResult Read(Span<byte> buffer)
        {
            var r = Inner.Read(buffer);
            if (r.Status == DataReadStatus.Data) lock (log) log.Write(buffer[..r.Count]);
            return r;
        }

        public override void Write(ReadOnlySpan<byte> data)
        {
            if (Interlocked.Increment(ref owner._writing) > 1) Interlocked.Increment(ref owner._overlaps);
            try
            {
                lock (log) log.Write(data); // recorded first: even a write the device then refuses counts as "seen"
                Thread.SpinWait(200);
                Inner.Write(data);
            }
            finally
            {
                Interlocked.Decrement(ref owner._writing);
            }
        }
    }
}
