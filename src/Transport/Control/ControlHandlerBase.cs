namespace StreamKit.Transport.Control;

/// <summary>
/// What both roles' handlers share: the device table, start/status/cancel, the terminal state
/// (learned from the completed/failed events the session publishes through <see cref="Events"/>),
/// and what a lost control connection means.
/// </summary>
internal abstract class ControlHandlerBase : IControlHandler, IControlEventSink, IDisposable
{
    private readonly object _gate = new();
    private readonly List<ControlledDevice> _devices = [];
    private IControlEventSink? _server;
    private bool _started;
    private string? _terminal;

    /// <inheritdoc/>
    public abstract ControlRole Role { get; }

    /// <summary>The session this handler drives.</summary>
    protected abstract IControlSession Session { get; }

    /// <summary>Events from the session and devices; relayed to the VMM, watched for the terminal ones.</summary>
    internal IControlEventSink Events => this;

    /// <summary>Devices in add order.</summary>
    internal IReadOnlyList<ControlledDevice> Devices { get { lock (_gate) return [.. _devices]; } }

    /// <summary>True once start succeeded.</summary>
    internal bool Started { get { lock (_gate) return _started; } }

    /// <summary>Why the migration is over (completed, failed, cancelled); null while it runs.</summary>
    internal string? Terminal { get { lock (_gate) return _terminal; } }

    /// <inheritdoc/>
    public void Attach(IControlEventSink events)
    {
        if (Interlocked.CompareExchange(ref _server, events, null) is not null)
            throw new InvalidOperationException("the handler already serves a control server");
    }

    /// <inheritdoc/>
    public bool Publish(ControlEvent controlEvent)
    {
        if (controlEvent is CompletedEvent or FailedEvent)
        {
            lock (_gate) _terminal ??= controlEvent.Name;
            if (controlEvent is FailedEvent failed)
                foreach (var device in Devices) device.Abort($"migration failed: {failed.Reason}");
        }
        return _server?.Publish(controlEvent) ?? false;
    }

    /// <inheritdoc/>
    public async ValueTask<ControlReply?> HandleAsync(ControlRequest request, CancellationToken cancellationToken)
    {
        switch (request)
        {
            case StatusRequest:
                return new StatusReply(Status());
            case StartRequest:
                ControlledDevice[] devices;
                lock (_gate)
                {
                    ThrowIfTerminal(request);
                    if (_started) throw BadState(request, "the migration was already started");
                    if (_devices.Count == 0) throw BadState(request, "add at least one device before start");
                    _started = true;
                    devices = [.. _devices];
                }
                try
                {
                    await Run(request, () => Session.StartAsync(devices, this, cancellationToken)).ConfigureAwait(false);
                }
                catch
                {
                    lock (_gate) _started = false; // nothing started: the VMM may fix the cause and retry
                    throw;
                }
                return null;
            case CancelRequest cancel:
                lock (_gate)
                {
                    ThrowIfTerminal(request);
                    _terminal = "cancelled";
                }
                await CancelAllAsync(cancel.Reason ?? "cancelled by the VMM", cancellationToken).ConfigureAwait(false);
                return null;
            default:
                return await HandleRoleAsync(request, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The role's own ops.</summary>
    protected abstract ValueTask<ControlReply?> HandleRoleAsync(ControlRequest request, CancellationToken cancellationToken);

    /// <inheritdoc/>
    public void OnDisconnected(string reason)
    {
        bool started;
        lock (_gate)
        {
            started = _started;
            if (_terminal is not null) return;
            if (!started)
            {
                // Nothing began: forget the devices (close StreamKit's fd copies) so a new connection starts clean.
                foreach (var device in _devices) device.Dispose();
                _devices.Clear();
                return;
            }
            _terminal = "control connection lost";
        }
        // The VMM is gone and nobody can drive the devices any more: a migration cannot finish.
        _ = CancelAllAsync($"control connection lost: {reason}", CancellationToken.None).AsTask();
    }

    /// <summary>Closes StreamKit's copies of every device fd not taken by the session (dispose after the session ended).</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _terminal ??= "disposed";
            foreach (var device in _devices) device.Dispose();
        }
    }

    private async ValueTask CancelAllAsync(string reason, CancellationToken cancellationToken)
    {
        foreach (var device in Devices) device.Abort(reason);
        await Session.CancelAsync(reason, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>status: session progress plus every device's counters.</summary>
    internal ControlStatus Status()
    {
        var progress = Session.GetProgress();
        var devices = Devices;
        var list = new DeviceStatus[devices.Count];
        for (int i = 0; i < list.Length; i++) list[i] = devices[i].Snapshot();
        return new ControlStatus(progress.Phase, progress.StreamBytes, progress.AckedBytes, list);
    }

    /// <summary>Adds a device built from <paramref name="request"/>; claims the request's fds only when accepted.</summary>
    protected void AddDevice(ControlRequest request, ushort id, Func<ControlledDevice> create)
    {
        lock (_gate)
        {
            ThrowIfTerminal(request);
            if (_started) throw BadState(request, "devices must be added before start");
            if (_devices.Exists(d => d.Id == id))
                throw new ControlRequestException(ControlErrorCode.DuplicateDevice, $"device {id} was already added", "device", request.Id);
            foreach (var fd in request.Fds) fd.Claim();
            _devices.Add(create());
        }
    }

    /// <summary>The device a request names, refusing unknown ids and requests after the end.</summary>
    protected ControlledDevice Device(ControlRequest request, ushort id)
    {
        lock (_gate)
        {
            ThrowIfTerminal(request);
            return _devices.Find(d => d.Id == id)
                ?? throw new ControlRequestException(ControlErrorCode.UnknownDevice, $"device {id} was never added", "device", request.Id);
        }
    }

    /// <summary>Refuses a request that needs a started, unfinished migration.</summary>
    protected void RequireRunning(ControlRequest request)
    {
        lock (_gate)
        {
            ThrowIfTerminal(request);
            if (!_started) throw BadState(request, "the migration is not started");
        }
    }

    /// <summary>Runs a session call, turning unexpected exceptions into operation-failed.</summary>
    protected static async ValueTask<T> Run<T>(ControlRequest request, Func<ValueTask<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not ControlRequestException and not OperationCanceledException)
        {
            throw new ControlRequestException(ControlErrorCode.OperationFailed, $"{request.Op} failed: {e.Message}", requestId: request.Id, inner: e);
        }
    }

    private static ValueTask Run(ControlRequest request, Func<ValueTask> call) =>
        new(Run<bool>(request, async () => { await call().ConfigureAwait(false); return true; }).AsTask());

    /// <summary>bad-state for <paramref name="request"/>.</summary>
    protected static ControlRequestException BadState(ControlRequest request, string message) =>
        new(ControlErrorCode.BadState, $"{request.Op}: {message}", requestId: request.Id);

    private void ThrowIfTerminal(ControlRequest request)
    {
        if (_terminal is not null) throw BadState(request, $"the migration is over ({_terminal})");
    }
}
