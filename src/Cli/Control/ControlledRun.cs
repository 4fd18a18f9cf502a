using StreamKit.Transport;
using StreamKit.Transport.Control;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>
/// What the source and destination control sessions share: the run of one sender/receiver over the
/// VMM's <see cref="ControlledDevice"/>s, its progress events (at most 10 per second), the terminal
/// completed/failed event, cancellation, and the outcome the process exits with.
/// </summary>
internal abstract class ControlledRun
{
    private static readonly TimeSpan ProgressInterval = TimeSpan.FromMilliseconds(100);
    private readonly CancellationTokenSource _cancel = new();
    private readonly TaskCompletionSource<RunOutcome> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastProgressTicks;
    private Task<MigrationResult>? _run;
    private Func<MigrationProgress>? _progress;

    /// <summary>Completes when the migration is over (completed, failed, or cancelled before it started).</summary>
    internal Task<RunOutcome> Ended => _ended.Task;

    /// <summary>Where events go when no run is attached (the control handler); set by the host.</summary>
    internal IControlEventSink? Events { get; set; }

    /// <summary>True once a run was started.</summary>
    internal bool Started => Volatile.Read(ref _run) is not null;

    /// <summary>Cancelled by <c>cancel</c>, a lost control connection, or SIGINT/SIGTERM.</summary>
    protected CancellationToken RunToken => _cancel.Token;

    /// <summary>Attaches a started run: relays its progress and publishes its end.</summary>
    protected void Attach(Task<MigrationResult> run, Func<MigrationProgress> progress, IReadOnlyList<ControlledDevice> devices, IControlEventSink events)
    {
        _progress = progress;
        Volatile.Write(ref _run, run);
        _ = run.ContinueWith(t => Finish(t, devices, events), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Relays a session progress report as a progress event, at most 10 per second.</summary>
    protected void OnProgress(MigrationProgress p, IReadOnlyList<ControlledDevice> devices, IControlEventSink events)
    {
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastProgressTicks);
        bool terminal = p.Phase is MigrationPhase.Completed or MigrationPhase.Failed;
        if (terminal || now - last < ProgressInterval.TotalMilliseconds || Interlocked.CompareExchange(ref _lastProgressTicks, now, last) != last) return;
        events.Publish(new ProgressEvent(Status(p, devices)));
    }

    /// <summary>The status reply's session-wide part.</summary>
    internal SessionProgress SessionStatus()
    {
        if (_progress is null) return new SessionProgress(_ended.Task.IsCompleted ? "failed" : "setup", 0, 0);
        var p = _progress();
        return new SessionProgress(PhaseName(p.Phase), (ulong)Math.Max(0, p.WireBytes), 0);
    }

    /// <summary>The control protocol's phase names.</summary>
    internal static string PhaseName(MigrationPhase phase) => phase switch
    {
        MigrationPhase.Connecting => "setup",
        MigrationPhase.PreCopy or MigrationPhase.Switchover => "pre-copy",
        MigrationPhase.StopCopy => "stop-copy",
        MigrationPhase.Committing => "completing",
        MigrationPhase.Completed => "completed",
        _ => "failed",
    };

    private static ControlStatus Status(MigrationProgress p, IReadOnlyList<ControlledDevice> devices) =>
        new(PhaseName(p.Phase), (ulong)Math.Max(0, p.WireBytes), 0, devices.Select(d => d.Snapshot()).ToList());

    /// <summary><c>cancel</c> / lost connection / signal: abort the run (ABORT with Cancelled) and wait briefly for it to unwind.</summary>
    internal async ValueTask CancelRunAsync(string reason)
    {
        _cancel.Cancel();
        var run = Volatile.Read(ref _run);
        if (run is null)
        {
            // Nothing was started: the migration is over without a stream.
            Events?.Publish(new FailedEvent(StreamErrorCode.Cancelled, reason));
            _ended.TrySetResult(new RunOutcome(null, new OperationCanceledException(reason)));
            return;
        }
        await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(10))).ConfigureAwait(false);
    }

    private void Finish(Task<MigrationResult> run, IReadOnlyList<ControlledDevice> devices, IControlEventSink events)
    {
        if (run.IsCompletedSuccessfully)
        {
            var result = run.Result;
            long bytes = result.Devices.Sum(d => d.PrecopyBytes + d.StopCopyBytes);
            events.Publish(new CompletedEvent(devices.Count, (ulong)Math.Max(0, bytes)));
            _ended.TrySetResult(new RunOutcome(result, null));
            return;
        }
        var error = run.Exception?.GetBaseException() ?? new OperationCanceledException("the migration was cancelled");
        var (code, message) = error switch
        {
            MigrationException m => (m.Code, m.Reason),
            OperationCanceledException => (StreamErrorCode.Cancelled, "the migration was cancelled"),
            StreamFormatException f => (f.Code, f.Message),
            _ => (StreamErrorCode.ConnectionFailed, error.Message),
        };
        events.Publish(new FailedEvent(code, message));
        _ended.TrySetResult(new RunOutcome(null, error));
    }
}

/// <summary>How a controlled migration ended: a result, or the error.</summary>
internal sealed record RunOutcome(MigrationResult? Result, Exception? Error);
