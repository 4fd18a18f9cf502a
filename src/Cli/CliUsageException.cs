namespace StreamKit.Cli;

/// <summary>The command line asks for something impossible (bad SPEC, bad URI for the command, conflicting options): exit 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
