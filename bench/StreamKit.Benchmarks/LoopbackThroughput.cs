using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StreamKit.Transport;
using StreamKit.Wire;

namespace StreamKit.Benchmarks;

/// <summary>
/// Raw-throughput check of the connection layer (not a BenchmarkDotNet class: one fat stream is
/// measured end to end). Moves N GiB as 48-byte header + 1 MiB payload gather sends through the
/// transport (receiver parses in place through a <see cref="ReceiveWindow"/>), and the same bytes
/// through a plain blocking Socket.Send/Receive pair with 1 MiB buffers, alternating, in one process.
/// Reports GB/s (10^9 B/s) and process-wide bytes allocated per send during the timed part.
/// Run: <c>dotnet run -c Release --project bench/StreamKit.Benchmarks -- loopback [GiB] [rounds] [window block KiB] [socket buffer KiB, 0 = autotune]</c>.
/// </summary>
internal static class LoopbackThroughput
{
    private const int HeaderBytes = ChunkHeader.Size;
    private const int PayloadBytes = 1 << 20;

    /// <summary>One pool for all runs, as a process would have: the warm-up fills it, so timed runs measure steady state.</summary>
    private static readonly PinnedBufferPool Pool = new(256L << 20, 4 << 20);
    private static int WindowBlock = 1 << 20;
    private static int SocketBuffer = 4 << 20;

