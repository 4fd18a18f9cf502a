using System.Diagnostics;
using System.Net;
using StreamKit.Transport.Rdma;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// A peer in a separate process, so a check can kill it (SIGKILL) mid-stream like a crashed
/// migration peer. Mode <c>both</c> opens two channels: the first streams pattern chunks
/// forever, the second receives and never releases a buffer (a stuck receiver).
/// </summary>
internal sealed class PeerProcess : IDisposable
{
    internal const ulong SendSeed = 51;
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

    /// <summary>The child side: <c>--peer both ADDR PORT</c>.</summary>
    internal static async Task<int> RunAsync(string[] args)
    {
        if (args.Length != 3 || args[0] != "both")
        {
            Console.Error.WriteLine("usage: --peer both ADDR PORT");
            return 2;
        }
        var server = new IPEndPoint(IPAddress.Parse(args[1]), int.Parse(args[2]));
        var options = new RdmaChannelOptions { ReceiveBufferSize = 64 * 1024, MaxSendBufferSize = 64 * 1024, ConnectTimeout = TimeSpan.FromSeconds(30) };
        using var sending = await RdmaConnector.ConnectAsync(server, options, CancellationToken.None);
        using var holding = await RdmaConnector.ConnectAsync(server, options, CancellationToken.None);
        Console.WriteLine($"connected twice to {server}");
        var held = new List<RdmaReceivedMessage>();
        var hold = Task.Run(async () =>
        {
            while (await holding.ReceiveAsync() is { } message) held.Add(message);
        });
        using var source = new InfiniteSource(SendSeed);
        await Task.WhenAll(ChunkPump.SendAsync(sending, source, long.MaxValue, new Random(52), CancellationToken.None), hold);
        return 0;
    }
}
