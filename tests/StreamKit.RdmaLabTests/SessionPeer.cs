using System.Diagnostics;
using System.Globalization;
using StreamKit.Device;
using StreamKit.Transport;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// The other end of a session in its own process, so a check can SIGKILL it mid-stream like a
/// crashed migration peer: <c>--session-peer receive ADDR</c> listens on rdma://ADDR:0 (prints
/// <c>LISTENING port</c>) and receives into a blank simulated device;
/// <c>--session-peer send ADDR PORT</c> migrates the slow simulated source over two channels.
/// </summary>
internal sealed class SessionPeer : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly SemaphoreSlim _lineArrived = new(0);

    private SessionPeer(Process process) => _process = process;

    internal static SessionPeer Start(string[] args)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(SessionPeer).Assembly.Location);
        info.ArgumentList.Add("--session-peer");
        foreach (string arg in args) info.ArgumentList.Add(arg);
        var process = Process.Start(info) ?? throw new LabCheckException("could not start the session peer process");
        var peer = new SessionPeer(process);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (peer._lines) peer._lines.Add(e.Data);
            peer._lineArrived.Release();
            Console.Error.WriteLine($"    peer: {e.Data}");
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) Console.Error.WriteLine($"    peer: {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return peer;
    }

    /// <summary>The rest of the first output line starting with <paramref name="prefix"/>.</summary>
    internal async Task<string> WaitForLineAsync(string prefix, CancellationToken ct)
    {
        while (true)
        {
            lock (_lines)
                if (_lines.FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal)) is { } line) return line[prefix.Length..].Trim();
            if (_process.HasExited) throw new LabCheckException($"the peer exited ({_process.ExitCode}) before printing '{prefix}'");
            await _lineArrived.WaitAsync(TimeSpan.FromMilliseconds(200), ct);
        }
    }

    /// <summary>SIGKILL: no cleanup runs in the peer; the kernel tears its RDMA resources down.</summary>
    internal void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited) Kill();
        _process.Dispose();
    }

    /// <summary>The child side.</summary>
    internal static async Task<int> RunAsync(string[] args)
    {
        try
        {
            switch (args)
            {
                case ["receive", string host]:
                {
                    using var destination = SimulatedDevice.Create(SessionChecks.SlowDestination);
                    await using var receiver = new MigrationReceiver(SessionChecks.Receiver());
                    receiver.AddDevice(1, destination);
                    await receiver.ListenAsync(TransportAddress.Parse($"rdma://{host}:0"));
                    Console.WriteLine($"LISTENING {receiver.BoundAddress!.Port.ToString(CultureInfo.InvariantCulture)}");
                    await receiver.RunAsync();
                    return 0;
                }
                case ["send", string host, string port]:
                {
                    using var source = SimulatedDevice.Create(SessionChecks.SlowSource);
                    await using var sender = new MigrationSender(SessionChecks.Sender());
                    sender.AddDevice(1, source);
                    Console.WriteLine("SENDING");
                    var run = sender.RunAsync(TransportAddress.Parse($"rdma://{host}:{port}?channels=2"));
                    while (!run.IsCompleted)
                    {
                        // Diagnostics for the parent's log: where the sender is, and each channel's credit state.
                        await Task.WhenAny(run, Task.Delay(2000));
                        var progress = sender.GetProgress();
                        var channels = sender.Session.Channels.Select(c => c.Connection).OfType<RdmaConnection>().Select(c => c.Channel.Counters.ToString());
                        Console.WriteLine($"progress {progress.Phase} {progress.WireBytes} B; {string.Join(" | ", channels)}");
                    }
                    await run;
                    return 0;
                }
                default:
                    Console.Error.WriteLine("usage: --session-peer receive ADDR | --session-peer send ADDR PORT");
                    return 2;
            }
        }
        catch (Exception e)
        {
            Console.WriteLine($"FAILED {e.GetType().Name}: {e.Message}");
            return 1;
        }
    }
}
