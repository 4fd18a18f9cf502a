using System.Diagnostics;
using StreamKit.Device;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// One migration as the sender runs it (the engine behind <see cref="MigrationSender"/>): connect and
/// handshake, one pump thread per device, one send loop per channel, the return-path reader, the
/// switchover, the end of the stream, FINAL_ACK; and on any failure the failure rule (ABORT where the
/// connection still works, every source device back to RUNNING with its state, a typed exception).
/// </summary>
internal sealed class SenderSession
{
    private static readonly TimeSpan AbortSendTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan LoopStopTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan PumpStopTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan MaxDecisionPollInterval = TimeSpan.FromMilliseconds(20);

    private readonly List<(ushort Id, IMigrationDevice Device)> _devices = [];
    private readonly TaskCompletionSource _switchoverRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<bool> _switchoverStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ReusableDelay _pollDelay = new();
    private SenderDevicePump[] _pumps = [];
    private ReturnPathReader? _returnPath;
    private ChannelGroup? _group;
    private volatile MigrationPhase _phase = MigrationPhase.Connecting;
    private long _startedAt;
    private int _running;

    internal SenderSession(SenderOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
    }

    internal SenderOptions Options { get; }
    internal ChannelSender[] Channels { get; private set; } = [];
    internal FlowWindow Window { get; } = new();
    internal SwitchoverGate Gate { get; private set; } = new(0);
    internal SessionFailure Failure { get; private set; } = new(sender: true, CancellationToken.None);
    internal bool PrecopyHints { get; private set; }
    internal event Action<MigrationProgress>? ProgressChanged;

    /// <summary>Bytes the pump threads allocated inside their read/send loops (tests: steady state allocates nothing).</summary>
    internal long PumpAllocatedBytes => _pumps.Sum(p => p.AllocatedWhilePumping);

    /// <summary>Device chunks sent so far.</summary>
    internal long ChunksSent => _pumps.Sum(p => p.Chunks);

    internal void AddDevice(ushort id, IMigrationDevice device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (id == 0) throw new ArgumentOutOfRangeException(nameof(id), "device ids are 1..65535 (0 means stream-scoped)");
        if (Volatile.Read(ref _running) != 0) throw new InvalidOperationException("devices must be added before RunAsync");
        if (_devices.Any(d => d.Id == id)) throw new ArgumentException($"device id {id} was already added", nameof(id));
        _devices.Add((id, device));
    }

    internal void RequestSwitchover() => _switchoverRequested.TrySetResult();

