using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Transport.Control;

namespace StreamKit.Cli;

/// <summary>
/// Runs `streamkit send --control` / `streamkit receive --control`: the control server on the Unix
/// socket, a handler of the role, and the session over the sender/receiver. The process ends when
/// the migration is over (completed, failed or cancelled) and the VMM has disconnected, or a few
/// seconds after the end; SIGINT/SIGTERM cancel a running migration. Exit codes as for --device runs.
/// </summary>
internal static class ControlHost
{
    /// <summary>How long the server stays after the end for a VMM that keeps the connection open (status is allowed after the end).</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(5);

    internal static async Task<int> RunSourceAsync(OutputMode mode, string socketPath, SenderOptions options, TransportAddress destination, CancellationToken cancellationToken)
    {
        var controlled = new SenderOptions
        {
            Compression = options.Compression,
            ChunkSize = options.ChunkSize,
            Switchover = SwitchoverMode.Manual, // only the VMM knows when it stops the vCPUs
            WaitForSwitchoverAck = options.WaitForSwitchoverAck && destination.Scheme != TransportScheme.File,
            SourceStateAfterSuccess = MigrationState.Stop,
            Transport = options.Transport,
        };
        var session = new SourceControlSession(controlled, destination);
        using var handler = new SourceControlHandler(session);
        return await ServeAsync(mode, "send", "source", socketPath, handler, session, cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<int> RunDestinationAsync(OutputMode mode, string socketPath, ReceiverOptions options, TransportAddress listen, CancellationToken cancellationToken)
    {
        var controlled = new ReceiverOptions
        {
            ReassemblyCap = options.ReassemblyCap,
            CommitTarget = MigrationState.Stop, // the VMM runs the devices when it starts the VM
            // The VMM's devices carry the name it expects (add-device "name") and no driver hint; the
            // receiver compares only what is known, so a named device must match its DEVICE_BEGIN.
            CheckDeviceIdentity = true,
            Transport = options.Transport,
        };
        await using var receiver = new MigrationReceiver(controlled);
        try
        {
            var endpoint = await receiver.ListenAsync(listen, cancellationToken).ConfigureAwait(false);
            if (listen.Scheme != TransportScheme.File) MigrationRuns.PrintListening(mode, MigrationRuns.BoundAddress(listen, endpoint));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new MigrationReport(mode, "receive", "receiver", []).Failure(e);
        }
        var session = new DestinationControlSession(receiver);
        using var handler = new DestinationControlHandler(session);
        return await ServeAsync(mode, "receive", "destination", socketPath, handler, session, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> ServeAsync(OutputMode mode, string command, string role, string socketPath, ControlHandlerBase handler,
        ControlledRun session, CancellationToken cancellationToken)
    {
        session.Events = handler.Events;
        ControlServer server;
        try
        {
            server = new ControlServer(socketPath, handler, $"streamkit {typeof(ControlHost).Assembly.GetName().Version?.ToString(3)}");
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            ErrorReport.Print(command, new CliUsageException($"--control: cannot serve on {socketPath}: {e.Message}"));
            return ExitCodes.Usage;
        }
        await using (server.ConfigureAwait(false))
        {
            server.Start();
            if (mode == OutputMode.Json)
                JsonLines.Write("control", w =>
                {
                    w.WriteString("socket", socketPath);
                    w.WriteString("role", role);
                    w.WriteNumber("pid", Environment.ProcessId);
                });
            else
                Console.Out.WriteLine($"control socket unix:{socketPath} ready (role {role}, pid {Environment.ProcessId})");
            Console.Out.Flush();

            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (cancellationToken.Register(() => cancelled.TrySetResult()))
            {
                if (await Task.WhenAny(session.Ended, cancelled.Task).ConfigureAwait(false) != session.Ended)
                {
                    // SIGINT/SIGTERM: the VMM cannot drive a migration that ends under it; cancel as for a lost connection.
                    foreach (var device in handler.Devices) device.Abort("streamkit was interrupted (signal)");
                    await session.CancelRunAsync("streamkit was interrupted (signal)").ConfigureAwait(false);
                }
            }
            var outcome = await session.Ended.ConfigureAwait(false);

            // Give the VMM time to read the terminal event (and ask for status) before the socket goes away.
            var deadline = DateTime.UtcNow + Linger;
            while (server.HasClient && DateTime.UtcNow < deadline) await Task.Delay(20, CancellationToken.None).ConfigureAwait(false);

            var report = new MigrationReport(mode, command, role == "source" ? "sender" : "receiver", []);
            return outcome.Result is { } result ? report.Success(result) : report.Failure(outcome.Error!);
        }
    }
}
