using System.Runtime.InteropServices;

namespace StreamKit.Cli;

/// <summary>
/// Process signals: SIGINT and SIGTERM cancel <see cref="Token"/> (the running command fails over
/// cleanly, applying the failure rule, and exits 130); SIGUSR1 raises <see cref="SwitchoverRequested"/>
/// (<c>send --switchover manual</c>). A second SIGINT while cancelling lets the default action kill the process.
/// </summary>
internal sealed class ProcessSignals : IDisposable
{
    /// <summary>SIGUSR1 on Linux (x86_64 and arm64).</summary>
    private const int SigUsr1 = 10;

    private static readonly CancellationTokenSource Cancellation = new();
    private readonly List<PosixSignalRegistration> _registrations = [];

    /// <summary>Cancelled by SIGINT / SIGTERM.</summary>
    internal static CancellationToken Token => Cancellation.Token;

    /// <summary>Raised (on a signal thread) for every SIGUSR1.</summary>
    internal static event Action? SwitchoverRequested;

    /// <summary>Installs the handlers for the life of the returned object.</summary>
    internal static ProcessSignals Install()
    {
        var signals = new ProcessSignals();
        if (OperatingSystem.IsWindows()) return signals;
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            signals._registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                if (Cancellation.IsCancellationRequested) return; // second signal: default action
                context.Cancel = true;
                Cancellation.Cancel();
            }));
        }
        signals._registrations.Add(PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
        {
            context.Cancel = true;
            SwitchoverRequested?.Invoke();
        }));
        return signals;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var r in _registrations) r.Dispose();
    }
}
