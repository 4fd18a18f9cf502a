using StreamKit.Transport.Rdma;
using Xunit;

namespace StreamKit.Tests.Rdma;

public class RdmaEndpointTests
{
    [Theory]
    [InlineData("rdma://10.99.0.1:7471", "10.99.0.1", 7471, 1)]
    [InlineData("rdma://10.99.0.1:7471?channels=4", "10.99.0.1", 7471, 4)]
    [InlineData("rdma://[fe80::1]:9000?channels=2", "fe80::1", 9000, 2)]
    [InlineData("rdma://node-b.example:18515/", "node-b.example", 18515, 1)]
    public void Parses(string text, string host, int port, int channels)
    {
        var endpoint = RdmaEndpoint.Parse(text);
        Assert.Equal(new RdmaEndpoint(host, port, channels), endpoint);
        Assert.Equal(endpoint, RdmaEndpoint.Parse(endpoint.ToString()));
    }

    [Theory]
    [InlineData("tcp://10.0.0.1:1")]
    [InlineData("rdma://10.0.0.1")]
    [InlineData("rdma://10.0.0.1:1?channels=0")]
    [InlineData("rdma://10.0.0.1:1?channels=257")]
    [InlineData("rdma://10.0.0.1:1?channels=-1")]
    [InlineData("rdma://10.0.0.1:1?channels=two")]
    [InlineData("rdma://10.0.0.1:1?chanels=2")]
    [InlineData("rdma://10.0.0.1:1/path")]
    [InlineData("rdma://user@10.0.0.1:1")]
    [InlineData("not a uri")]
    public void RejectsWithAReadableMessage(string text)
    {
        var e = Assert.Throws<FormatException>(() => RdmaEndpoint.Parse(text));
        Assert.Contains($"'{text}'", e.Message); // names what was wrong
    }

    [Fact]
    public async Task ResolvesLiterals()
    {
        var endPoint = await RdmaEndpoint.Parse("rdma://10.99.0.1:7471").ResolveAsync(default);
        Assert.Equal("10.99.0.1:7471", endPoint.ToString());
    }

    [Fact]
    public async Task UnknownHostIsTyped()
    {
        var e = await Assert.ThrowsAsync<RdmaException>(() => RdmaEndpoint.Parse("rdma://no-such-host.invalid:7471").ResolveAsync(default));
        Assert.Equal(RdmaErrorKind.AddressResolution, e.Kind);
    }
}
