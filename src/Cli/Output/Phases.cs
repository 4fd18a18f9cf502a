using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>Names of migration phases in output (text and JSON).</summary>
internal static class Phases
{
    /// <summary>"pre-copy", "stop-copy", … (the control protocol's spelling).</summary>
    internal static string Name(MigrationPhase phase) => phase switch
    {
        MigrationPhase.Connecting => "connecting",
        MigrationPhase.PreCopy => "pre-copy",
        MigrationPhase.Switchover => "switchover",
        MigrationPhase.StopCopy => "stop-copy",
        MigrationPhase.Committing => "committing",
        MigrationPhase.Completed => "completed",
        MigrationPhase.Failed => "failed",
        _ => phase.ToString().ToLowerInvariant(),
    };
}
