using System.CommandLine;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit restore --from file:/path --device SPEC...</c>: writes a saved stream into destination
/// devices, verifying every chunk before it reaches a device and committing each device only after
/// its DEVICE_END digest matched. A damaged file fails with the wire error code and offset (exit 5)
/// and the destination devices are reset.
/// </summary>
internal static class RestoreCommand
{
    internal static Command Create()
    {
        var from = new Option<string>("--from")
        {
            Description = "file:/path of a stream written by save (also a FIFO or file:/dev/stdin). One channel.",
            HelpName = "file:PATH",
            Required = true,
        };
        var devices = CommonOptions.Devices("Destination device (repeatable).");
        var commitTo = CommonOptions.CommitTo();
        var identity = CommonOptions.IdentityCheck();
        var json = CommonOptions.Json();
        var command = new Command("restore", "Restore device state from a stream file written by save.")
        {
            from, devices, commitTo, identity, json,
        };
        var transport = TransportSettings.ForFile(command, sender: false);

        command.SetAction((parse, _) =>
        {
            var mode = OutputModes.Choose(parse.GetValue(json));
            var source = MigrationRuns.Address(parse.GetValue(from)!, "--from");
            if (source.Scheme != TransportScheme.File)
                throw new CliUsageException($"restore reads file:/path, not {source}; use receive for sockets");
            var options = new ReceiverOptions
            {
                CommitTarget = CommonOptions.State(parse.GetValue(commitTo)!),
                CheckDeviceIdentity = IdentityCheck.Enabled(parse.GetValue(identity)!),
                Transport = transport.Build(parse),
            };
            return ReceiveCommand.RunAsync("restore", mode, DeviceSpec.ParseAll(parse.GetValue(devices) ?? []), options, source, parse.GetValue(identity)!);
        });
        return command;
    }
}
