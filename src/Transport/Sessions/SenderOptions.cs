using StreamKit.Device;

namespace StreamKit.Transport;

/// <summary>How a <see cref="MigrationSender"/> migrates. Defaults suit a live migration over TCP.</summary>
public sealed class SenderOptions
{
    /// <summary>Payload compression (default none; zero runs are always detected).</summary>
    public PayloadCompression Compression { get; init; } = PayloadCompression.None;

    /// <summary>Largest raw bytes per chunk, i.e. per device read (default 1 MiB, as QEMU's VFIO buffer). 4 KiB..16 MiB.</summary>
    public int ChunkSize { get; init; } = 1 << 20;

    /// <summary>Who triggers the switchover (default <see cref="SwitchoverMode.Auto"/>).</summary>
    public SwitchoverMode Switchover { get; init; } = SwitchoverMode.Auto;

    /// <summary>Auto: switch over once the pending pre-copy bytes of every device sum to at most this (default 0).</summary>
    public long AutoSwitchoverPendingBytes { get; init; }

    /// <summary>Auto: switch over after this much pre-copy even if not converged (default 30 s).</summary>
    public TimeSpan MaxPrecopyTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Wait for the receiver's SWITCHOVER_ACK before stopping the devices (default true; ignored for file:).</summary>
    public bool WaitForSwitchoverAck { get; init; } = true;

    /// <summary>Connection settings: TLS, bandwidth limit, timeouts.</summary>
    public TransportOptions Transport { get; init; } = TransportOptions.Default;

    /// <summary>
    /// Where the source devices are left after a successful migration: <see cref="MigrationState.Stop"/> (default;
    /// the VMM tears the VM down) or <see cref="MigrationState.Running"/> (demos).
    /// </summary>
    public MigrationState SourceStateAfterSuccess { get; init; } = MigrationState.Stop;

    /// <summary>First poll interval of a device at a temporary end of its pre-copy data (doubles up to 50 ms while idle; default 2 ms).</summary>
    public TimeSpan PrecopyPollInterval { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Several devices although one lacks P2P (they are then stopped without quiescing); default false.</summary>
    public bool AllowWithoutP2P { get; init; }

    /// <summary>How long to wait for FINAL_ACK once everything is sent (default 5 min; commits can be slow). Silence is caught sooner by the idle timeout.</summary>
    public TimeSpan FinalAckTimeout { get; init; } = TimeSpan.FromMinutes(5);

    internal void Validate()
    {
        if (ChunkSize is < 4096 or > 16 << 20) throw new ArgumentException("must be 4 KiB..16 MiB", nameof(ChunkSize));
        if (AutoSwitchoverPendingBytes < 0) throw new ArgumentException("must be ≥ 0", nameof(AutoSwitchoverPendingBytes));
        if (MaxPrecopyTime <= TimeSpan.Zero) throw new ArgumentException("must be positive", nameof(MaxPrecopyTime));
        if (PrecopyPollInterval <= TimeSpan.Zero || PrecopyPollInterval > TimeSpan.FromSeconds(1)) throw new ArgumentException("must be in (0, 1 s]", nameof(PrecopyPollInterval));
        if (FinalAckTimeout <= TimeSpan.Zero) throw new ArgumentException("must be positive", nameof(FinalAckTimeout));
        if (SourceStateAfterSuccess is not (MigrationState.Stop or MigrationState.Running))
            throw new ArgumentException("must be Stop or Running", nameof(SourceStateAfterSuccess));
        ArgumentNullException.ThrowIfNull(Transport);
        Transport.Validate();
    }
}
