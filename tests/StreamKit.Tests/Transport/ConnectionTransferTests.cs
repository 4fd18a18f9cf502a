using StreamKit.Transport;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>Several MiB through each transport, random gather segmentation on the way in, random reads and leases on the way out, byte-exact.</summary>
public class ConnectionTransferTests
{
    private const int StreamBytes = 4 << 20;

    [Theory]
    [InlineData(TransportScheme.Tcp)]
    [InlineData(TransportScheme.Unix)]
    public async Task SocketTransportsCarryBytesExactly(TransportScheme scheme)
    {
        var ct = Deadline();
        var data = RandomBytes(StreamBytes, 1);
        using var pool = new PinnedBufferPool(64 << 20, 1 << 20, trackLeaks: true);
        var address = scheme == TransportScheme.Tcp ? LoopbackTcp() : TempUnix();
        var (sender, receiver) = await OpenAsync(address, null, ct);
        await using (sender)
        await using (receiver)
        {
            Assert.Equal(sender.StreamId, receiver.StreamId);
            var receiving = Task.Run(() => ReceiveAllAsync(receiver[0], pool, data, seed: 2, ct), ct);
            await SendAllAsync(sender[0], data, seed: 3, ct);
            await sender[0].CompleteSendAsync(ct);
            await receiving;
            Assert.Equal(data.Length + Wire.Preamble.Size, sender[0].BytesSent);
            Assert.Equal(data.Length + Wire.Preamble.Size, receiver[0].BytesReceived);
        }
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task FileSavesAndRestoresTheSameBytes()
    {
        var ct = Deadline();
        var data = RandomBytes(StreamBytes, 4);
        string path = TempFile();
        try
        {
            var address = TransportAddress.File(path);
            var preamble = NewPreamble();
            await using (var sender = await TransportConnector.ConnectAsync(address, preamble, null, ct))
            {
                Assert.False(sender[0].CanReceive);
                await SendAllAsync(sender[0], data, seed: 5, ct);
                await sender[0].CompleteSendAsync(ct);
            }
            Assert.Equal(Wire.Preamble.Size + data.Length, new FileInfo(path).Length);

            using var pool = new PinnedBufferPool(64 << 20, 1 << 20, trackLeaks: true);
            await using (var listener = TransportListener.Bind(address))
            await using (var receiver = await listener.AcceptAsync(ct))
            {
                Assert.Equal(preamble.StreamId, receiver.StreamId);
                Assert.False(receiver[0].CanSend);
                await ReceiveAllAsync(receiver[0], pool, data, seed: 6, ct);
            }
            pool.AssertNoLeaks();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task FifoCarriesTheStreamAsAPipeWould()
    {
        var ct = Deadline();
        var data = RandomBytes(1 << 20, 15);
        string path = MakeFifo();
        try
        {
            using var pool = new PinnedBufferPool(16 << 20, 1 << 20, trackLeaks: true);
            var address = TransportAddress.File(path);
            // Opening a FIFO blocks until the other end opens it, so each end runs on its own thread.
            var receiving = Task.Run(async () =>
            {
                await using var listener = TransportListener.Bind(address);
                await using var receiver = await listener.AcceptAsync(ct);
                await ReceiveAllAsync(receiver[0], pool, data, seed: 16, ct);
            }, ct);
            await using (var sender = await Task.Run(() => TransportConnector.ConnectAsync(address, NewPreamble(), null, ct), ct))
            {
                await SendAllAsync(sender[0], data, seed: 17, ct);
                await sender[0].CompleteSendAsync(ct);
            }
            await receiving;
            pool.AssertNoLeaks();
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task FifoReaderGoingAwayIsConnectionReset()
    {
        var ct = Deadline();
        string path = MakeFifo();
        try
        {
            var address = TransportAddress.File(path);
            var reading = Task.Run(async () =>
            {
                await using var listener = TransportListener.Bind(address);
                await using var receiver = await listener.AcceptAsync(ct); // reads the preamble, then closes
            }, ct);
            await using var sender = await Task.Run(() => TransportConnector.ConnectAsync(address, NewPreamble(), null, ct), ct);
            await reading;
            var e = await Assert.ThrowsAsync<TransportException>(async () =>
            {
                for (int i = 0; i < 100; i++) await sender[0].SendAsync(new byte[48], new byte[64 << 10], ct);
            });
            Assert.Equal(TransportErrorKind.ConnectionReset, e.Kind);
            Assert.Contains("EPIPE", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static string MakeFifo()
    {
        string path = TempFile();
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", path);
        mkfifo.WaitForExit();
        Assert.Equal(0, mkfifo.ExitCode);
        return path;
    }

    [Fact]
    public async Task InMemoryPairCarriesBytesExactlyBothWays()
    {
        var ct = Deadline();
        var forward = RandomBytes(StreamBytes, 7);
        var backward = RandomBytes(256 << 10, 8);
        using var pool = new PinnedBufferPool(64 << 20, 1 << 20, trackLeaks: true);
        var (a, b) = MemoryConnection.CreatePair(bufferBytes: 256 << 10);
        await using (a)
        await using (b)
        {
            var aToB = Task.Run(async () => { await SendAllAsync(a, forward, 9, ct); await a.CompleteSendAsync(ct); }, ct);
            var bToA = Task.Run(async () => { await SendAllAsync(b, backward, 10, ct); await b.CompleteSendAsync(ct); }, ct);
            var atB = Task.Run(() => ReceiveAllAsync(b, pool, forward, 11, ct), ct);
            var atA = Task.Run(() => ReceiveAllAsync(a, pool, backward, 12, ct), ct);
            await Task.WhenAll(aToB, bToA, atB, atA);
        }
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task ReturnDirectionWorksOnTheSameTcpConnection()
    {
        var ct = Deadline();
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), null, ct);
        await using (sender)
        await using (receiver)
        {
            var reply = RandomBytes(100_000, 13);
            await receiver[0].SendAsync(reply, ct);
            var got = new byte[reply.Length];
            await sender[0].ReceiveExactlyAsync(got, ct);
            Assert.Equal(reply, got);
        }
    }

    [Fact]
    public async Task FileRefusesToOverwriteUnlessAllowed()
    {
        var ct = Deadline();
        string path = TempFile();
        await File.WriteAllTextAsync(path, "precious", ct);
        try
        {
            var e = await Assert.ThrowsAsync<TransportException>(() => TransportConnector.ConnectAsync(TransportAddress.File(path), NewPreamble(), null, ct));
            Assert.Equal(TransportErrorKind.IoFailed, e.Kind);
            Assert.Contains("already exists", e.Message);
            Assert.Equal("precious", await File.ReadAllTextAsync(path, ct));

            await using (var group = await TransportConnector.ConnectAsync(TransportAddress.File(path), NewPreamble(), new TransportOptions { OverwriteFile = true }, ct))
            {
                await Assert.ThrowsAsync<NotSupportedException>(async () => await group[0].ReceiveAsync(new byte[1], ct));
            }
            Assert.Equal(Wire.Preamble.Size, new FileInfo(path).Length);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task ReadingAFileThatIsNotAStreamIsRejected()
    {
        var ct = Deadline();
        string path = TempFile();
        await File.WriteAllTextAsync(path, "this is a text file, long enough to hold a preamble's first 16 bytes", ct);
        try
        {
            await using var listener = TransportListener.Bind(TransportAddress.File(path));
            var e = await Assert.ThrowsAsync<TransportException>(async () => await listener.AcceptAsync(ct));
            Assert.Equal(TransportErrorKind.HandshakeRejected, e.Kind);
            Assert.Contains("BadMagic", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task NonArrayMemoryIsSentThroughTheFallbackPath()
    {
        var ct = Deadline();
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), null, ct);
        await using (sender)
        await using (receiver)
        {
            var data = RandomBytes(70_000, 14);
            using var native = new NativeMemoryManager(data.Length);
            data.CopyTo(native.Memory.Span);
            var header = new byte[] { 1, 2, 3 };
            await sender[0].SendAsync(header, native.Memory, ct);
            var got = new byte[header.Length + data.Length];
            await receiver[0].ReceiveExactlyAsync(got, ct);
            Assert.Equal(header.Concat(data).ToArray(), got);
        }
    }

    /// <summary>Memory that is not array-backed (cannot be gathered by Socket).</summary>
    private sealed unsafe class NativeMemoryManager(int length) : System.Buffers.MemoryManager<byte>
    {
        private readonly byte* _pointer = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)length);

        public override Span<byte> GetSpan() => new(_pointer, length);
        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) => new(_pointer + elementIndex);
        public override void Unpin() { }
        protected override void Dispose(bool disposing) => System.Runtime.InteropServices.NativeMemory.Free(_pointer);
    }
}

public class MemoryChannelsTests
{
    [Fact]
    public async Task InMemoryGroupsLookLikeSocketGroups()
    {
        var ct = Deadline();
        var preamble = NewPreamble();
        var (sender, receiver) = await MemoryChannels.CreatePairAsync(preamble, channels: 3, cancellationToken: ct);
        await using (sender)
        await using (receiver)
        {
            Assert.Equal(preamble.StreamId, receiver.StreamId);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(i, receiver.Preambles[i].ChannelIndex);
                Assert.Equal(3, receiver.Preambles[i].ChannelCount);
                Assert.Equal(Wire.Preamble.Size, sender[i].BytesSent);
                await sender[i].SendAsync(new[] { (byte)i }, ct);
                var one = new byte[1];
                await receiver[i].ReceiveExactlyAsync(one, ct);
                Assert.Equal(i, one[0]);
            }
        }
    }
}
