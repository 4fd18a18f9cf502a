using StreamKit.Device;

namespace StreamKit.Transport;

/// <summary>
/// Migrates the state of one or more source devices to a <see cref="MigrationReceiver"/> (or into a
/// file): pre-copy while the VM runs, a switchover chosen by the caller or by convergence, stop-copy,
/// and the receiver's FINAL_ACK. A source device reset during pre-copy does not fail the migration:
/// that device's pre-copy restarts in a new epoch (DISCARD). Any other failure returns every source
/// device to RUNNING with its state intact and throws a <see cref="MigrationException"/>.
/// <code>
/// await using var sender = new MigrationSender(new SenderOptions());
/// sender.AddDevice(1, device);
/// var result = await sender.RunAsync(TransportAddress.Parse("tcp://dest:7000?channels=2"), ct);
/// </code>
/// </summary>
public sealed class MigrationSender : IAsyncDisposable
{
    private readonly SenderSession _session;
    private readonly CancellationTokenSource _disposing = new();
    private Task? _run;
    private int _disposed;

    /// <summary>Creates a sender.</summary>
    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public MigrationSender(SenderOptions options)
    {
        _session = new SenderSession(options);
    }

    /// <summary>Progress snapshots, at most about ten a second, on a timer thread.</summary>
    public event Action<MigrationProgress>? ProgressChanged
    {
        // Straight to the session: with no subscriber it takes no snapshot (no allocation ten times a second).
        add => _session.ProgressChanged += value;
        remove => _session.ProgressChanged -= value;
    }

    internal SenderSession Session => _session;

    /// <summary>Adds a source device under wire id <paramref name="id"/> (1..65535). Call before <see cref="RunAsync"/>.</summary>
    /// <exception cref="ArgumentException">The id is 0 or already used.</exception>
    /// <exception cref="InvalidOperationException">The migration has started.</exception>
    public void AddDevice(ushort id, IMigrationDevice device) => _session.AddDevice(id, device);

    /// <summary>
    /// Runs the whole migration. Returns after the receiver's FINAL_ACK (for <c>file:</c>, once the
    /// stream is durably written).
    /// </summary>
    /// <exception cref="MigrationException">The migration failed; the failure rule was applied first.</exception>
    /// <exception cref="InvalidOperationException">Called twice, or without devices.</exception>
    public Task<MigrationResult> RunAsync(TransportAddress destination, CancellationToken cancellationToken = default)
    {
        var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposing.Token);
        var task = RunCoreAsync(destination, linked);
        _run = task;
        return task;
    }

    private async Task<MigrationResult> RunCoreAsync(TransportAddress destination, CancellationTokenSource linked)
    {
        using (linked)
            return await _session.RunAsync(destination, linked.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// <see cref="SwitchoverMode.Manual"/>: stop the VM now (after SWITCHOVER_ACK, when asked for).
    /// May be called before or during <see cref="RunAsync"/>; in auto mode it switches over at once.
    /// </summary>
    public void RequestSwitchover() => _session.RequestSwitchover();

    /// <summary>
    /// As <see cref="RequestSwitchover"/>, completing when the devices are being stopped: true when the
    /// receiver's SWITCHOVER_ACK was awaited, false when the stream does not use it.
    /// </summary>
    /// <exception cref="MigrationException">The migration failed first.</exception>
    public Task<bool> RequestSwitchoverAsync(CancellationToken cancellationToken = default) => _session.RequestSwitchoverAsync(cancellationToken);

    /// <summary>A thread-safe snapshot of the migration.</summary>
    public MigrationProgress GetProgress() => _session.GetProgress();

    /// <summary>Cancels a running migration (the failure rule applies) and waits for it to finish.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _disposing.Cancel();
        if (_run is { } run)
        {
            try { await run.ConfigureAwait(false); }
            catch (MigrationException) { /* reported to the RunAsync caller */ }
        }
    }
}
