using System.Net;
using System.Net.Sockets;
using StreamKit.Device;
using StreamKit.Tests.Sessions;
using StreamKit.Transport;
using StreamKit.Transport.Fuzzing;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>
/// TCP/Unix channels are sent and received with blocking calls on threads of their own. Had any async
/// operation on a channel socket waited (a connect, a preamble read, the return path's reads or sends),
/// the runtime would have registered the socket with its epoll thread for good, and every readiness edge
/// of the bulk stream (data arriving, ACKs freeing send space) would then wake that thread and a
/// thread-pool worker. The tests read the kernel's own list of what each epoll instance of this process watches.
/// </summary>
public class EpollRegistrationTests
{
    [Theory]
    [InlineData(TransportScheme.Tcp)]
    [InlineData(TransportScheme.Unix)]
    public async Task AChannelWhosePreambleCameLateIsNotWatchedByTheRuntimesEpoll(TransportScheme scheme)
    {
        var ct = Deadline();
        var address = scheme == TransportScheme.Tcp ? LoopbackTcp() : TempUnix();
        var kind = scheme == TransportScheme.Tcp ? TransportKind.Tcp : TransportKind.Unix;
        await using var listener = TransportListener.Bind(address, new TransportOptions { HandshakeTimeout = TimeSpan.FromSeconds(15) });
        var accepting = listener.AcceptAsync(ct).AsTask();
        var socket = await SocketFactory.ConnectAsync(listener.Address, TransportOptions.Default, ct);
        await using var client = new SocketConnection(socket, kind, ConnectionSettings.Unbounded);
        await Task.Delay(300, ct); // the listener's preamble read is waiting by now: an async read would have registered
        await PreambleExchange.WriteAsync(client, NewPreamble(), ct);
        await using var group = await accepting;
        int fd = FdOf(group[0]);
        Assert.DoesNotContain(fd, FdsWatchedByEpoll());

        // The check sees a registration when there is one: an async receive that has to wait makes it.
        var pending = group[0].ReceiveAsync(new byte[1], ct).AsTask();
        Assert.Contains(fd, FdsWatchedByEpoll());
        await client.SendAsync(new byte[] { 7 }, ct);
        Assert.Equal(1, await pending);
    }

    [Theory]
    [InlineData(TransportScheme.Tcp)]
    [InlineData(TransportScheme.Unix)]
    public async Task AConnectedSocketIsNotWatchedByTheRuntimesEpoll(TransportScheme scheme)
    {
        // A non-blocking TCP connect always waits (EINPROGRESS): done as an async connect, it registered every sender channel.
        var ct = Deadline();
        string path = Path.Combine(Path.GetTempPath(), $"sk-{Guid.NewGuid():N}"[..15] + ".sock");
        using var listener = scheme == TransportScheme.Tcp
            ? new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            : new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(scheme == TransportScheme.Tcp ? new IPEndPoint(IPAddress.Loopback, 0) : new UnixDomainSocketEndPoint(path));
            listener.Listen(4);
            var address = scheme == TransportScheme.Tcp
                ? TransportAddress.Tcp("127.0.0.1", ((IPEndPoint)listener.LocalEndPoint!).Port)
                : TransportAddress.Unix(path);
            using var socket = await SocketFactory.ConnectAsync(address, TransportOptions.Default, ct);
            Assert.True(socket.Connected);
            int fd = (int)socket.SafeHandle.DangerousGetHandle();
            Assert.DoesNotContain(fd, FdsWatchedByEpoll());

            // The check sees a registration when there is one: an async receive that has to wait makes it.
            var pending = socket.ReceiveAsync(new byte[1], SocketFlags.None, ct).AsTask();
            Assert.Contains(fd, FdsWatchedByEpoll());
            using var peer = listener.Accept();
            peer.Send([7]);
            Assert.Equal(1, await pending);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(1, 2)]
    [InlineData(2, 3)]
    public async Task NoChannelOfAMigrationOverTcpIsWatchedByTheRuntimesEpoll(int channels, int deviceCount)
    {
        // Checked while the first destination is half written: by then the return path has carried ACKs and WINDOWs for
        // a while, channel 0 has been read and written both ways, and every registration (which is for good) has happened.
        // Several devices make the channels' loops send queued chunks (a pump finds the channel busy with another's).
        var pairs = Enumerable.Range(0, deviceCount).Select(i => SessionTestKit.Pair($"sim:profile=bulk,size=32MiB,seed={50 + 4 * channels + i},zero=0")).ToArray();
        try
        {
            var digests = pairs.Select(p => p.Source.StateDigest).ToArray();
            MigrationSender? sender = null;
            MigrationReceiver? receiver = null;
            List<string>? watched = null;
            int checkedFds = 0;
            var probe = new ProbeDevice(pairs[0].Destination, atBytes: 16 << 20, () =>
            {
                var sides = Volatile.Read(ref sender)!.Session.Channels.Select(c => ("sender", c.Connection))
                    .Concat(Volatile.Read(ref receiver)!.Session.Group!.Channels.Select(c => ("receiver", c)))
                    .Select(x => (Side: x.Item1, Fd: FdOf(x.Item2))).ToArray();
                var epoll = FdsWatchedByEpoll();
                checkedFds = sides.Length;
                watched = sides.Select((s, i) => (s, i)).Where(x => epoll.Contains(x.s.Fd))
                    .Select(x => $"{x.s.Side} channel {x.i % channels} (fd {x.s.Fd})").ToList();
            });
            var devices = pairs.Select((p, i) => ((ushort)(i + 1), (IMigrationDevice)p.Source, i == 0 ? probe : (IMigrationDevice)p.Destination)).ToList();
            var outcome = await SessionTestKit.RunAsync(devices, SessionTestKit.Sender(), SessionTestKit.Receiver(), SessionTestKit.LoopbackTcp(), channels,
                started: (s, r) => (sender, receiver) = (s, r));
            for (int i = 0; i < pairs.Length; i++)
                SessionTestKit.AssertMigrated(outcome, pairs[i].Source, pairs[i].Destination, digests[i]);
            Assert.Equal(2 * channels, checkedFds);
            Assert.Empty(watched!);
        }
        finally
        {
            foreach (var (source, destination) in pairs)
            {
                source.Dispose();
                destination.Dispose();
            }
        }
    }

    /// <summary>A destination device that runs a check once, on the writer's thread, when the bytes written reach a point.</summary>
    private sealed class ProbeDevice(SimulatedDevice inner, long atBytes, Action check) : ForwardingDevice(inner)
    {
        private long _written;

        protected override IMigrationDataChannel Wrap(IMigrationDataChannel channel) => new Channel(channel, this);

        private void Wrote(long bytes)
        {
            long before = Interlocked.Add(ref _written, bytes) - bytes;
            if (before < atBytes && before + bytes >= atBytes) check();
        }

        // Re-implements the interface so that zero runs keep the simulator's own WriteZeros (ForwardingDataChannel
        // leaves them to the interface's default, zero blocks through Write).
        private sealed class Channel(IMigrationDataChannel inner, ProbeDevice owner) : ForwardingDataChannel(inner), IMigrationDataChannel
        {
            public override void Write(ReadOnlySpan<byte> data)
            {
                Inner.Write(data);
                owner.Wrote(data.Length);
            }

            public void WriteZeros(long count)
            {
                Inner.WriteZeros(count);
                owner.Wrote(count);
            }
        }
    }
}
