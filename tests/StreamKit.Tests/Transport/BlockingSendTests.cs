using System.Net;
using System.Net.Sockets;
using StreamKit.Transport;
using Xunit;

namespace StreamKit.Tests.Transport;

/// <summary>
/// <see cref="TransportConnection.TrySendBlocking"/> on real loopback sockets: it delivers every byte
/// through a socket buffer far smaller than the data, an abort on another thread wakes a send that waits
/// for room, a reset peer fails it with the connection's typed reason, and transports without a blocking
/// path (a bandwidth limit, in-memory pipes) decline without sending anything.
/// </summary>
public class BlockingSendTests
{
    [Fact]
    public async Task DeliversEverythingThroughASmallSocketBuffer()
    {
        var (sender, receiver, _) = await PairAsync(sendBuffer: 16 << 10);
        await using var s = sender;
        await using var r = receiver;
        var data = TransportTestKit.RandomBytes(8 << 20, seed: 11);
        var received = new byte[data.Length];
        var reading = Task.Run(async () => await r.ReceiveExactlyAsync(received, TransportTestKit.Deadline(60)));
        bool sent = await RunOnThreadAsync(() => s.TrySendBlocking(data));
        await reading;
        Assert.True(sent);
        Assert.Equal(data, received);
        Assert.Equal(data.Length, s.BytesSent);
    }

    [Fact]
    public async Task AnAbortWakesASendWaitingForRoom()
    {
        var (sender, receiver, _) = await PairAsync(sendBuffer: 16 << 10);
        await using var s = sender;
        await using var r = receiver;
        var data = new byte[64 << 20]; // far more than both socket buffers: the peer reads nothing
        var sending = RunOnThreadAsync(() => s.TrySendBlocking(data));
        await Task.Delay(100); // usually it waits for room by now; an abort before that fails it the same way
        Assert.False(sending.IsCompleted);
        s.Abort("the test aborts");
        var e = await Assert.ThrowsAsync<TransportException>(() => sending.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(TransportErrorKind.Aborted, e.Kind);
        Assert.Contains("the test aborts", e.Message);
    }

    [Fact]
    public async Task AResetPeerFailsTheSendWithConnectionReset()
    {
        var (sender, receiver, peerSocket) = await PairAsync(sendBuffer: 64 << 10);
        await using var s = sender;
        await using var r = receiver;
        peerSocket.LingerState = new LingerOption(true, 0);
        r.Abort("the peer goes away");
        var chunk = new byte[256 << 10];
        var e = await Assert.ThrowsAsync<TransportException>(() => RunOnThreadAsync(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                s.TrySendBlocking(chunk);
                Thread.Sleep(2);
            }
            return true;
        }).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(TransportErrorKind.ConnectionReset, e.Kind);
        // The connection is aborted with that reason: every later send reports it.
        var again = Assert.Throws<TransportException>(() => s.TrySendBlocking(chunk));
        Assert.Equal(TransportErrorKind.ConnectionReset, again.Kind);
    }

    [Fact]
    public async Task TransportsWithoutABlockingPathDeclineAndSendNothing()
    {
        var (a, b) = MemoryConnection.CreatePair("blocking-test");
        await using (a)
        await using (b)
        {
            Assert.False(a.TrySendBlocking(new byte[100]));
            Assert.Equal(0, a.BytesSent);
            await a.SendAsync(new byte[100]); // and the async path is free to use
            Assert.Equal(100, a.BytesSent);
        }
        var limited = new ConnectionSettings(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan, new TokenBucket(1 << 20, 1 << 20));
        var (sender, receiver, _) = await PairAsync(sendBuffer: 0, limited);
        await using var s = sender;
        await using var r = receiver;
        Assert.False(s.TrySendBlocking(new byte[100]));
        Assert.Equal(0, s.BytesSent);
    }

    private static async Task<(SocketConnection Sender, SocketConnection Receiver, Socket ReceiverSocket)> PairAsync(int sendBuffer, ConnectionSettings? senderSettings = null)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (sendBuffer > 0) client.SendBufferSize = sendBuffer;
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        server.ReceiveBufferSize = 16 << 10;
        return (new SocketConnection(client, TransportKind.Tcp, senderSettings ?? ConnectionSettings.Unbounded),
            new SocketConnection(server, TransportKind.Tcp, ConnectionSettings.Unbounded), server);
    }

    /// <summary>A blocking call on its own thread (as the pump makes it), never on the test's pool threads.</summary>
    private static Task<bool> RunOnThreadAsync(Func<bool> body)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        new Thread(() =>
        {
            try { done.SetResult(body()); }
            catch (Exception e) { done.SetException(e); }
        }) { IsBackground = true }.Start();
        return done.Task;
    }
}