    public static async Task RunAsync(string[] args)
    {
        double gib = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        int rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 3;
        int sends = (int)(gib * 1024);
        WindowBlock = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) << 10 : 1 << 20;
        SocketBuffer = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) << 10 : 4 << 20;
        Console.WriteLine($"window block {WindowBlock >> 10} KiB, socket buffers {(SocketBuffer == 0 ? "autotuned" : $"{SocketBuffer >> 10} KiB")}");
        Console.WriteLine($"loopback: {sends} sends of {HeaderBytes} + {PayloadBytes} bytes ({gib} GiB payload) per run, {rounds} rounds, {Environment.ProcessorCount} CPUs");
        var results = new Dictionary<string, List<(double GBps, double AllocPerSend)>>();
        var variants = new (string Name, Func<int, Task<(TimeSpan, long)>> Run)[]
        {
            ("raw Socket tcp", n => RawAsync(AddressFamily.InterNetwork, n)),
            ("StreamKit tcp", n => TransportAsync(TransportAddress.Tcp("127.0.0.1", 0), n)),
            ("raw Socket unix", n => RawAsync(AddressFamily.Unix, n)),
            ("StreamKit unix", n => TransportAsync(TransportAddress.Unix(TempSocketPath()), n)),
            ("StreamKit tcp x2 channels", n => TransportAsync(TransportAddress.Tcp("127.0.0.1", 0, 2), n)),
        };
        // Warm-up (JIT, pools), not reported.
        foreach (var (_, run) in variants) await run(64);
        for (int round = 0; round < rounds; round++)
        {
            foreach (var (name, run) in variants)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                var (elapsed, allocated) = await run(sends);
                double gbps = (double)sends * (HeaderBytes + PayloadBytes) / elapsed.TotalSeconds / 1e9;
                double perSend = (double)allocated / sends;
                (results.TryGetValue(name, out var list) ? list : results[name] = new()).Add((gbps, perSend));
                Console.WriteLine($"  round {round}: {name,-27} {gbps,6:F2} GB/s  {perSend,8:F1} B allocated per send  ({elapsed.TotalMilliseconds:F0} ms)");
            }
        }
        Console.WriteLine();
        Console.WriteLine($"{"variant",-27} {"best GB/s",10} {"median GB/s",12} {"median B/send",14}");
        foreach (var (name, list) in results)
        {
            var rates = list.Select(r => r.GBps).OrderBy(x => x).ToArray();
            var allocs = list.Select(r => r.AllocPerSend).OrderBy(x => x).ToArray();
            Console.WriteLine($"{name,-27} {rates[^1],10:F2} {rates[rates.Length / 2],12:F2} {allocs[allocs.Length / 2],14:F1}");
        }
    }

    private static string TempSocketPath() => Path.Combine(Path.GetTempPath(), $"skb-{Guid.NewGuid():N}"[..16] + ".sock");

    /// <summary>The transport: pooled pinned buffers, header + payload gather sends, in-place parsing with leases.</summary>
    private static async Task<(TimeSpan, long)> TransportAsync(TransportAddress address, int sends)
    {
        var options = new TransportOptions { SocketBufferSize = SocketBuffer };
        var pool = Pool;
        await using var listener = TransportListener.Bind(address, options);
        var accepting = listener.AcceptAsync().AsTask();
        var preamble = new Preamble(Guid.NewGuid(), 0, 1, StreamCapabilities.None, PayloadBytes, 1, PreambleRole.Forward);
        await using var sender = await TransportConnector.ConnectAsync(listener.Address, preamble, options);
        await using var receiver = await accepting;
        int channels = sender.Count;

        // Each channel gets its share of the sends; headers and payloads live in separate pooled blocks (a real gather).
        var headers = Enumerable.Range(0, channels).Select(_ => pool.Rent(HeaderBytes)).ToArray();
        var payloads = Enumerable.Range(0, channels).Select(_ => pool.Rent(PayloadBytes)).ToArray();
        for (int c = 0; c < channels; c++)
        {
            new ChunkHeader(ChunkType.Data, 0, 1, 0, 0, 0, PayloadBytes, PayloadBytes, 0).Encode(headers[c].Span);
            payloads[c].Span.Fill((byte)c);
        }
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var receiving = Enumerable.Range(0, channels).Select(c => Task.Run(async () =>
        {
            int expected = sends / channels + (c < sends % channels ? 1 : 0);
            using var window = new ReceiveWindow(receiver[c], pool, blockSize: WindowBlock);
            for (int i = 0; i < expected; i++)
            {
                var r = await window.ReadAtLeastAsync(HeaderBytes + PayloadBytes).ConfigureAwait(false);
                if (r.Buffer.Length < HeaderBytes + PayloadBytes) throw new InvalidOperationException("stream ended early");
                var lease = window.Lease(r.Buffer.Slice(HeaderBytes, PayloadBytes));
                window.Advance(HeaderBytes + PayloadBytes);
                lease.Release(); // where a device write would happen
            }
        })).ToArray();
        var sending = Enumerable.Range(0, channels).Select(c => Task.Run(async () =>
        {
            int count = sends / channels + (c < sends % channels ? 1 : 0);
            var header = headers[c].Array.AsMemory(0, HeaderBytes);
            var payload = payloads[c].Array.AsMemory(0, PayloadBytes);
            for (int i = 0; i < count; i++) await sender[c].SendAsync(header, payload).ConfigureAwait(false);
        })).ToArray();
        await Task.WhenAll(sending);
        await Task.WhenAll(receiving);
        clock.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        foreach (var b in headers.Concat(payloads)) pool.Return(b);
        return (clock.Elapsed, allocated);
    }

    /// <summary>Plain blocking sockets, one thread each side, 1 MiB + 48 byte sends and 1 MiB receives.</summary>
    private static async Task<(TimeSpan, long)> RawAsync(AddressFamily family, int sends)
    {
        string? path = family == AddressFamily.Unix ? TempSocketPath() : null;
        EndPoint bindTo = family == AddressFamily.Unix ? new UnixDomainSocketEndPoint(path!) : new IPEndPoint(IPAddress.Loopback, 0);
        var protocol = family == AddressFamily.Unix ? ProtocolType.Unspecified : ProtocolType.Tcp;
        using var listen = new Socket(family, SocketType.Stream, protocol);
        if (SocketBuffer > 0) listen.SendBufferSize = listen.ReceiveBufferSize = SocketBuffer;
        listen.Bind(bindTo);
        listen.Listen();
        using var client = new Socket(family, SocketType.Stream, protocol);
        if (SocketBuffer > 0) client.SendBufferSize = client.ReceiveBufferSize = SocketBuffer;
        if (family != AddressFamily.Unix) client.NoDelay = true;
        await client.ConnectAsync(listen.LocalEndPoint!);
        using var server = await listen.AcceptAsync();
        long total = (long)sends * (HeaderBytes + PayloadBytes);
        var buffer = GC.AllocateUninitializedArray<byte>(HeaderBytes + PayloadBytes, pinned: true);
        var sink = GC.AllocateUninitializedArray<byte>(PayloadBytes, pinned: true);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        var receiver = new Thread(() =>
        {
            long got = 0;
            while (got < total)
            {
                int n = server.Receive(sink);
                if (n == 0) throw new InvalidOperationException("raw stream ended early");
                got += n;
            }
        });
        receiver.Start();
        for (int i = 0; i < sends; i++) client.Send(buffer);
        receiver.Join();
        clock.Stop();
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        if (path is not null) File.Delete(path);
        return (clock.Elapsed, allocated);
    }
}
