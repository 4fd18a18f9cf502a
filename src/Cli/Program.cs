namespace StreamKit.Cli;

/// <summary>Entry point of the `streamkit` command.</summary>
internal static class Program
{
    private static int Main(string[] args) => CliApp.Run(args);
}
