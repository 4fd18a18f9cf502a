using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Transport;

/// <summary>Shared helpers for the transport tests: addresses, preambles, byte-exact pumps.</summary>
internal static class TransportTestKit
{
    /// <summary>Upper bound for any single test's network activity: a hang becomes a failure, not a stuck run.</summary>
    public static CancellationToken Deadline(int seconds = 20) => new CancellationTokenSource(TimeSpan.FromSeconds(seconds)).Token;

    public static TransportAddress LoopbackTcp(int channels = 1) => TransportAddress.Tcp("127.0.0.1", 0, channels);

    /// <summary>A fresh Unix socket path, short enough for sun_path.</summary>
    public static TransportAddress TempUnix(int channels = 1) =>
        TransportAddress.Unix(Path.Combine(Path.GetTempPath(), $"sk-{Guid.NewGuid():N}"[..15] + ".sock"), channels);

    public static string TempFile() => Path.Combine(Path.GetTempPath(), $"streamkit-test-{Guid.NewGuid():N}.skm");

    public static Preamble NewPreamble(Guid? id = null) =>
        new(id ?? Guid.NewGuid(), 0, 1, StreamCapabilities.None, MaxPayload: 16 << 20, MaxDevices: 8, PreambleRole.Forward);

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>Binds a listener, connects to it, returns both sides of the stream.</summary>
    public static async Task<(ChannelGroup Sender, ChannelGroup Receiver)> OpenAsync(TransportAddress address, TransportOptions? options, CancellationToken ct,
        TransportOptions? senderOptions = null)
    {
        await using var listener = TransportListener.Bind(address, options);
        var accepting = listener.AcceptAsync(ct).AsTask();
        var sender = await TransportConnector.ConnectAsync(listener.Address, NewPreamble(), senderOptions ?? options, ct);
        var receiver = await accepting;
        return (sender, receiver);
    }

    /// <summary>
    /// Sends <paramref name="data"/> as a random mix of header+payload gathers (header in its own
    /// array so the gather is real), single buffers and segment lists.
    /// </summary>
    public static async Task SendAllAsync(TransportConnection connection, byte[] data, int seed, CancellationToken ct)
    {
        var rng = new Random(seed);
        int position = 0;
        while (position < data.Length)
        {
            int mode = rng.Next(3);
            if (mode == 0)
            {
                int headerLength = Math.Min(rng.Next(1, 64), data.Length - position);
                var header = data.AsSpan(position, headerLength).ToArray();
                int payloadLength = Math.Min(rng.Next(0, 300_000), data.Length - position - headerLength);
                await connection.SendAsync(header, data.AsMemory(position + headerLength, payloadLength), ct);
                position += headerLength + payloadLength;
            }
            else if (mode == 1)
            {
                int length = Math.Min(rng.Next(1, 200_000), data.Length - position);
                await connection.SendAsync(data.AsMemory(position, length), ct);
                position += length;
            }
            else
            {
                var segments = new List<ReadOnlyMemory<byte>>();
                int pieces = rng.Next(1, 6);
                for (int i = 0; i < pieces && position < data.Length; i++)
                {
                    int length = Math.Min(rng.Next(0, 100_000), data.Length - position);
                    segments.Add(data.AsSpan(position, length).ToArray());
                    position += length;
                }
                await connection.SendAsync(segments, ct);
            }
        }
    }

    /// <summary>
    /// Receives through a <see cref="ReceiveWindow"/> with random read sizes and leases held across
    /// advances, checks every byte against <paramref name="expected"/>, then checks for a clean end.
    /// </summary>
    public static async Task ReceiveAllAsync(TransportConnection connection, PinnedBufferPool pool, byte[] expected, int seed, CancellationToken ct,
        int blockSize = 64 * 1024)
    {
        var rng = new Random(seed);
        using var window = new ReceiveWindow(connection, pool, blockSize, maxReadAhead: 1 << 20);
        var held = new Queue<(BufferLease Lease, ReadOnlySequence<byte> Bytes, long At)>();
        long verified = 0;
        while (verified < expected.Length)
        {
            int want = (int)Math.Min(rng.Next(1, 400_000), expected.Length - verified);
            var result = await window.ReadAtLeastAsync(want, ct);
            Assert.True(result.Buffer.Length >= want, $"stream ended early at {verified} (+{result.Buffer.Length}), wanted {want}");
            var slice = result.Buffer.Slice(0, want);
            if (rng.Next(3) == 0)
            {
                // Keep this slice past Advance, as a device writer would, and check it later.
                held.Enqueue((window.Lease(slice), slice, verified));
            }
            else
            {
                AssertSame(expected, verified, slice);
            }
            window.Advance(want);
            Assert.Equal(verified + want, window.Position);
            verified += want;
            while (held.Count > 2 || (held.Count > 0 && rng.Next(2) == 0))
            {
                var (lease, bytes, at) = held.Dequeue();
                AssertSame(expected, at, bytes);
                lease.Release();
            }
        }
        while (held.Count > 0)
        {
            var (lease, bytes, at) = held.Dequeue();
            AssertSame(expected, at, bytes);
            lease.Release();
        }
        var end = await window.ReadAtLeastAsync(1, ct);
        Assert.True(end.IsCompleted && end.Buffer.IsEmpty, "expected a clean end of stream after the data");
    }

