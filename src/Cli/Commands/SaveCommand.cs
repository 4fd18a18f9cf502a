using System.CommandLine;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// <c>streamkit save --device SPEC... --to file:/path</c>: a migration into a file (or a FIFO, or
/// file:/dev/stdout): the same stream as on a socket, one channel, no return path. The devices are
/// pre-copied, stopped and drained; the file is complete when STREAM_END is durable (fsync).
/// </summary>
internal static class SaveCommand
{
    internal static Command Create()
    {
        var devices = CommonOptions.Devices("Source device (repeatable).");
        var to = new Option<string>("--to")
        {
            Description = "file:/path (also a FIFO or file:/dev/stdout). The file transport carries exactly one channel: " +
                          "?channels=N is refused; use send with tcp://…?channels=N for parallel connections.",
            HelpName = "file:PATH",
            Required = true,
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an existing file (default: refuse)." };
        var compress = CommonOptions.Compress();
        var chunkSize = CommonOptions.ChunkSize();
        var maxPrecopy = CommonOptions.MaxPrecopyTime();
        var sourceAfter = CommonOptions.SourceAfter();
        var json = CommonOptions.Json();
        var command = new Command("save", "Save device state into a stream file (restore, inspect and verify read it).")
        {
            devices, to, overwrite, compress, chunkSize, maxPrecopy, sourceAfter, json,
        };
        var transport = TransportSettings.ForFile(command, sender: true);

        command.SetAction(async (parse, _) =>
        {
            var destination = MigrationRuns.Address(parse.GetValue(to)!, "--to");
            if (destination.Scheme != TransportScheme.File)
                throw new CliUsageException($"save writes to file:/path, not {destination}; use send for sockets");
            if (StdoutGuard.IsStdout(destination.Path!)) StdoutGuard.ReportOnStderr();
            var mode = OutputModes.Choose(parse.GetValue(json));
            var options = new SenderOptions
            {
                Compression = CommonOptions.Compression(parse.GetValue(compress)!),
                ChunkSize = CommonOptions.ChunkSizeValue(parse.GetValue(chunkSize)!),
                MaxPrecopyTime = Quantities.Duration(parse.GetValue(maxPrecopy)!, "--max-precopy-time"),
                SourceStateAfterSuccess = CommonOptions.State(parse.GetValue(sourceAfter)!),
                WaitForSwitchoverAck = false, // a file has no return path
                Transport = transport.Build(parse, overwriteFile: parse.GetValue(overwrite)),
            };
            var specs = DeviceSpec.ParseAll(parse.GetValue(devices) ?? []);
            var opened = DeviceSpec.OpenAll(specs);
            try
            {
                return await MigrationRuns.SendAsync("save", mode, opened, options, destination, manualSwitchover: false, ProcessSignals.Token).ConfigureAwait(false);
            }
            finally
            {
                MigrationRuns.CloseAll(opened);
            }
        });
        return command;
    }
}
