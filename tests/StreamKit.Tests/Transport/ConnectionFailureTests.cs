using System.Net.Sockets;
using StreamKit.Transport;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>Dead peers, deadlines, cancellation and aborts end in typed errors, never in a hang.</summary>
public class ConnectionFailureTests
{
    [Fact]
    public async Task PeerResetMidStreamIsConnectionResetAtTheReceiver()
    {
        var ct = Deadline();
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), null, ct);
        await using (sender)
        await using (receiver)
        {
            await sender[0].SendAsync(new byte[100_000], ct);
            var got = new byte[100_000];
            await receiver[0].ReceiveExactlyAsync(got, ct);
            sender[0].Abort("test: sender gives up mid-stream");
            var e = await Assert.ThrowsAsync<TransportException>(async () => await receiver[0].ReceiveExactlyAsync(new byte[1000], ct));
            Assert.Equal(TransportErrorKind.ConnectionReset, e.Kind);
            // The first reason sticks: later calls report it again.
            var again = await Assert.ThrowsAsync<TransportException>(async () => await receiver[0].ReceiveAsync(new byte[1], ct));
            Assert.Equal(TransportErrorKind.ConnectionReset, again.Kind);
        }
    }

    [Fact]
    public async Task PeerClosingMidChunkIsConnectionClosedAtTheReceiver()
    {
        var ct = Deadline();
        using var pool = new PinnedBufferPool(16 << 20, 1 << 20, trackLeaks: true);
        var (sender, receiver) = await OpenAsync(TempUnix(), null, ct);
        await using (receiver)
        {
            await sender[0].SendAsync(new byte[48], new byte[1000], ct);
            await sender.DisposeAsync(); // graceful close in the middle of what should be a 48 + 5000 byte chunk
            using var window = new ReceiveWindow(receiver[0], pool, 64 * 1024);
            var result = await window.ReadAtLeastAsync(48 + 5000, ct);
            Assert.True(result.IsCompleted);
            Assert.Equal(1048, result.Buffer.Length);
            var e = await Assert.ThrowsAsync<TransportException>(async () => await receiver[0].ReceiveExactlyAsync(new byte[1], ct));
            Assert.Equal(TransportErrorKind.ConnectionClosed, e.Kind);
            Assert.Contains("after 0 of 1", e.Message);
        }
        pool.AssertNoLeaks();
    }

    [Fact]
    public async Task SenderLearnsThatTheReceiverIsGone()
    {
        var ct = Deadline();
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), new TransportOptions { SocketBufferSize = 64 * 1024 }, ct);
        await using (sender)
        {
            receiver.Abort(new TransportException(TransportErrorKind.Aborted, "test: receiver dies"));
            await receiver.DisposeAsync();
            var chunk = new byte[256 * 1024];
            var e = await Assert.ThrowsAsync<TransportException>(async () =>
            {
                for (int i = 0; i < 1000; i++) await sender[0].SendAsync(new byte[48], chunk, ct);
            });
            Assert.Equal(TransportErrorKind.ConnectionReset, e.Kind);
        }
    }

    [Fact]
    public async Task IdleReceiveTimeoutFires()
    {
        var ct = Deadline();
        var options = new TransportOptions { IdleReceiveTimeout = TimeSpan.FromMilliseconds(300) };
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), options, ct);
        await using (sender)
        await using (receiver)
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            var e = await Assert.ThrowsAsync<TransportException>(async () => await receiver[0].ReceiveAsync(new byte[16], ct));
            Assert.Equal(TransportErrorKind.Timeout, e.Kind);
            Assert.Contains("idle receive timeout", e.Message);
            Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(250), $"fired after {started.Elapsed}");
            // The timed-out side reset the connection, so the peer hears about it too.
            var peer = await Assert.ThrowsAsync<TransportException>(async () => await sender[0].ReceiveExactlyAsync(new byte[1], ct));
            Assert.True(peer.Kind is TransportErrorKind.ConnectionReset or TransportErrorKind.ConnectionClosed, peer.Message);
        }
    }

    [Fact]
    public async Task TrafficKeepsTheIdleTimeoutAway()
    {
        var ct = Deadline();
        var options = new TransportOptions { IdleReceiveTimeout = TimeSpan.FromMilliseconds(1500) };
        var (a, b) = MemoryConnection.CreatePair(settings: ConnectionSettings.From(options, null));
        await using (a)
        await using (b)
        {
            // A byte every 100 ms for 3 s, twice the idle timeout: only traffic resetting the timer keeps it from firing.
            // (15x margin per gap, so a loaded machine's late timers do not fail it.)
            var sending = Task.Run(async () =>
            {
                for (int i = 0; i < 30; i++) { await a.SendAsync(new byte[] { (byte)i }, ct); await Task.Delay(100, ct); }
                await a.CompleteSendAsync(ct);
            }, ct);
            var one = new byte[1];
            int received = 0;
            while (await b.ReceiveAsync(one, ct) > 0) received++;
            await sending;
            Assert.Equal(30, received);
        }
    }

    [Fact]
    public async Task SendTimeoutFiresWhenThePeerDoesNotRead()
    {
        var ct = Deadline();
        var options = new TransportOptions { SendTimeout = TimeSpan.FromMilliseconds(500), SocketBufferSize = 64 * 1024 };
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), options, ct);
        await using (sender)
        await using (receiver)
        {
            var chunk = new byte[1 << 20];
            var e = await Assert.ThrowsAsync<TransportException>(async () =>
            {
                for (int i = 0; i < 1000; i++) await sender[0].SendAsync(chunk, ct);
            });
            Assert.Equal(TransportErrorKind.Timeout, e.Kind);
        }
    }

    [Fact]
    public async Task CancelledReceiveThrowsCancellationAndAbortsTheConnection()
    {
        var ct = Deadline();
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), null, ct);
        await using (sender)
        await using (receiver)
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await receiver[0].ReceiveAsync(new byte[16], cancel.Token));
            var after = await Assert.ThrowsAsync<TransportException>(async () => await receiver[0].ReceiveAsync(new byte[16], ct));
            Assert.Equal(TransportErrorKind.Aborted, after.Kind);
            Assert.Contains("cancelled", after.Message);
        }
    }

    [Fact]
    public async Task CancelledSendThrowsCancellationAndAbortsTheConnection()
    {
        var ct = Deadline();
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), new TransportOptions { SocketBufferSize = 64 * 1024 }, ct);
        await using (sender)
        await using (receiver)
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            var chunk = new byte[1 << 20];
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                for (int i = 0; i < 1000; i++) await sender[0].SendAsync(new byte[48], chunk, cancel.Token);
            });
            Assert.Equal(TransportErrorKind.Aborted, sender[0].AbortReason?.Kind);
        }
    }

    [Fact]
    public async Task FirstAbortReasonWins()
    {
        var (a, b) = MemoryConnection.CreatePair();
        await using (a)
        await using (b)
        {
            a.Abort(new TransportException(TransportErrorKind.Timeout, "first"));
            a.Abort(new TransportException(TransportErrorKind.IoFailed, "second"));
            Assert.Equal("first", a.AbortReason!.Detail);
            var e = await Assert.ThrowsAsync<TransportException>(async () => await a.SendAsync(new byte[1]));
            Assert.Equal(TransportErrorKind.Timeout, e.Kind);
            Assert.Equal("first", e.Detail);
            // The other end sees a reset carrying the reason.
            var peer = await Assert.ThrowsAsync<TransportException>(async () => await b.ReceiveAsync(new byte[1]));
            Assert.Equal(TransportErrorKind.ConnectionReset, peer.Kind);
            Assert.Contains("first", peer.Message);
        }
    }

    [Fact]
    public async Task OverlappingReceivesAreACallerError()
    {
        var (a, b) = MemoryConnection.CreatePair();
        await using (a)
        await using (b)
        {
            var pending = b.ReceiveAsync(new byte[1]);
            await Assert.ThrowsAsync<InvalidOperationException>(async () => await b.ReceiveAsync(new byte[1]));
            await a.SendAsync(new byte[] { 7 });
            Assert.Equal(1, await pending);
        }
    }

    [Fact]
    public async Task ConnectingToNothingIsRefused()
    {
        var ct = Deadline();
        var tcp = await Assert.ThrowsAsync<TransportException>(() =>
            TransportConnector.ConnectAsync(TransportAddress.Tcp("127.0.0.1", FreeTcpPort()), NewPreamble(), null, ct));
        Assert.Equal(TransportErrorKind.ConnectionRefused, tcp.Kind);

        var unix = await Assert.ThrowsAsync<TransportException>(() => TransportConnector.ConnectAsync(TempUnix(), NewPreamble(), null, ct));
        Assert.Equal(TransportErrorKind.ConnectionRefused, unix.Kind);
        Assert.Contains("does not exist", unix.Message);
    }

    [Fact]
    public async Task ListeningTwiceOnOneAddressIsAddressInUse()
    {
        await using var first = TransportListener.Bind(LoopbackTcp());
        var e = Assert.Throws<TransportException>(() => TransportListener.Bind(first.Address));
        Assert.Equal(TransportErrorKind.AddressInUse, e.Kind);

        var unix = TempUnix();
        await using var firstUnix = TransportListener.Bind(unix);
        var u = Assert.Throws<TransportException>(() => TransportListener.Bind(unix));
        Assert.Equal(TransportErrorKind.AddressInUse, u.Kind);
    }

    [Fact]
    public async Task UnixListenerRemovesItsSocketFile()
    {
        var unix = TempUnix();
        await using (TransportListener.Bind(unix))
            Assert.True(File.Exists(unix.Path));
        Assert.False(File.Exists(unix.Path));
    }

    [Fact]
    public async Task RdmaWithoutADeviceIsNotAvailableAndSaysWhatIsMissing()
    {
        // This host has the RDMA libraries (CI installs them) but no RDMA device: both ends of an
        // rdma:// address must say so, name the packages, and leave nothing open.
        if (Directory.Exists("/sys/class/infiniband") && Directory.EnumerateFileSystemEntries("/sys/class/infiniband").Any())
            return; // a machine with RDMA hardware: the lab checks cover the working path
        var address = TransportAddress.Parse("rdma://10.0.0.2:4791?channels=2");
        var e = await Assert.ThrowsAsync<TransportException>(() => TransportConnector.ConnectAsync(address, NewPreamble(), null, Deadline()));
        Assert.Equal(TransportErrorKind.NotAvailable, e.Kind);
        Assert.Contains("no RDMA device", e.Message);
        Assert.Contains("ibverbs-providers", e.Message);
        Assert.Contains("librdmacm1", e.Message);
        var rdma = Assert.IsType<StreamKit.Transport.Rdma.RdmaException>(e.InnerException);
        Assert.Equal(StreamKit.Transport.Rdma.RdmaErrorKind.NoDevice, rdma.Kind);
        var l = Assert.Throws<TransportException>(() => TransportListener.Bind(address));
        Assert.Equal(TransportErrorKind.NotAvailable, l.Kind);
        Assert.Contains("ibverbs-providers", l.Message);
    }

    [Fact]
    public async Task RdmaRefusesTls()
    {
        var address = TransportAddress.Parse("rdma://10.0.0.2:4791");
        var options = new TransportOptions { Tls = new TransportTlsOptions() };
        var e = await Assert.ThrowsAsync<TransportException>(() => TransportConnector.ConnectAsync(address, NewPreamble(), options, Deadline()));
        Assert.Equal(TransportErrorKind.NotAvailable, e.Kind);
        Assert.Contains("TLS", e.Message);
    }

    [Fact]
    public async Task ConnectTimeoutIsTyped()
    {
        // A listener whose backlog is full does not complete new handshakes: the connect must time out.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0));
        listener.Listen(0);
        int port = ((System.Net.IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        try
        {
            var options = new TransportOptions { ConnectTimeout = TimeSpan.FromMilliseconds(300) };
            TransportException? timeout = null;
            for (int i = 0; i < 8 && timeout is null; i++)
            {
                try
                {
                    var socket = await SocketFactory.ConnectAsync(TransportAddress.Tcp("127.0.0.1", port), options, Deadline());
                    fillers.Add(socket);
                }
                catch (TransportException e)
                {
                    timeout = e;
                }
            }
            Assert.NotNull(timeout);
            Assert.Equal(TransportErrorKind.Timeout, timeout!.Kind);
            Assert.Contains("connect did not complete", timeout.Message);
        }
        finally
        {
            foreach (var s in fillers) s.Dispose();
        }
    }
}