    internal async Task<bool> RequestSwitchoverAsync(CancellationToken cancellationToken)
    {
        RequestSwitchover();
        return await _switchoverStarted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    internal void OnDiscard(SenderDevicePump pump, string why)
    {
        // Nothing to do here beyond the pump's own bookkeeping: the switchover re-checks epochs
        // against the SWITCHOVER_ACK before it stops anything. Kept as the hook for tracing.
        _ = pump;
        _ = why;
    }

    internal MigrationProgress GetProgress()
    {
        long started = Volatile.Read(ref _startedAt);
        var elapsed = started == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(started);
        long wire = _group?.BytesSent ?? 0;
        var devices = _pumps.Length > 0
            ? _pumps.Select(p => p.Snapshot()).ToArray()
            : _devices.Select(d => new DeviceProgress(d.Id, d.Device.Name, _phase, 0, 0, 0, 0, null, 0, 0)).ToArray();
        return new MigrationProgress(_phase, elapsed, wire, devices);
    }

    internal async Task<MigrationResult> RunAsync(TransportAddress destination, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (Interlocked.Exchange(ref _running, 1) != 0) throw new InvalidOperationException("a MigrationSender runs once");
        if (_devices.Count == 0) throw new InvalidOperationException("no devices: call AddDevice first");
        if (_devices.Count > 1 && !Options.AllowWithoutP2P)
        {
            try { _ = new DeviceGroup(_devices.Select(d => d.Device).ToArray()); }
            catch (DeviceException e) { throw new MigrationException(StreamErrorCode.SourceDeviceFailed, MigrationFailureOrigin.SourceDevice, e.Message, e); }
        }
        if (Options.Compression == PayloadCompression.Lz4) Lz4Codec.EnsureAvailable();

        Volatile.Write(ref _startedAt, Stopwatch.GetTimestamp());
        Failure = new SessionFailure(sender: true, cancellationToken);
        using var readerStop = new CancellationTokenSource();
        Task[] loops = [];
        Task[] pumpTasks = [];
        Task? readerTask = null;
        Timer? keepalive = null;
        using var progressTimer = new Timer(static s => ((SenderSession)s!).RaiseProgress(), this, TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(100));
        try
        {
            bool file = destination.Scheme == TransportScheme.File;
            int channelCount = destination.Channels;
            bool waitForAck = Options.WaitForSwitchoverAck && !file;
            var capabilities = StreamCapabilities.PrecopyHints;
            if (!file) capabilities |= StreamCapabilities.ReturnPath;
            if (waitForAck) capabilities |= StreamCapabilities.SwitchoverAck;
            PrecopyHints = true;
            var writerOptions = new ChunkWriterOptions
            {
                MaxPayload = (uint)Math.Max(Options.ChunkSize, (int)WireLimits.MinMaxPayload),
                ChunkSize = Options.ChunkSize,
                MaxDevices = (uint)_devices.Count,
                Compress = Options.Compression == PayloadCompression.Lz4,
                Capabilities = capabilities,
            };
            var sinks = new ChunkSink[channelCount];
            for (int i = 0; i < channelCount; i++)
            {
                sinks[i] = new ChunkSink();
                sinks[i].Attach(new byte[StreamKit.Wire.Preamble.Size]); // the writers' own preambles go nowhere: the connector sends them
            }
            var writers = ChunkWriter.CreateChannels(writerOptions, sinks);

            _group = await TransportConnector.ConnectAsync(destination, writers[0].Preamble, Options.Transport, Failure.Token).ConfigureAwait(false);
            var keepaliveInterval = KeepaliveInterval(Options.Transport);
            int queueCapacity = _devices.Count * 4 + 4;
            Channels = new ChannelSender[channelCount];
            for (int i = 0; i < channelCount; i++)
                Channels[i] = new ChannelSender(i, _group[i], writers[i], sinks[i], queueCapacity, keepaliveInterval);
            Gate = new SwitchoverGate(_devices.Count);
            _pumps = _devices.Select((d, i) => new SenderDevicePump(this, i, d.Id, d.Device)).ToArray();
            // Device bytes are read() into the pumps' pinned buffers; over RDMA the adapter sends from
            // them in place once they are registered with each channel (a no-op for sockets).
            foreach (var channel in Channels)
                foreach (var pump in _pumps)
                    foreach (var buffer in pump.Buffers)
                        channel.Connection.RegisterSendBuffer(buffer);

            if (!file)
            {
                _returnPath = new ReturnPathReader(_group[0], _group.StreamId, Failure, Window, _devices.Select(d => d.Id).ToArray());
                readerTask = RunReaderAsync(_returnPath, readerStop.Token);
                var returnPreamble = await WhenOrFail(_returnPath.Preamble.WaitAsync(Options.Transport.HandshakeTimeout)).ConfigureAwait(false);
                Window.SetWindow((long)Math.Min(returnPreamble.ReceiveWindow, long.MaxValue));
            }

            _phase = MigrationPhase.PreCopy;
            loops = Channels.Select(c => c.RunAsync(Failure, readerTask)).ToArray();
            keepalive = new Timer(static s => { foreach (var c in ((SenderSession)s!).Channels) c.Wake(); }, this, keepaliveInterval / 2, keepaliveInterval / 2);
            pumpTasks = _pumps.Select(p => DedicatedThread.Run($"streamkit-pump-{p.Id}", p.Run)).ToArray();

            await SwitchoverAsync(waitForAck).ConfigureAwait(false);
            await WhenOrFail(Task.WhenAll(pumpTasks)).ConfigureAwait(false);
            ThrowIfFailed();

            _phase = MigrationPhase.Committing;
            foreach (var channel in Channels) channel.EndStream();
            await WhenOrFail(Task.WhenAll(loops)).ConfigureAwait(false);
            ThrowIfFailed();
            bool committed;
            if (file)
            {
                await _group[0].CompleteSendAsync(Failure.Token).ConfigureAwait(false);
                committed = false;
            }
            else
            {
                var final = await WhenOrFail(_returnPath!.FinalAck.WaitAsync(Options.FinalAckTimeout)).ConfigureAwait(false);
                committed = final.Status == StreamErrorCode.None;
            }
            ThrowIfFailed();
            if (Options.SourceStateAfterSuccess == MigrationState.Running)
                await DedicatedThread.Run("streamkit-source-restart", () => { foreach (var p in _pumps) p.Device.SetState(MigrationState.Running)?.Dispose(); }).ConfigureAwait(false);
            _phase = MigrationPhase.Completed;
            keepalive.Dispose();
            if (readerTask is not null) await readerTask.ConfigureAwait(false); // it ended with FINAL_ACK
            long wire = _group.BytesSent;
            await _group.DisposeAsync().ConfigureAwait(false);
            MigrationMetrics.Finished(sender: true, completed: true);
            RaiseProgress();
            return new MigrationResult(_pumps.Select(p => p.Result(committed)).ToArray(), Stopwatch.GetElapsedTime(_startedAt),
                wire, channelCount, _group.StreamId);
        }
        catch (Exception e)
        {
            Failure.Set(e is TimeoutException
                ? new MigrationException(StreamErrorCode.Timeout, MigrationFailureOrigin.Transport, "the receiver did not answer in time", e)
                : Failure.Classify(e));
            var failure = Failure.Exception!;
            keepalive?.Dispose();
            await ApplyFailureRuleAsync(failure, loops, pumpTasks).ConfigureAwait(false);
            // Let the receiver read the ABORT and answer (ERROR, then close) before channel 0 is torn down.
            if (readerTask is not null) await Task.WhenAny(readerTask, Task.Delay(AbortSendTimeout)).ConfigureAwait(false);
            readerStop.Cancel();
            if (readerTask is not null) await readerTask.ConfigureAwait(false);
            if (_group is not null) await _group.DisposeAsync().ConfigureAwait(false);
            _switchoverStarted.TrySetException(failure);
            MigrationMetrics.Finished(sender: true, completed: false);
            RaiseProgress();
            throw failure;
        }
        finally
        {
            keepalive?.Dispose();
            _pollDelay.Dispose();
            Failure.Dispose();
        }
    }

    private static async Task RunReaderAsync(ReturnPathReader reader, CancellationToken stop)
    {
        // The reader's receives must not be cancelled by the session failure (cancelling a receive aborts
        // channel 0 before the ABORT is sent); it stops when the failure rule is done or the session completes.
        await Task.Yield();
        await reader.RunAsync(stop).ConfigureAwait(false);
    }

    /// <summary>Decides, waits for SWITCHOVER_ACK, parks the pumps, quiesces and stops every device.</summary>
    private async Task SwitchoverAsync(bool waitForAck)
    {
        long precopyStarted = Stopwatch.GetTimestamp();
        while (true)
        {
            await WaitForDecisionAsync(precopyStarted).ConfigureAwait(false);
            _phase = MigrationPhase.Switchover;
            if (waitForAck) await WaitUntilAsync(() => _returnPath!.SwitchoverAckCovers(PrecopyEpochs())).ConfigureAwait(false);
            var parked = Gate.RequestPause();
            foreach (var pump in _pumps) pump.Wake();
            await WhenOrFail(parked).ConfigureAwait(false);
            if (waitForAck && !_returnPath!.SwitchoverAckCovers(PrecopyEpochs()))
            {
                // A device was reset (DISCARD) after the receiver acknowledged: its new epoch needs a new acknowledgement.
                Gate.ResumePrecopy();
                _phase = MigrationPhase.PreCopy;
                continue;
            }
            break;
        }
        var plans = await WhenOrFail(DedicatedThread.Run("streamkit-switchover", StopDevices)).ConfigureAwait(false);
        _phase = MigrationPhase.StopCopy;
        _switchoverStarted.TrySetResult(waitForAck);
        Gate.Release(plans);
    }

    /// <summary>On a dedicated thread: every device to P2P first (multi-device rule), then each to STOP_COPY.</summary>
    private IMigrationDataChannel?[] StopDevices()
    {
        var group = new DeviceGroup(_pumps.Select(p => p.Device).ToArray(), allowWithoutP2P: true);
        group.Quiesce();
        var plans = new IMigrationDataChannel?[_pumps.Length];
        try
        {
            for (int i = 0; i < _pumps.Length; i++)
            {
                Failure.Token.ThrowIfCancellationRequested();
                plans[i] = _pumps[i].Device.SetState(MigrationState.StopCopy);
            }
            return plans;
        }
        catch
        {
            foreach (var channel in plans) channel?.Dispose();
            throw;
        }
    }

    private async Task WaitForDecisionAsync(long precopyStarted)
    {
        if (Options.Switchover == SwitchoverMode.Manual)
        {
            await WhenOrFail(_switchoverRequested.Task).ConfigureAwait(false);
            return;
        }
        await WaitUntilAsync(() =>
            _switchoverRequested.Task.IsCompleted
            || Stopwatch.GetElapsedTime(precopyStarted) >= Options.MaxPrecopyTime
            || Converged()).ConfigureAwait(false);
    }

    private bool Converged()
    {
        long pending = 0;
        foreach (var pump in _pumps)
        {
            if (!pump.InitialDone) return false;
            long p = pump.PendingPrecopyBytes;
            if (p == long.MaxValue) return false;
            pending += p;
        }
        return pending <= Options.AutoSwitchoverPendingBytes;
    }

    /// <summary>
    /// True when the receiver's latest SWITCHOVER_ACK covers every pre-copy device's current epoch (a
    /// discard after it makes this false again until the next one). Thread-safe; false without a return path.
    /// </summary>
    internal bool SwitchoverAcknowledged =>
        Volatile.Read(ref _returnPath) is { } returnPath && Volatile.Read(ref _pumps) is { Length: > 0 } && returnPath.SwitchoverAckCovers(PrecopyEpochs());

    private uint?[] PrecopyEpochs() => _pumps.Select(p => p.HasPrecopy ? p.Epoch : (uint?)null).ToArray();

    /// <summary>
    /// Polls <paramref name="condition"/> from <see cref="SenderOptions.PrecopyPollInterval"/> on, doubling up to
    /// <see cref="MaxDecisionPollInterval"/>: the decision never waits long, yet a multi-second pre-copy does not
    /// wake a thread every 2 ms. The delay is reused (Task.Delay would allocate a timer per poll).
    /// </summary>
    private async Task WaitUntilAsync(Func<bool> condition)
    {
        TimeSpan interval = Options.PrecopyPollInterval;
        while (!condition())
        {
            ThrowIfFailed();
            await _pollDelay.WaitAsync(interval, Failure.Token).ConfigureAwait(false);
            if (interval < MaxDecisionPollInterval) interval = TimeSpan.FromTicks(Math.Min(interval.Ticks * 2, MaxDecisionPollInterval.Ticks));
        }
        ThrowIfFailed();
    }

    /// <summary>Awaits <paramref name="task"/> unless the session fails first (then throws the failure).</summary>
    private async Task WhenOrFail(Task task)
    {
        if (await Task.WhenAny(task, Failure.Failed).ConfigureAwait(false) != task) ThrowIfFailed();
        await task.ConfigureAwait(false);
    }

    private async Task<T> WhenOrFail<T>(Task<T> task)
    {
        if (await Task.WhenAny(task, Failure.Failed).ConfigureAwait(false) != task) ThrowIfFailed();
        return await task.ConfigureAwait(false);
    }

    private void ThrowIfFailed()
    {
        if (Failure.Exception is { } e) throw e;
    }

    /// <summary>
    /// The failure rule, sender side: stop the pumps and the send loops, ABORT on every channel that still
    /// works, then every source device back to RUNNING with its state (PRE_COPY → RUNNING; STOP_COPY →
    /// STOP → RUNNING; a refused SET is followed by a reset, which keeps the device's state).
    /// </summary>
    private async Task ApplyFailureRuleAsync(MigrationException failure, Task[] loops, Task[] pumpTasks)
    {
        _phase = MigrationPhase.Failed;
        Window.Abort();
        Gate.Abort();
        foreach (var pump in _pumps) pump.Abort();
        if (loops.Length > 0)
        {
            await Task.WhenAny(Task.WhenAll(loops), Task.Delay(LoopStopTimeout)).ConfigureAwait(false);
            // A send that does not finish means the peer is not reading: nothing more can be said on that channel.
            for (int i = 0; i < loops.Length; i++)
                if (!loops[i].IsCompleted) Channels[i].Connection.Abort("the peer stopped reading while the migration failed");
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        if (Channels.Length > 0)
            await Task.WhenAll(Channels.Select(c => c.TrySendAbortAsync(failure.Code, failure.Reason, AbortSendTimeout))).ConfigureAwait(false);
        if (pumpTasks.Length > 0)
            await Task.WhenAny(Task.WhenAll(pumpTasks), Task.Delay(PumpStopTimeout)).ConfigureAwait(false);
        await DedicatedThread.Run("streamkit-rollback", () =>
        {
            new DeviceGroup(_devices.Select(d => d.Device).ToArray(), allowWithoutP2P: true).ReturnToRunning();
        }).ConfigureAwait(false);
    }

    private void RaiseProgress()
    {
        var handler = ProgressChanged;
        if (handler is null) return;
        try { handler(GetProgress()); }
        catch (Exception) { /* a subscriber's bug must not break the migration */ }
    }

    /// <summary>PADDING keepalives well inside the idle timeout: a quarter of it, at most 5 s.</summary>
    internal static TimeSpan KeepaliveInterval(TransportOptions options)
    {
        var fiveSeconds = TimeSpan.FromSeconds(5);
        if (options.IdleReceiveTimeout == Timeout.InfiniteTimeSpan) return fiveSeconds;
        var quarter = options.IdleReceiveTimeout / 4;
        return quarter < fiveSeconds ? (quarter < TimeSpan.FromMilliseconds(20) ? TimeSpan.FromMilliseconds(20) : quarter) : fiveSeconds;
    }
}
