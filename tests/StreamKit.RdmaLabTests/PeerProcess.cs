using System.Diagnostics;
using System.Net;
using StreamKit.Transport.Rdma;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// A peer in a separate process, so a check can kill it (SIGKILL) mid-stream like a crashed
/// migration peer. Modes: <c>send</c> streams pattern chunks forever; <c>hold</c> receives
/// and never releases a buffer (a stuck receiver).
/// </summary>
internal sealed class PeerProcess : IDisposable
{
    private readonly Process _process;

    private PeerProcess(Process process) => _process = process;

    internal static PeerProcess Start(string mode, IPEndPoint server)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(PeerProcess).Assembly.Location);
        foreach (string arg in new[] { "--peer", mode, server.Address.ToString(), server.Port.ToString() }) info.ArgumentList.Add(arg);
        var process = Process.Start(info) ?? throw new LabCheckException("could not start the peer process");
        process.OutputDataReceived += (_, e) => { if (e.Data != null) Console.Error.WriteLine($"    peer: {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data != null) Console.Error.WriteLine($"    peer: {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new PeerProcess(process);
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

    /// <summary>The child side: <c>--peer send|hold ADDR PORT</c>.</summary>
    internal static async Task<int> RunAsync(string[] args)
    {
        var server = new IPEndPoint(IPAddress.Parse(args[1]), int.Parse(args[2]));
        var options = new RdmaChannelOptions { ReceiveBufferSize = 64 * 1024, MaxSendBufferSize = 64 * 1024, ConnectTimeout = TimeSpan.FromSeconds(30) };
        using var channel = await RdmaConnector.ConnectAsync(server, options, CancellationToken.None);
        Console.WriteLine($"connected to {server} ({args[0]})");
        switch (args[0])
        {
            case "send":
                using (var source = new InfiniteSource(51))
                    await ChunkPump.SendAsync(channel, source, long.MaxValue, new Random(52), CancellationToken.None);
                break;
            case "hold":
                var held = new List<RdmaReceivedMessage>();
                while (await channel.ReceiveAsync() is { } message) held.Add(message);
                break;
            default:
                Console.Error.WriteLine($"unknown peer mode {args[0]}");
                return 2;
        }
        return 0;
    }
}
