namespace StreamKit.Cli;

/// <summary>
/// <c>--switchover manual</c>: the operator decides when the source VM stops. A line on stdin (Enter)
/// or SIGUSR1 (<c>kill -USR1 PID</c>) calls the action once; later triggers are ignored.
/// </summary>
internal sealed class ManualSwitchover : IDisposable
{
    private readonly Action _switchover;
    private readonly Action<string> _notify;
    private int _fired;

    private ManualSwitchover(Action switchover, Action<string> notify)
    {
        _switchover = switchover;
        _notify = notify;
    }

    /// <summary>Starts listening on stdin and SIGUSR1; <paramref name="notify"/> is told which one fired.</summary>
    internal static ManualSwitchover Start(Action switchover, Action<string> notify)
    {
        var trigger = new ManualSwitchover(switchover, notify);
        ProcessSignals.SwitchoverRequested += trigger.OnSignal;
        // A background thread: Console.In has no cancellable read, and the process exits without waiting for it.
        new Thread(trigger.ReadStdin) { IsBackground = true, Name = "switchover stdin" }.Start();
        return trigger;
    }

    private void OnSignal() => Fire("SIGUSR1");

    private void ReadStdin()
    {
        try
        {
            if (Console.In.ReadLine() is not null) Fire("stdin");
        }
        catch (IOException)
        {
            // No usable stdin: SIGUSR1 remains.
        }
    }

    private void Fire(string source)
    {
        if (Interlocked.Exchange(ref _fired, 1) != 0) return;
        _notify(source);
        _switchover();
    }

    /// <inheritdoc/>
    public void Dispose() => ProcessSignals.SwitchoverRequested -= OnSignal;
}
