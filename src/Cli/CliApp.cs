using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using Spectre.Console;

namespace StreamKit.Cli;

/// <summary>
/// The command tree and how a command line becomes an exit code: parse errors are usage errors
/// (exit 2, with the message on stderr), --help adds the exit-code table, SIGINT/SIGTERM cancel the
/// running command (exit 130), and an exception that escapes a command is classified by <see cref="ExitCodes"/>.
/// </summary>
internal static class CliApp
{
    internal static RootCommand Build()
    {
        var root = new RootCommand(
            "streamkit: live migration of VFIO device state (VFIO migration v2) over TCP, Unix sockets and files, " +
            "with checksummed chunks, LZ4, parallel channels and discard-and-resume when a source device is reset during pre-copy.")
        {
            DemoCommand.Create(),
            SendCommand.Create(),
            ReceiveCommand.Create(),
            SaveCommand.Create(),
            RestoreCommand.Create(),
            InspectCommand.Create(),
            VerifyCommand.Create(),
            FuzzCommand.Create(),
        };
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new HelpWithExitCodes((SynchronousCommandLineAction)help.Action!);
        return root;
    }

    internal static int Run(string[] args)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not { ClearsParseErrors: true })
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine($"streamkit: {error.Message}");
            Console.Error.WriteLine($"Run '{CommandPath(parse)} --help' for usage.");
            return ExitCodes.Usage;
        }
        ConfigureConsole();
        using var signals = ProcessSignals.Install();
        try
        {
            return parse.Invoke(new InvocationConfiguration { ProcessTerminationTimeout = null, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            var (code, category) = ExitCodes.Classify(e);
            ErrorReport.Print(parse.CommandResult.Command.Name, e, category);
            return code;
        }
    }

    /// <summary>Redirected output (pipes, files, tests) gets plain text: no ANSI codes, and wide tables instead of wrapped cells.</summary>
    private static void ConfigureConsole()
    {
        if (!Console.IsOutputRedirected) return;
        AnsiConsole.Profile.Capabilities.Ansi = false;
        AnsiConsole.Profile.Capabilities.Interactive = false;
        AnsiConsole.Profile.Width = 200;
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var r = parse.CommandResult; r is not null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command is RootCommand ? "streamkit" : r.Command.Name);
        return string.Join(' ', names);
    }

    /// <summary>The standard help, then the exit-code table.</summary>
    private sealed class HelpWithExitCodes(SynchronousCommandLineAction inner) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            int result = inner.Invoke(parseResult);
            // fuzz has its own exit codes (0 nothing found, 1 findings, 2 usage), stated in its description.
            if (parseResult.CommandResult.Command.Name == "fuzz") return result;
            var output = parseResult.InvocationConfiguration.Output;
            output.WriteLine(ExitCodes.HelpText);
            output.WriteLine();
            return result;
        }
    }
}
