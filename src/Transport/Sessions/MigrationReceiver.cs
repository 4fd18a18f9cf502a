using System.Net;
using StreamKit.Device;

namespace StreamKit.Transport;

/// <summary>
/// Receives a migration stream from a <see cref="MigrationSender"/> (or a file it wrote) into
/// destination devices: every chunk is checked (CRCs, order, offsets, the per-device digest) before
/// its bytes are written, written straight from the receive buffers, and each device is committed
/// (RESUMING → STOP) only after its digest matched. A source reset during pre-copy (DISCARD) resets the
/// destination device and replays the new epoch. On failure every destination device is reset to its
/// previous state and a <see cref="MigrationException"/> is thrown.
/// <code>
/// await using var receiver = new MigrationReceiver(new ReceiverOptions());
/// receiver.AddDevice(1, device);
/// var endPoint = await receiver.ListenAsync(TransportAddress.Parse("tcp://0.0.0.0:7000"));
/// var result = await receiver.RunAsync(ct);
/// </code>
/// </summary>
public sealed class MigrationReceiver : IAsyncDisposable
{
    private readonly ReceiverSession _session;
    private readonly CancellationTokenSource _disposing = new();
    private Task? _run;
    private int _disposed;

    /// <summary>Creates a receiver.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public MigrationReceiver(ReceiverOptions options)
    {
        _session = new ReceiverSession(options);
    }

    /// <summary>Progress snapshots, at most about ten a second, on a timer thread.</summary>
    public event Action<MigrationProgress>? ProgressChanged
    {
        // Straight to the session: with no subscriber it takes no snapshot (no allocation ten times a second).
        add => _session.ProgressChanged += value;
        remove => _session.ProgressChanged -= value;
    }

    internal ReceiverSession Session => _session;

    /// <summary>The address actually bound (a tcp port 0 replaced by the real port), once listening.</summary>
    public TransportAddress? BoundAddress => _session.BoundAddress;

    /// <summary>Adds a destination device under wire id <paramref name="id"/>, matched to the stream's DEVICE_BEGIN of that id.</summary>
    /// <exception cref="ArgumentException">The id is 0 or already used.</exception>
    /// <exception cref="InvalidOperationException">The migration has started.</exception>
    public void AddDevice(ushort id, IMigrationDevice device) => _session.AddDevice(id, device);

    /// <summary>Binds the listen address (tcp, unix) or checks the file (file:). Returns the bound endpoint (null for file:).</summary>
    /// <exception cref="TransportException">The address is in use, invalid, or the file is missing.</exception>
    public Task<EndPoint?> ListenAsync(TransportAddress listen, CancellationToken cancellationToken = default) => _session.ListenAsync(listen, cancellationToken);

    /// <summary>After <see cref="ListenAsync"/>: accepts the stream, receives, verifies and commits. Returns after FINAL_ACK was sent.</summary>
    /// <exception cref="MigrationException">The migration failed; the destination devices were reset first.</exception>
    public Task<MigrationResult> RunAsync(CancellationToken cancellationToken = default)
    {
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        var task = RunCoreAsync(linked);
        _run = task;
        return task;
    }

    private async Task<MigrationResult> RunCoreAsync(CancellationTokenSource linked)
    {
        using (linked)
            return await _session.RunAsync(linked.Token).ConfigureAwait(false);
    }

    /// <summary>A thread-safe snapshot of the migration.</summary>
    public MigrationProgress GetProgress() => _session.GetProgress();

    /// <summary>Cancels a running migration (the failure rule applies), waits for it, and stops listening.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _disposing.Cancel();
        if (_run is { } run)
        {
            try { await run.ConfigureAwait(false); }
            catch (MigrationException) { /* reported to the RunAsync caller */ }
        }
        await _session.DisposeListenerAsync().ConfigureAwait(false);
    }
}
