using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using StreamKit.Device;
using StreamKit.Transport;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>
/// One side of one e2e pipeline, in its own process (<c>e2e-child SPEC</c>), so CPU time, allocations and
/// peak RSS are this side's alone. Control protocol on stdout (stderr for gen, whose stdout is data):
/// the sender prints <c>WAITING</c> once its source device exists and starts on a <c>GO port</c> line
/// from stdin; the receiver prints <c>READY port</c> once it listens; both end each transfer with
/// <c>DONE {json}</c> (<see cref="ChildReport"/>) or <c>FAIL text</c>. With a warm-up, the same pair
/// of processes first moves a small state the same way, untimed.
/// </summary>
internal static class E2eChild
{
    private static TextWriter _control = Console.Out;

    public static async Task<int> RunAsync(string[] args)
    {
        var spec = E2eRunSpec.Decode(args[1]);
        _control = spec.ControlOnStderr ? Console.Error : Console.Out;
        try
        {
            bool warm = spec.WarmupBytes > 0 && spec.Role is "sender" or "receiver";
            if (warm) await PhaseAsync(spec, spec.WarmupBytes, timed: false);
            await PhaseAsync(spec, spec.SizeBytes, timed: true);
            return 0;
        }
        catch (Exception e)
        {
            Control("FAIL " + e.ToString().ReplaceLineEndings(" | "));
            return 1;
        }
    }

    private static void Control(string line)
    {
        _control.WriteLine(line);
        _control.Flush();
    }

    private static async Task PhaseAsync(E2eRunSpec spec, long bytes, bool timed)
    {
        var report = spec.Role switch
        {
            "sender" or "gen" => await SendPhaseAsync(spec, bytes, timed),
            "receiver" or "sink" => await ReceivePhaseAsync(spec, bytes, timed),
            _ => throw new ArgumentException($"unknown role {spec.Role}"),
        };
        if (timed && Environment.GetEnvironmentVariable("STREAMKIT_E2E_THREADS") == "1")
            foreach (var line in ProcFs.ThreadSwitches()) Console.Error.WriteLine($"threads[{spec.Role}] {line}");
        Control("DONE " + JsonSerializer.Serialize(report));
    }

    // ---------------------------------------------------------------- sender side

    private static async Task<ChildReport> SendPhaseAsync(E2eRunSpec spec, long bytes, bool timed)
    {
        using var device = new SimulatedDevice(SimulatedDeviceSpec.Parse(spec.DeviceSpec(bytes)));
        string digest = device.StateDigest.ToString("x16", CultureInfo.InvariantCulture);
        long image = (long)device.GetStopCopySizeEstimate()!.Value;
        using var sampler = timed ? AllocationSampler.StartIfRequested() : null;
        var probe = new AllocationProbe(image) { Sampler = sampler };
        var probed = new ProbedDevice(device, probe);
        if (timed)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ProcFs.ResetPeakRss();
        }
        long rssStart = ProcFs.StatusKiB("VmRSS");
        Control("WAITING");
        string go = Console.ReadLine() ?? throw new InvalidOperationException("stdin closed before GO");
        if (!go.StartsWith("GO ", StringComparison.Ordinal)) throw new InvalidOperationException($"expected GO, got '{go}'");
        int port = int.Parse(go[3..], CultureInfo.InvariantCulture);

