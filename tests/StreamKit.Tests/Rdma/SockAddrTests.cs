using System.Net;
using StreamKit.Transport.Rdma.Native;
using Xunit;

namespace StreamKit.Tests.Rdma;

public class SockAddrTests
{
    [Fact]
    public void Ipv4IsSockaddrIn()
    {
        var buffer = new byte[SockAddr.MaxSize];
        int length = SockAddr.Encode(new IPEndPoint(IPAddress.Parse("10.99.0.1"), 7471), buffer);
        Assert.Equal(16, length);
        // family 2 (host order, little-endian here), port 7471 = 0x1D2F big-endian, address in network order.
        Assert.Equal(new byte[] { 2, 0, 0x1D, 0x2F, 10, 99, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 }, buffer[..16]);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.99.0.1"), 7471), SockAddr.Decode(buffer));
    }

    [Fact]
    public void Ipv6IsSockaddrIn6()
    {
        var buffer = new byte[SockAddr.MaxSize];
        var endPoint = new IPEndPoint(IPAddress.Parse("fe80::1%3"), 443);
        Assert.Equal(28, SockAddr.Encode(endPoint, buffer));
        Assert.Equal(new byte[] { 10, 0, 0x01, 0xBB, 0, 0, 0, 0, 0xFE, 0x80 }, buffer[..10]);
        Assert.Equal(1, buffer[23]);
        Assert.Equal(3, buffer[24]);
        Assert.Equal(endPoint, SockAddr.Decode(buffer));
    }

    [Fact]
    public void OtherFamiliesDecodeToNull() => Assert.Null(SockAddr.Decode(new byte[SockAddr.MaxSize]));
}
