using Spectre.Console;

namespace StreamKit.Cli;

/// <summary>How a command reports.</summary>
internal enum OutputMode
{
    /// <summary>Live progress bars and tables (stdout is a terminal).</summary>
    Live,
    /// <summary>Plain text lines (stdout redirected).</summary>
    Plain,
    /// <summary>One JSON object per line (<c>--json</c>).</summary>
    Json,
}

/// <summary>Chooses the output mode.</summary>
internal static class OutputModes
{
    /// <summary>JSON when asked; live bars on an interactive terminal; plain lines otherwise.</summary>
    internal static OutputMode Choose(bool json) =>
        json ? OutputMode.Json
        : !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive ? OutputMode.Live
        : OutputMode.Plain;
}
