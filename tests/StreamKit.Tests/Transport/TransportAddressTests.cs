using StreamKit.Transport;
using Xunit;

namespace StreamKit.Tests.Transport;

public class TransportAddressTests
{
    [Theory]
    [InlineData("tcp://10.0.0.5:7000", TransportScheme.Tcp, "10.0.0.5", 7000, null, 1)]
    [InlineData("tcp://dest.example.org:7000?channels=4", TransportScheme.Tcp, "dest.example.org", 7000, null, 4)]
    [InlineData("TCP://[::1]:0", TransportScheme.Tcp, "::1", 0, null, 1)]
    [InlineData("unix:/run/streamkit.sock", TransportScheme.Unix, null, 0, "/run/streamkit.sock", 1)]
    [InlineData("unix:///run/streamkit.sock?channels=2", TransportScheme.Unix, null, 0, "/run/streamkit.sock", 2)]
    [InlineData("unix:relative.sock", TransportScheme.Unix, null, 0, "relative.sock", 1)]
    [InlineData("file:/var/lib/vm/state.skm", TransportScheme.File, null, 0, "/var/lib/vm/state.skm", 1)]
    [InlineData("file:///var/lib/vm/state.skm", TransportScheme.File, null, 0, "/var/lib/vm/state.skm", 1)]
    [InlineData("file://localhost/tmp/x", TransportScheme.File, null, 0, "/tmp/x", 1)]
    [InlineData("rdma://192.168.1.2:4791?channels=8", TransportScheme.Rdma, "192.168.1.2", 4791, null, 8)]
    public void ParsesValidAddresses(string uri, TransportScheme scheme, string? host, int port, string? path, int channels)
    {
        var a = TransportAddress.Parse(uri);
        Assert.Equal(scheme, a.Scheme);
        Assert.Equal(host, a.Host);
        Assert.Equal(port, a.Port);
        Assert.Equal(path, a.Path);
        Assert.Equal(channels, a.Channels);
        Assert.Equal(a, TransportAddress.Parse(a.ToString()));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("10.0.0.5:7000", "unknown scheme")]
    [InlineData("localhost", "no scheme")]
    [InlineData("http://x:1", "unknown scheme 'http'")]
    [InlineData("tcp:10.0.0.5:7000", "expected tcp://host:port")]
    [InlineData("tcp://10.0.0.5", "missing port")]
    [InlineData("tcp://10.0.0.5:70000", "port '70000'")]
    [InlineData("tcp://10.0.0.5:-1", "port '-1'")]
    [InlineData("tcp://:7000", "empty host")]
    [InlineData("tcp://::1:7000", "IPv6 literals must be written in brackets")]
    [InlineData("tcp://[::1:7000", "missing ']'")]
    [InlineData("tcp://[zz]:7000", "not an IPv6 address")]
    [InlineData("tcp://user@host:1", "user information")]
    [InlineData("tcp://host:1/path", "no path")]
    [InlineData("tcp://host:1?channels=0", "channels '0'")]
    [InlineData("tcp://host:1?channels=257", "channels '257'")]
    [InlineData("tcp://host:1?channels=two", "channels 'two'")]
    [InlineData("tcp://host:1?chanels=2", "unknown parameter 'chanels'")]
    [InlineData("tcp://host:1?channels=2&channels=3", "given twice")]
    [InlineData("tcp://host:1#frag", "fragments")]
    [InlineData("unix:", "no path")]
    [InlineData("unix://otherhost/x", "host 'otherhost' is not allowed")]
    [InlineData("file:/x?channels=2", "exactly one channel")]
    public void RejectsBadAddressesWithAReason(string uri, string reason)
    {
        var e = Assert.Throws<TransportException>(() => TransportAddress.Parse(uri));
        Assert.Equal(TransportErrorKind.InvalidAddress, e.Kind);
        Assert.Contains(reason, e.Message);
        Assert.False(TransportAddress.TryParse(uri, out _, out var error));
        Assert.Contains(reason, error);
    }

    [Fact]
    public void UnixPathLongerThanSunPathIsRejected()
    {
        var e = Assert.Throws<TransportException>(() => TransportAddress.Parse("unix:/" + new string('a', 120)));
        Assert.Contains("limit is 107", e.Message);
    }

    [Fact]
    public void FactoriesApplyTheSameRules()
    {
        Assert.Equal("tcp://[::1]:5?channels=2", TransportAddress.Tcp("::1", 5, 2).ToString());
        Assert.Equal("file:///tmp/a b.skm", TransportAddress.File("/tmp/a b.skm").ToString());
        Assert.Throws<TransportException>(() => TransportAddress.File("/tmp/what?.skm"));
        Assert.Throws<TransportException>(() => TransportAddress.Tcp("h", 1, 0));
    }
}
