using System.CommandLine;
using StreamKit.Device;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>Options several commands share. Each call creates a fresh option for one command.</summary>
internal static class CommonOptions
{
    /// <summary><c>--device SPEC</c>, repeatable.</summary>
    internal static Option<string[]> Devices(string description) => new("--device", "-d")
    {
        Description = description + " " + DeviceSpec.HelpText,
        HelpName = "SPEC",
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary><c>--json</c>.</summary>
    internal static Option<bool> Json() => new("--json")
    {
        Description = "Machine-readable output: one JSON object per line on stdout (progress events, then a final \"result\" object); messages go to stderr.",
    };

    /// <summary><c>--compress none|lz4</c>.</summary>
    internal static Option<string> Compress()
    {
        var option = new Option<string>("--compress")
        {
            Description = "Payload compression: none or lz4 (per chunk; a chunk that does not shrink is sent stored, all-zero data as ZERO_RUN).",
            DefaultValueFactory = _ => "none",
            HelpName = "none|lz4",
        };
        option.AcceptOnlyFromAmong("none", "lz4");
        return option;
    }

    /// <summary>The compression option's value.</summary>
    internal static PayloadCompression Compression(string value) => value == "lz4" ? PayloadCompression.Lz4 : PayloadCompression.None;

    /// <summary><c>--chunk-size SIZE</c>.</summary>
    internal static Option<string> ChunkSize() => new("--chunk-size")
    {
        Description = "Largest chunk payload read from a device at once (4KiB..16MiB).",
        DefaultValueFactory = _ => "1MiB",
        HelpName = "SIZE",
    };

    /// <summary>Parses and checks a --chunk-size value.</summary>
    internal static int ChunkSizeValue(string text)
    {
        long bytes = Quantities.Bytes(text, "--chunk-size");
        return bytes is >= 4096 and <= 16 << 20 ? (int)bytes : throw new CliUsageException("--chunk-size must be 4KiB..16MiB");
    }

    /// <summary><c>--control unix:/path</c>.</summary>
    internal static Option<string?> Control(string role) => new("--control")
    {
        Description = $"Serve the VMM control protocol (spec/control-protocol.md, role {role}) on this Unix socket instead of opening devices: " +
                      "the VMM adds devices with their data_fds (SCM_RIGHTS), drives every state transition itself and starts the migration. Not with --device.",
        HelpName = "unix:PATH",
    };

    /// <summary>The socket path of a --control value.</summary>
    internal static string ControlPath(string value)
    {
        var address = TransportAddress.Parse(value);
        if (address.Scheme != TransportScheme.Unix || address.Channels != 1)
            throw new CliUsageException($"--control takes unix:/path, not '{value}'");
        return address.Path!;
    }

    /// <summary><c>--source-after stop|running</c>.</summary>
    internal static Option<string> SourceAfter()
    {
        var option = new Option<string>("--source-after")
        {
            Description = "State the source devices are left in after a successful migration: stop (the VMM tears the VM down; default) or running (demos, tests).",
            DefaultValueFactory = _ => "stop",
            HelpName = "stop|running",
        };
        option.AcceptOnlyFromAmong("stop", "running");
        return option;
    }

    /// <summary><c>--commit-to running|stop</c>.</summary>
    internal static Option<string> CommitTo()
    {
        var option = new Option<string>("--commit-to")
        {
            Description = "State of each destination device after its commit (RESUMING → STOP): running (default) or stop (leave it for the VMM to start).",
            DefaultValueFactory = _ => "running",
            HelpName = "running|stop",
        };
        option.AcceptOnlyFromAmong("running", "stop");
        return option;
    }

    /// <summary>A stop|running option value.</summary>
    internal static MigrationState State(string value) => value == "running" ? MigrationState.Running : MigrationState.Stop;

    /// <summary><c>--identity-check driver|name|none</c>.</summary>
    internal static Option<string> IdentityCheck()
    {
        var option = new Option<string>("--identity-check")
        {
            Description = "What each DEVICE_BEGIN must match on its destination device: driver (the driver hint; default: real devices' names, " +
                          "mdev uuids or PCI addresses, differ between hosts), name (driver and name; simulated devices), or none. " +
                          "The driver still validates the state itself.",
            DefaultValueFactory = _ => "driver",
            HelpName = "driver|name|none",
        };
        option.AcceptOnlyFromAmong("driver", "name", "none");
        return option;
    }

    /// <summary><c>--max-precopy-time DURATION</c>.</summary>
    internal static Option<string> MaxPrecopyTime() => new("--max-precopy-time")
    {
        Description = "Automatic switchover: switch over after this long in pre-copy even if the devices have not converged.",
        DefaultValueFactory = _ => "30s",
        HelpName = "DURATION",
    };
}
