using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>
/// The process exit codes of every `streamkit` command. Stable: scripts branch on them. Printed by
/// <c>--help</c> (<see cref="HelpText"/>) and listed in README.md ("Exit codes"), which a test keeps equal to <see cref="Table"/>.
/// </summary>
internal static class ExitCodes
{
    /// <summary>The command did what it was asked (migration committed, stream verified).</summary>
    internal const int Success = 0;

    /// <summary>The migration started and failed; the typed reason (wire error code) is printed. Source devices are back in RUNNING, destination devices reset.</summary>
    internal const int MigrationFailed = 1;

    /// <summary>Bad command line: unknown option, bad device SPEC, bad URI, bad size, a file to read that does not exist.</summary>
    internal const int Usage = 2;

    /// <summary>A device could not be opened or used, or a device failed the migration (source device failed, destination device rejected its state).</summary>
    internal const int DeviceError = 3;

    /// <summary>A transport failure: cannot connect or listen, connection lost, timeout, TLS failure (certificate files, handshake).</summary>
    internal const int TransportError = 4;

    /// <summary>The stream is malformed: verify/inspect found a fault, or a receiver detected one (the wire error code and stream offset are printed).</summary>
    internal const int StreamError = 5;

    /// <summary>Cancelled: SIGINT/SIGTERM, or the migration was cancelled (control socket cancel).</summary>
    internal const int Cancelled = 130;

    /// <summary>The table for --help and README.md (UsageTests checks that the README's table says exactly this).</summary>
    internal static readonly (int Code, string Meaning)[] Table =
    [
        (Success, "success: migration committed on the destination / stream verified"),
        (MigrationFailed, "migration failed (the typed reason, a wire-format error code, is printed); sources back in RUNNING, destinations reset"),
        (Usage, "usage error: unknown option, bad device SPEC, bad URI or size, missing file"),
        (DeviceError, "device error: cannot open a device, source device failed, destination device rejected the state"),
        (TransportError, "transport error: connect/listen failed, connection lost, timeout, TLS failure"),
        (StreamError, "stream format error: verify/inspect found a fault, or the receiver rejected a malformed stream"),
        (Cancelled, "cancelled (SIGINT/SIGTERM, or cancel over the control socket)"),
    ];

    /// <summary>The exit-code table as --help prints it.</summary>
    internal static string HelpText =>
        "Exit codes:\n" + string.Join("\n", Table.Select(t => $"  {t.Code,3}  {t.Meaning}"));

    /// <summary>Classifies an exception: the exit code and a short category name for messages and JSON.</summary>
    internal static (int Code, string Category) Classify(Exception e) => e switch
    {
        CliUsageException or DeviceSpecException => (Usage, "usage"),
        OperationCanceledException => (Cancelled, "cancelled"),
        MigrationException m => Classify(m),
        StreamFormatException => (StreamError, "stream"),
        DeviceException => (DeviceError, "device"),
        TransportException t when t.Kind == TransportErrorKind.InvalidAddress => (Usage, "usage"),
        TransportException => (TransportError, "transport"),
        _ => (MigrationFailed, "internal"),
    };

    private static (int Code, string Category) Classify(MigrationException m)
    {
        if (m.Code == StreamErrorCode.Cancelled) return (Cancelled, "cancelled");
        // The peer failed and said why: a destination device refusing the state is still a device error here.
        if (m.PeerCode is StreamErrorCode.DeviceRejected or StreamErrorCode.SourceDeviceFailed) return (DeviceError, "device");
        if (m.Code is StreamErrorCode.DeviceRejected or StreamErrorCode.SourceDeviceFailed
            || m.Origin is MigrationFailureOrigin.SourceDevice or MigrationFailureOrigin.DestinationDevice)
            return (DeviceError, "device");
        if (m.Code is StreamErrorCode.ConnectionFailed or StreamErrorCode.Timeout || m.Origin == MigrationFailureOrigin.Transport)
            return (TransportError, "transport");
        // 1xx-4xx: this side found the stream malformed (a receiver, or restore from a damaged file);
        // a peer's report of it arrives as PeerError / PeerAborted (5xx) instead.
        if ((uint)m.Code is >= 100 and < 500)
            return (StreamError, "stream");
        return (MigrationFailed, "migration");
    }
}
