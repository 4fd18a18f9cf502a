// TEMPORARY, compile-only: the fixed public session API of SESSION-DESIGN.md, so the CLI builds
// before wip/sessions lands. Deleted when wip/sessions is merged (the real types live in
// src/Transport/Sessions). Nothing here runs a migration.
#pragma warning disable CS1591
using System.Net;
using StreamKit.Device;
using StreamKit.Wire;

namespace StreamKit.Transport;

internal sealed class MigrationSender : IAsyncDisposable
{
    public MigrationSender(SenderOptions options) => _ = options;
    public void AddDevice(ushort id, IMigrationDevice device) { }
    public Task<MigrationResult> RunAsync(TransportAddress destination, CancellationToken ct = default) =>
        throw new NotSupportedException("sessions are not merged yet");
    public void RequestSwitchover() { }
    public MigrationProgress GetProgress() => new(MigrationPhase.Connecting, TimeSpan.Zero, 0, []);
    public event Action<MigrationProgress>? ProgressChanged { add { } remove { } }
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal sealed class SenderOptions
{
    public PayloadCompression Compression { get; init; }
    public int ChunkSize { get; init; } = 1 << 20;
    public SwitchoverMode Switchover { get; init; }
    public long AutoSwitchoverPendingBytes { get; init; }
    public TimeSpan MaxPrecopyTime { get; init; } = TimeSpan.FromSeconds(30);
    public bool WaitForSwitchoverAck { get; init; } = true;
    public TransportOptions Transport { get; init; } = TransportOptions.Default;
    public MigrationState SourceStateAfterSuccess { get; init; } = MigrationState.Stop;
    public TimeSpan PrecopyPollInterval { get; init; } = TimeSpan.FromMilliseconds(2);
    public bool AllowWithoutP2P { get; init; }
}

internal sealed class MigrationReceiver : IAsyncDisposable
{
    public MigrationReceiver(ReceiverOptions options) => _ = options;
    public void AddDevice(ushort id, IMigrationDevice device) { }
    public Task<EndPoint?> ListenAsync(TransportAddress listen, CancellationToken ct = default) => Task.FromResult<EndPoint?>(null);
    public Task<MigrationResult> RunAsync(CancellationToken ct = default) =>
        throw new NotSupportedException("sessions are not merged yet");
    public MigrationProgress GetProgress() => new(MigrationPhase.Connecting, TimeSpan.Zero, 0, []);
    public event Action<MigrationProgress>? ProgressChanged { add { } remove { } }
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}

internal sealed class ReceiverOptions
{
    public long ReassemblyCap { get; init; } = 64L << 20;
    public MigrationState CommitTarget { get; init; } = MigrationState.Running;
    public TransportOptions Transport { get; init; } = TransportOptions.Default;
    public bool CheckDeviceIdentity { get; init; } = true;
}

internal sealed record MigrationResult(IReadOnlyList<DeviceMigrationResult> Devices, TimeSpan Elapsed,
    long WireBytes, int Channels, Guid StreamId);

internal sealed record DeviceMigrationResult(ushort Id, string Name, string DriverHint,
    long PrecopyBytes, long StopCopyBytes, long Chunks, long WireBytes, long ZeroBytes,
    int Discards, long DiscardedBytes, TimeSpan StopCopyTime, bool Committed);

internal sealed record MigrationProgress(MigrationPhase Phase, TimeSpan Elapsed, long WireBytes,
    IReadOnlyList<DeviceProgress> Devices);

internal sealed record DeviceProgress(ushort Id, string Name, MigrationPhase Phase, uint Epoch,
    long PrecopyBytes, long StopCopyBytes, long PendingPrecopyBytes, long? StopCopyEstimate,
    int Discards, long DiscardedBytes);

internal enum MigrationPhase { Connecting, PreCopy, Switchover, StopCopy, Committing, Completed, Failed }

internal enum PayloadCompression { None, Lz4 }

internal enum SwitchoverMode { Auto, Manual }

internal enum MigrationFailureOrigin { Local, Peer, SourceDevice, DestinationDevice, Transport }

internal sealed class MigrationException(StreamErrorCode code, MigrationFailureOrigin origin, string reason)
    : Exception($"{code}: {reason}")
{
    public StreamErrorCode Code { get; } = code;
    public MigrationFailureOrigin Origin { get; } = origin;
    public string Reason { get; } = reason;
    public StreamErrorCode? PeerCode { get; }
}