        var before = ProcessSnapshot.Take();
        (long wire, long chunks, long zero, long deviceBytes) = spec.Variant switch
        {
            E2eVariant.StreamKit => await StreamKitSendAsync(spec, probed, port),
            E2eVariant.Raw => RawSend(spec, probed, port),
            E2eVariant.Naive => NaiveSend(spec, probed, port),
            E2eVariant.Lz4Socat => GenToStdout(spec, probed),
            _ => throw new ArgumentException($"unknown variant {spec.Variant}"),
        };
        var after = ProcessSnapshot.Take();
        sampler?.Report(spec.Role);
        return Report(spec, timed, before, after, probe, rssStart) with
        {
            DeviceBytes = deviceBytes,
            WireBytes = wire,
            Chunks = chunks,
            ZeroBytes = zero,
            Digest = digest,
        };
    }

    private static async Task<(long, long, long, long)> StreamKitSendAsync(E2eRunSpec spec, IMigrationDevice device, int port)
    {
        var options = new SenderOptions
        {
            ChunkSize = spec.ChunkSize,
            Compression = spec.Lz4 ? PayloadCompression.Lz4 : PayloadCompression.None,
            MaxPrecopyTime = TimeSpan.FromHours(1),
            FinalAckTimeout = TimeSpan.FromMinutes(10),
            // Same buffers as raw; the emulated link, if any, is the same token bucket raw paces with.
            Transport = new TransportOptions { SocketBufferSize = spec.SocketBuffer, BandwidthLimit = spec.LinkRate },
        };
        await using var sender = new MigrationSender(options);
        sender.AddDevice(1, device);
        var result = await sender.RunAsync(TransportAddress.Tcp("127.0.0.1", port, spec.Channels));
        var d = result.Devices[0];
        return (result.WireBytes, d.Chunks, d.ZeroBytes, d.PrecopyBytes + d.StopCopyBytes);
    }

    private static SourceReader OpenSource(IMigrationDevice device) =>
        new(device.SetState(MigrationState.StopCopy) ?? throw new InvalidOperationException("STOP_COPY opened no data channel"));

    private static Socket Connect(E2eRunSpec spec, int port, bool tuned)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (tuned && spec.SocketBuffer > 0)
        {
            socket.SendBufferSize = spec.SocketBuffer;
            socket.ReceiveBufferSize = spec.SocketBuffer;
        }
        socket.Connect(IPAddress.Loopback, port);
        return socket;
    }

    private static void SendAll(Socket socket, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty) data = data[socket.Send(data)..];
    }

    /// <summary>Raw: N connections, chunk k on connection k mod N, each chunk full-size except the last (the order is implicit).</summary>
    private static (long, long, long, long) RawSend(E2eRunSpec spec, IMigrationDevice device, int port)
    {
        var source = OpenSource(device);
        int n = spec.Channels;
        var sockets = new Socket[n];
        Span<byte> index = stackalloc byte[4];
        for (int i = 0; i < n; i++)
        {
            sockets[i] = Connect(spec, port, tuned: true);
            BitConverter.TryWriteBytes(index, i);
            SendAll(sockets[i], index);
        }
        long chunks = 0;
        // The emulated link: the bucket StreamKit's BandwidthLimit uses, with its default burst.
        var link = spec.LinkRate > 0 ? ConnectionSettings.CreateBucket(new TransportOptions { BandwidthLimit = spec.LinkRate }) : null;
        if (n == 1)
        {
            var buffer = GC.AllocateUninitializedArray<byte>(spec.ChunkSize, pinned: true);
            while (true)
            {
                int got = source.ReadFull(buffer);
                if (got == 0) break;
                chunks++;
                Pace(link, got);
                SendAll(sockets[0], buffer.AsSpan(0, got));
                if (got < buffer.Length) break;
            }
        }
        else
        {
            var queues = Enumerable.Range(0, n).Select(_ => new Handoff(2, spec.ChunkSize)).ToArray();
            var senders = Enumerable.Range(0, n).Select(i => StartThread($"raw-send-{i}", () =>
            {
                while (true)
                {
                    var (buffer, length) = queues[i].TakeFull();
                    Pace(link, length);
                    SendAll(sockets[i], buffer.AsSpan(0, length));
                    queues[i].PutFree(buffer);
                    if (length < spec.ChunkSize) return;
                }
            })).ToArray();
            for (long k = 0; ; k++)
            {
                var q = queues[k % n];
                var buffer = q.TakeFree();
                int got = source.ReadFull(buffer);
                q.PutFull(buffer, got);
                if (got > 0) chunks++;
                if (got < buffer.Length)
                {
                    // End: every other connection gets an empty last chunk so its thread finishes.
                    for (long j = 1; j < n; j++)
                    {
                        var other = queues[(k + j) % n];
                        other.PutFull(other.TakeFree(), 0);
                    }
                    break;
                }
            }
            foreach (var t in senders) t.Join();
        }
        foreach (var s in sockets) s.Shutdown(SocketShutdown.Send);
        foreach (var s in sockets)
        {
            WaitForPeerClose(s);
            s.Dispose();
        }
        return (source.Bytes, chunks, 0, source.Bytes);
    }

    private static void Pace(TokenBucket? link, int bytes)
    {
        if (link is null || bytes == 0) return;
        var wait = link.Reserve(bytes);
        if (wait > TimeSpan.Zero) Thread.Sleep(wait);
    }

    /// <summary>The receiver closes once it has committed: the sender's time includes the whole transfer, as StreamKit's FINAL_ACK wait does.</summary>
    private static void WaitForPeerClose(Socket socket)
    {
        Span<byte> one = stackalloc byte[1];
        try { while (socket.Receive(one) > 0) { } }
        catch (SocketException) { }
    }

    private static (long, long, long, long) NaiveSend(E2eRunSpec spec, IMigrationDevice device, int port)
    {
        var source = OpenSource(device);
        using var client = new TcpClient();
        client.Connect(IPAddress.Loopback, port);
        using (var network = client.GetStream())
        {
            new DeviceReadStream(source).CopyTo(network, spec.ChunkSize);
            client.Client.Shutdown(SocketShutdown.Send);
            WaitForPeerClose(client.Client);
        }
        return (source.Bytes, (source.Bytes + spec.ChunkSize - 1) / spec.ChunkSize, 0, source.Bytes);
    }

    private static (long, long, long, long) GenToStdout(E2eRunSpec spec, IMigrationDevice device)
    {
        var source = OpenSource(device);
        using var stdout = Console.OpenStandardOutput();
        new DeviceReadStream(source).CopyTo(stdout, spec.ChunkSize);
        stdout.Flush();
        return (source.Bytes, (source.Bytes + spec.ChunkSize - 1) / spec.ChunkSize, 0, source.Bytes);
    }

    // ---------------------------------------------------------------- receiver side

    private static async Task<ChildReport> ReceivePhaseAsync(E2eRunSpec spec, long bytes, bool timed)
    {
        var deviceSpec = SimulatedDeviceSpec.Parse(spec.DeviceSpec(bytes)) with { StateGeneration = 0 };
        using var device = new SimulatedDevice(deviceSpec);
        long image = LiveRunSource.FullImageBytes(device.UnitCount, SimulatedDeviceSpec.PageBytes);
        using var sampler = timed ? AllocationSampler.StartIfRequested() : null;
        var probe = new AllocationProbe(image) { Sampler = sampler };
        var probed = new ProbedDevice(device, probe);

        MigrationReceiver? receiver = null;
        Socket? listener = null;
        int port = 0;
        if (spec.Variant == E2eVariant.StreamKit)
        {
            receiver = new MigrationReceiver(new ReceiverOptions
            {
                ReassemblyCap = spec.ReassemblyCap,
                CommitTarget = MigrationState.Stop,
                Transport = new TransportOptions { SocketBufferSize = spec.SocketBuffer },
                EarlyChunkHold = Environment.GetEnvironmentVariable("STREAMKIT_E2E_HOLD_MS") is { } ms ? TimeSpan.FromMilliseconds(double.Parse(ms, CultureInfo.InvariantCulture)) : ReceiverOptions.DefaultEarlyChunkHold,
            });
            receiver.AddDevice(1, probed);
            await receiver.ListenAsync(TransportAddress.Tcp("127.0.0.1", 0));
            port = receiver.BoundAddress!.Port;
        }
        else if (spec.Variant is E2eVariant.Raw or E2eVariant.Naive)
        {
            listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            if (spec.Variant == E2eVariant.Raw && spec.SocketBuffer > 0) listener.ReceiveBufferSize = spec.SocketBuffer; // inherited by accepted sockets
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(16);
            port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        }
        if (timed)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ProcFs.ResetPeakRss();
        }
        long rssStart = ProcFs.StatusKiB("VmRSS");
        Control($"READY {port}");

        var before = ProcessSnapshot.Take();
        long wire, chunks, zero = 0;
        try
        {
            switch (spec.Variant)
            {
                case E2eVariant.StreamKit:
                {
                    var result = await receiver!.RunAsync();
                    var d = result.Devices[0];
                    if (timed && Environment.GetEnvironmentVariable("STREAMKIT_E2E_THREADS") == "1")
                    {
                        var session = receiver.Session;
                        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"buffers[receiver] pinned peak rented {session.PoolPeakRentedBytes >> 20} MiB, held {session.PoolHeldBytes >> 20} MiB, reassembly peak {session.Store!.Peak >> 20} MiB; chunks written inline {session.ChunksAppliedInline} of {session.ChunksApplied}; early chunks held in place {session.EarlyChunksHeldInPlace}, copied after a hold {session.EarlyChunkHoldTimeouts}, longest hold {session.LongestEarlyChunkHold.TotalMilliseconds:F1} ms"));
                    }
                    (wire, chunks, zero) = (result.WireBytes, d.Chunks, d.ZeroBytes);
                    break;
                }
                case E2eVariant.Raw:
                    (wire, chunks) = RawReceive(spec, probed, listener!);
                    break;
                case E2eVariant.Naive:
                    (wire, chunks) = NaiveReceive(spec, probed, listener!);
                    break;
                case E2eVariant.Lz4Socat:
                    (wire, chunks) = SinkFromStdin(spec, probed);
                    break;
                default:
                    throw new ArgumentException($"unknown variant {spec.Variant}");
            }
        }
        finally
        {
            if (receiver is not null) await receiver.DisposeAsync();
            listener?.Dispose();
        }
        var after = ProcessSnapshot.Take();
        sampler?.Report(spec.Role);
        return Report(spec, timed, before, after, probe, rssStart) with
        {
            DeviceBytes = probe.Bytes,
            WireBytes = wire,
            Chunks = chunks,
            ZeroBytes = zero,
            Digest = device.StateDigest.ToString("x16", CultureInfo.InvariantCulture),
            PeakRssKiB = ProcFs.StatusKiB("VmHWM"),
        };
    }

    private static IMigrationDataChannel OpenResuming(IMigrationDevice device) =>
        device.SetState(MigrationState.Resuming) ?? throw new InvalidOperationException("RESUMING opened no data channel");

    private static void Commit(IMigrationDevice device) => device.SetState(MigrationState.Stop)?.Dispose();

    private static int ReceiveFull(Socket socket, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = socket.Receive(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }

    private static (long, long) RawReceive(E2eRunSpec spec, IMigrationDevice device, Socket listener)
    {
        int n = spec.Channels;
        var sockets = new Socket[n];
        Span<byte> index = stackalloc byte[4];
        for (int i = 0; i < n; i++)
        {
            var s = listener.Accept();
            s.NoDelay = true;
            if (ReceiveFull(s, index) != 4) throw new InvalidOperationException("raw connection closed before its index");
            sockets[BitConverter.ToInt32(index)] = s;
        }
        var channel = OpenResuming(device);
        long bytes = 0, writes = 0;
        if (n == 1)
        {
            var buffer = GC.AllocateUninitializedArray<byte>(spec.ChunkSize, pinned: true);
            while (true)
            {
                int got = sockets[0].Receive(buffer);
                if (got == 0) break;
                channel.Write(buffer.AsSpan(0, got));
                bytes += got;
                writes++;
            }
        }
        else
        {
            var queues = Enumerable.Range(0, n).Select(_ => new Handoff(2, spec.ChunkSize)).ToArray();
            var receivers = Enumerable.Range(0, n).Select(i => StartThread($"raw-recv-{i}", () =>
            {
                while (true)
                {
                    var buffer = queues[i].TakeFree();
                    int got = ReceiveFull(sockets[i], buffer);
                    queues[i].PutFull(buffer, got);
                    if (got < buffer.Length) return;
                }
            })).ToArray();
            for (long k = 0; ; k++)
            {
                var q = queues[k % n];
                var (buffer, got) = q.TakeFull();
                if (got > 0)
                {
                    channel.Write(buffer.AsSpan(0, got));
                    bytes += got;
                    writes++;
                }
                q.PutFree(buffer);
                if (got < spec.ChunkSize) break;
            }
            foreach (var t in receivers) t.Join();
        }
        Commit(device);
        channel.Dispose();
        foreach (var s in sockets) s.Dispose(); // tells the sender we are done
        return (bytes, writes);
    }

    private static (long, long) NaiveReceive(E2eRunSpec spec, IMigrationDevice device, Socket listener)
    {
        using var socket = listener.Accept();
        var channel = OpenResuming(device);
        var sink = new DeviceWriteStream(channel);
        using (var network = new NetworkStream(socket, ownsSocket: false))
            network.CopyTo(sink, spec.ChunkSize);
        Commit(device);
        channel.Dispose();
        return (sink.Bytes, (sink.Bytes + spec.ChunkSize - 1) / spec.ChunkSize);
    }

    private static (long, long) SinkFromStdin(E2eRunSpec spec, IMigrationDevice device)
    {
        var channel = OpenResuming(device);
        var sink = new DeviceWriteStream(channel);
        using (var stdin = Console.OpenStandardInput())
            stdin.CopyTo(sink, spec.ChunkSize);
        Commit(device);
        channel.Dispose();
        return (sink.Bytes, (sink.Bytes + spec.ChunkSize - 1) / spec.ChunkSize);
    }

    // ---------------------------------------------------------------- common

    private static Thread StartThread(string name, Action body)
    {
        var t = new Thread(() => body()) { IsBackground = true, Name = name };
        t.Start();
        return t;
    }

    private static ChildReport Report(E2eRunSpec spec, bool timed, ProcessSnapshot before, ProcessSnapshot after, AllocationProbe probe, long rssStart) => new()
    {
        Role = spec.Role,
        Timed = timed,
        Seconds = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds,
        UserSeconds = after.UserSeconds - before.UserSeconds,
        SystemSeconds = after.SystemSeconds - before.SystemSeconds,
        Allocated = after.Allocated - before.Allocated,
        SteadyAllocatedPerChunk = probe.PerChunk(spec.ChunkSize),
        ContextSwitches = after.ContextSwitches - before.ContextSwitches,
        JitSeconds = after.JitSeconds - before.JitSeconds,
        JitMethods = after.JitMethods - before.JitMethods,
        Gen0 = after.Gen0 - before.Gen0,
        Gen1 = after.Gen1 - before.Gen1,
        Gen2 = after.Gen2 - before.Gen2,
        RssStartKiB = rssStart,
        PeakRssKiB = ProcFs.StatusKiB("VmHWM"),
        CpuBeforeSeconds = before.UserSeconds + before.SystemSeconds,
        CpuAtEndSeconds = after.UserSeconds + after.SystemSeconds,
    };
}
