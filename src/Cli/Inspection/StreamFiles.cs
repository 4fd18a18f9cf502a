using System.CommandLine;
using System.Text.Json;
using StreamKit.Transport;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>The FILE arguments of inspect and verify, and how their faults are described.</summary>
internal static class StreamFiles
{
    /// <summary>Help text on channel files.</summary>
    internal const string Help =
        "Stream files: a path or file:/path. A file: save holds one channel; give every channel file of one stream " +
        "(in any order) to check a multi-channel stream captured per channel. A captured return path (preamble role 1) is checked on its own.";

    /// <summary>The FILE... argument.</summary>
    internal static Argument<string[]> Argument() => new("FILE")
    {
        Description = Help,
        Arity = ArgumentArity.OneOrMore,
    };

    /// <summary>Turns file: URIs into paths and checks the files exist.</summary>
    /// <exception cref="CliUsageException">A bad URI, or a missing file.</exception>
    internal static IReadOnlyList<string> Check(IReadOnlyList<string> arguments)
    {
        var paths = new List<string>(arguments.Count);
        foreach (string argument in arguments)
        {
            string path = argument;
            if (argument.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            {
                if (!TransportAddress.TryParse(argument, out var address, out string? error))
                    throw new CliUsageException($"bad file address '{argument}': {error}");
                path = address.Path!;
            }
            if (!File.Exists(path)) throw new CliUsageException($"no such file: {path}");
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>Reports a file that cannot be read (exit 2: it names a bad argument).</summary>
    internal static int ReportUnreadable(string command, Exception e, bool json)
    {
        if (json)
        {
            JsonLines.Write(command, w =>
            {
                w.WriteBoolean("ok", false);
                w.WriteStartObject("error");
                w.WriteString("category", "usage");
                w.WriteString("message", e.Message);
                w.WriteEndObject();
            });
        }
        Console.Error.WriteLine($"streamkit {command}: {e.Message}");
        return ExitCodes.Usage;
    }

    /// <summary>"PayloadChecksumMismatch (300) at stream offset 1234 of FILE: message".</summary>
    internal static string Describe(StreamFormatException fault, string? file)
    {
        string where = fault.StreamOffset >= 0 ? $"at stream offset {fault.StreamOffset}" : "at the end of the stream";
        if (file is not null) where += $" of {file}";
        return $"{fault.Code} ({(uint)fault.Code}) {where}: {Message(fault)}";
    }

    /// <summary>Writes <c>"error":{"code","code_value","stream_offset","file","message"}</c>.</summary>
    internal static void WriteFault(Utf8JsonWriter w, StreamFormatException fault, string? file)
    {
        w.WriteStartObject("error");
        w.WriteString("category", "stream");
        w.WriteString("code", fault.Code.ToString());
        w.WriteNumber("code_value", (uint)fault.Code);
        w.WriteNumber("stream_offset", fault.StreamOffset);
        if (file is not null) w.WriteString("file", file);
        w.WriteString("message", Message(fault));
        w.WriteEndObject();
    }

    private static string Message(StreamFormatException f)
    {
        string prefix = $"{f.Code} at stream offset {f.StreamOffset}: ";
        return f.Message.StartsWith(prefix, StringComparison.Ordinal) ? f.Message[prefix.Length..] : f.Message;
    }
}
