using StreamKit.Device;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>How a <see cref="MigrationReceiver"/> receives.</summary>
public sealed class ReceiverOptions
{
    /// <summary>
    /// Hard cap on forward chunk bytes held at once (queued for the device writers or waiting for an earlier
    /// chunk from another channel); announced to the sender as its window (default 64 MiB, at least 1 MiB).
    /// A window below two of the sender's chunks works but serialises the transfer.
    /// </summary>
    public long ReassemblyCap { get; init; } = WireLimits.DefaultReassemblyBytes;

    /// <summary>
    /// Where committed destination devices go once the whole stream is verified: <see cref="MigrationState.Running"/>
    /// (default) or <see cref="MigrationState.Stop"/> (left for the VMM to start).
    /// </summary>
    public MigrationState CommitTarget { get; init; } = MigrationState.Running;

    /// <summary>Connection settings: TLS, timeouts.</summary>
    public TransportOptions Transport { get; init; } = TransportOptions.Default;

    /// <summary>Check each DEVICE_BEGIN's name and driver hint against the destination device's (default true).</summary>
    public bool CheckDeviceIdentity { get; init; } = true;

    /// <summary>
    /// Fail RunAsync when the listener refuses a connection before the stream arrived (TLS failure, bad
    /// preamble), so the operator sees why the source could not connect (default true: a destination
    /// waits for one migration).
    /// </summary>
    public bool FailOnRejectedConnection { get; init; } = true;

    /// <summary>Local cap on chunk payload lengths (default 16 MiB).</summary>
    public uint MaxPayload { get; init; } = WireLimits.DefaultMaxPayload;

    /// <summary>
    /// How long a blocking channel loop holds an early chunk in place (not copied, its socket not read) waiting
    /// for the chunk before it on another channel, before it copies it into the reassembly store after all;
    /// zero copies at once. A hold ends sooner, without waiting for the bound, once no channel left can deliver
    /// that chunk (every other one has ended or holds an early chunk too). Internal: tests set it long to watch a hold.
    /// </summary>
    internal TimeSpan EarlyChunkHold { get; init; } = DefaultEarlyChunkHold;

    /// <summary>Default of <see cref="EarlyChunkHold"/>.</summary>
    internal static readonly TimeSpan DefaultEarlyChunkHold = TimeSpan.FromMilliseconds(200);

    internal void Validate()
    {
        if (EarlyChunkHold < TimeSpan.Zero || EarlyChunkHold > TimeSpan.FromHours(1)) throw new ArgumentException("must be 0..1 hour", nameof(EarlyChunkHold));
        if (ReassemblyCap < 1 << 20) throw new ArgumentException("must be at least 1 MiB", nameof(ReassemblyCap));
        if (ReassemblyCap > 1L << 40) throw new ArgumentException("must be ≤ 1 TiB", nameof(ReassemblyCap));
        if (CommitTarget is not (MigrationState.Running or MigrationState.Stop)) throw new ArgumentException("must be Running or Stop", nameof(CommitTarget));
        if (MaxPayload is < WireLimits.MinMaxPayload or > 64 << 20) throw new ArgumentException("must be 4 KiB..64 MiB", nameof(MaxPayload));
        ArgumentNullException.ThrowIfNull(Transport);
        Transport.Validate();
    }
}
