using Spectre.Console;

namespace StreamKit.Cli;

/// <summary>
/// <c>save --to file:/dev/stdout</c> writes the stream to stdout (e.g. piped into ssh or into
/// <c>restore --from file:/dev/stdin</c>), so every report — text, tables, JSON lines — moves to stderr.
/// </summary>
internal static class StdoutGuard
{
    private static readonly string[] StdoutPaths = ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"];

    /// <summary>True when <paramref name="path"/> names this process's stdout.</summary>
    internal static bool IsStdout(string path) => StdoutPaths.Contains(path, StringComparer.Ordinal);

    /// <summary>Routes all command output to stderr.</summary>
    internal static void ReportOnStderr()
    {
        var stderr = new StreamWriter(Console.OpenStandardError()) { AutoFlush = true };
        Console.SetOut(stderr);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stderr),
            Ansi = AnsiSupport.No,
            Interactive = InteractionSupport.No,
        });
        JsonLines.UseStderr();
    }
}