    /// <summary>Sends each of <paramref name="chunks"/> as a DATA chunk (header + payload gather), then completes the send direction.</summary>
    public static Task SendDataChunksAsync(TransportConnection connection, IReadOnlyList<byte[]> chunks, CancellationToken ct) => Task.Run(async () =>
    {
        var header = new byte[ChunkHeader.Size];
        for (int i = 0; i < chunks.Count; i++)
        {
            new ChunkHeader(ChunkType.Data, 0, 1, 0, (ulong)i, 0, (uint)chunks[i].Length, (uint)chunks[i].Length, Crc32C.Compute(chunks[i])).Encode(header);
            await connection.SendAsync(header, chunks[i], ct);
        }
        await connection.CompleteSendAsync(ct);
    }, ct);

    /// <summary>Reads one chunk in place, checks its payload CRC there, leases the payload and advances; null at the end.</summary>
    public static async Task<(ReadOnlySequence<byte> Payload, BufferLease Lease)?> ReadChunkAsync(ReceiveWindow window, CancellationToken ct)
    {
        var r = await window.ReadAtLeastAsync(ChunkHeader.Size, ct);
        if (r.Buffer.IsEmpty && r.IsCompleted) return null;
        var headerBytes = new byte[ChunkHeader.Size];
        r.Buffer.Slice(0, ChunkHeader.Size).CopyTo(headerBytes);
        var header = ChunkHeader.Decode(headerBytes, window.Position);
        r = await window.ReadAtLeastAsync(ChunkHeader.Size + (int)header.WireLength, ct);
        var payload = r.Buffer.Slice(ChunkHeader.Size, header.WireLength);
        uint crc = 0;
        foreach (var segment in payload) crc = Crc32C.Append(crc, segment.Span);
        Assert.Equal(header.PayloadCrc, crc);
        var lease = window.Lease(payload);
        window.Advance(ChunkHeader.Size + header.WireLength);
        return (payload, lease);
    }

    public static void AssertSame(byte[] expected, long offset, in ReadOnlySequence<byte> actual)
    {
        long at = offset;
        foreach (var segment in actual)
        {
            if (!segment.Span.SequenceEqual(expected.AsSpan((int)at, segment.Length)))
            {
                int i = 0;
                while (segment.Span[i] == expected[at + i]) i++;
                Assert.Fail($"byte {at + i} differs: got 0x{segment.Span[i]:X2}, expected 0x{expected[at + i]:X2}");
            }
            at += segment.Length;
        }
    }

    /// <summary>Opens one raw channel with a chosen preamble (bypassing the connector's numbering).</summary>
    public static async Task<TransportConnection> OpenRawChannelAsync(TransportAddress address, Preamble preamble, CancellationToken ct)
    {
        var socket = await SocketFactory.ConnectAsync(address, TransportOptions.Default, ct);
        var kind = address.Scheme == TransportScheme.Unix ? TransportKind.Unix : TransportKind.Tcp;
        var connection = new SocketConnection(socket, kind, ConnectionSettings.Unbounded);
        await PreambleExchange.WriteAsync(connection, preamble, ct);
        return connection;
    }

    /// <summary>Reads a rejection notice (return-path preamble + ERROR chunk) from a refused channel.</summary>
    public static async Task<(StreamErrorCode Code, string Text)> ReadRejectionAsync(TransportConnection connection, CancellationToken ct)
    {
        var preamble = await PreambleExchange.ReadAsync(connection, ct);
        Assert.Equal(PreambleRole.ReturnPath, preamble.Role);
        var header = new byte[ChunkHeader.Size];
        await connection.ReceiveExactlyAsync(header, ct);
        var decoded = ChunkHeader.Decode(header, Preamble.Size);
        Assert.Equal(ChunkType.Error, decoded.Type);
        Assert.InRange(decoded.WireLength, 8u, 8u + 1024u);
        var payload = new byte[decoded.WireLength];
        await connection.ReceiveExactlyAsync(payload, ct);
        Assert.Equal(decoded.PayloadCrc, Crc32C.Compute(payload));
        var code = (StreamErrorCode)BinaryPrimitives.ReadUInt32LittleEndian(payload);
        int textLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(4));
        return (code, System.Text.Encoding.UTF8.GetString(payload, 8, textLength));
    }

    /// <summary>Collects a listener's rejections in arrival order and lets a test wait for the next one.</summary>
    public sealed class Rejections
    {
        private readonly System.Threading.Channels.Channel<TransportException> _queue = System.Threading.Channels.Channel.CreateUnbounded<TransportException>();
        private readonly List<TransportException> _all = new();

        public void Add(TransportException e)
        {
            lock (_all) _all.Add(e);
            _queue.Writer.TryWrite(e);
        }

        public async Task<TransportException> NextAsync(CancellationToken ct) => await _queue.Reader.ReadAsync(ct);

        public IReadOnlyList<TransportException> All
        {
            get { lock (_all) return _all.ToArray(); }
        }
    }

    /// <summary>
    /// Target fds of every epoll instance this process holds (the "tfd:" lines of /proc/self/fdinfo): a socket the
    /// runtime registered with its epoll thread (which it does the first time an async operation on it has to wait) is in it.
    /// </summary>
    public static HashSet<int> FdsWatchedByEpoll()
    {
        var watched = new HashSet<int>();
        foreach (var link in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(link).LinkTarget != "anon_inode:[eventpoll]") continue;
                foreach (var line in File.ReadLines($"/proc/self/fdinfo/{Path.GetFileName(link)}"))
                {
                    if (!line.StartsWith("tfd:", StringComparison.Ordinal)) continue;
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    watched.Add(int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // An fd that closed while we looked (other tests run in parallel).
            }
        }
        return watched;
    }

    /// <summary>The fd of a socket connection (the number the epoll lists name).</summary>
    public static int FdOf(TransportConnection connection) =>
        (int)Assert.IsType<SocketConnection>(connection).Socket.SafeHandle.DangerousGetHandle();

    public static int FreeTcpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
