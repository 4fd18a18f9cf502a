using System.Net.Sockets;
using StreamKit.Transport;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>The kernel-side dead-peer detection is really configured on both ends.</summary>
public class SocketOptionsTests
{
    [Fact]
    public async Task TcpChannelsHaveNoDelayKeepaliveUserTimeoutAndLargeBuffers()
    {
        var ct = Deadline();
        var options = new TransportOptions
        {
            KeepAliveTime = TimeSpan.FromSeconds(7),
            KeepAliveInterval = TimeSpan.FromSeconds(3),
            KeepAliveProbes = 4,
            SendTimeout = TimeSpan.FromSeconds(12),
            SocketBufferSize = 2 << 20,
        };
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), options, ct);
        await using (sender)
        await using (receiver)
        {
            foreach (var connection in new[] { sender[0], receiver[0] })
            {
                var socket = Assert.IsType<SocketConnection>(connection).Socket;
                Assert.True(socket.NoDelay);
                Assert.Equal(1, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
                Assert.Equal(7, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime)!);
                Assert.Equal(3, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval)!);
                Assert.Equal(4, (int)socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount)!);
                var userTimeout = new byte[4];
                socket.GetRawSocketOption(6, 18, userTimeout);
                Assert.Equal(12_000, BitConverter.ToInt32(userTimeout));
                // Linux doubles the request (up to net.core.wmem_max/rmem_max): anything ≥ 1 MiB proves it was applied.
                Assert.True(socket.SendBufferSize >= 1 << 20, $"SO_SNDBUF {socket.SendBufferSize}");
                Assert.True(socket.ReceiveBufferSize >= 1 << 20, $"SO_RCVBUF {socket.ReceiveBufferSize}");
            }
        }
    }

    [Fact]
    public async Task KeepaliveCanBeTurnedOff()
    {
        var ct = Deadline();
        var options = new TransportOptions { KeepAliveTime = Timeout.InfiniteTimeSpan };
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), options, ct);
        await using (sender)
        await using (receiver)
        {
            var socket = Assert.IsType<SocketConnection>(sender[0]).Socket;
            Assert.Equal(0, (int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive)!);
        }
    }

    [Fact]
    public void BadOptionsAreRefusedUpFront()
    {
        Assert.Throws<ArgumentException>(() => new TransportOptions { IdleReceiveTimeout = TimeSpan.Zero }.Validate());
        Assert.Throws<ArgumentException>(() => new TransportOptions { KeepAliveTime = TimeSpan.FromMilliseconds(500) }.Validate());
        Assert.Throws<ArgumentException>(() => new TransportOptions { BandwidthLimit = -1 }.Validate());
        Assert.Throws<ArgumentException>(() => new TransportOptions { Tls = new TransportTlsOptions { RequireClientCertificate = true } }.Validate());
        Assert.Throws<ArgumentException>(() => TransportListener.Bind(LoopbackTcp(), new TransportOptions { Tls = new TransportTlsOptions() }));
    }
}
