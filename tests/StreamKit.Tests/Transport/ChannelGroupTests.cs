using System.Net.Sockets;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>N-channel streams: the connector opens N connections, the listener groups them by stream id and checks them.</summary>
public class ChannelGroupTests
{
    private static TransportOptions Options(int groupTimeoutMs = 10_000, int handshakeTimeoutMs = 10_000) => new()
    {
        ChannelGroupTimeout = TimeSpan.FromMilliseconds(groupTimeoutMs),
        HandshakeTimeout = TimeSpan.FromMilliseconds(handshakeTimeoutMs),
    };

    [Theory]
    [InlineData(TransportScheme.Tcp)]
    [InlineData(TransportScheme.Unix)]
    public async Task ConnectorOpensThreeChannelsThatArriveInIndexOrder(TransportScheme scheme)
    {
        var ct = Deadline();
        var address = scheme == TransportScheme.Tcp ? LoopbackTcp(3) : TempUnix(3);
        var (sender, receiver) = await OpenAsync(address, Options(), ct);
        await using (sender)
        await using (receiver)
        {
            Assert.Equal(3, sender.Count);
            Assert.Equal(3, receiver.Count);
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(i, receiver.Preambles[i].ChannelIndex);
                Assert.Equal(3, receiver.Preambles[i].ChannelCount);
                Assert.Equal(sender.StreamId, receiver.Preambles[i].StreamId);
            }
            // Each sender channel says its index; each receiver channel must hear its own.
            for (int i = 0; i < 3; i++) await sender[i].SendAsync(new[] { (byte)(0xA0 + i) }, ct);
            for (int i = 0; i < 3; i++)
            {
                var one = new byte[1];
                await receiver[i].ReceiveExactlyAsync(one, ct);
                Assert.Equal(0xA0 + i, one[0]);
            }
        }
    }

    [Fact]
    public async Task OutOfOrderChannelsAreGroupedByIndex()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(), rejections.Add);
        var id = Guid.NewGuid();
        var accepting = listener.AcceptAsync(ct).AsTask();
        var channels = new TransportConnection?[3];
        foreach (int index in new[] { 2, 0, 1 })
        {
            channels[index] = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = (ushort)index, ChannelCount = 3 }, ct);
            await channels[index]!.SendAsync(new[] { (byte)index }, ct);
            if (index != 1)
            {
                await Task.Delay(50, ct);
                Assert.False(accepting.IsCompleted, "the group must wait for every channel");
            }
        }
        await using var group = await accepting;
        Assert.Equal(id, group.StreamId);
        for (int i = 0; i < 3; i++)
        {
            var one = new byte[1];
            await group[i].ReceiveExactlyAsync(one, ct);
            Assert.Equal(i, one[0]);
        }
        Assert.Empty(rejections.All);
        foreach (var c in channels) await c!.DisposeAsync();
    }

    [Fact]
    public async Task DuplicateIndexIsRejectedAndTheStreamStillCompletes()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(), rejections.Add);
        var id = Guid.NewGuid();
        var accepting = listener.AcceptAsync(ct).AsTask();
        await using var c0 = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 0, ChannelCount = 3 }, ct);
        await using var c1 = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 1, ChannelCount = 3 }, ct);
        await Task.Delay(100, ct); // let the first index-1 channel be grouped before its duplicate arrives
        await using var duplicate = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 1, ChannelCount = 3 }, ct);

        var rejection = await rejections.NextAsync(ct);
        Assert.Equal(TransportErrorKind.HandshakeRejected, rejection.Kind);
        Assert.Contains("duplicate channel 1", rejection.Message);
        // The refused peer is told why, in the stream format.
        var (code, text) = await ReadRejectionAsync(duplicate, ct);
        Assert.Equal(StreamErrorCode.BadChannel, code);
        Assert.Contains("duplicate channel 1", text);

        await using var c2 = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 2, ChannelCount = 3 }, ct);
        await using var group = await accepting;
        Assert.Equal(3, group.Count);
    }

    [Fact]
    public async Task ChannelOfAnotherStreamIsRejectedWhileOneIsAssembling()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(), rejections.Add);
        var id = Guid.NewGuid();
        var accepting = listener.AcceptAsync(ct).AsTask();
        await using var c0 = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 0, ChannelCount = 2 }, ct);
        await Task.Delay(100, ct);
        var strangerId = Guid.NewGuid();
        await using var stranger = await OpenRawChannelAsync(listener.Address, NewPreamble(strangerId) with { ChannelIndex = 1, ChannelCount = 2 }, ct);

        var rejection = await rejections.NextAsync(ct);
        Assert.Equal(TransportErrorKind.HandshakeRejected, rejection.Kind);
        Assert.Contains(strangerId.ToString(), rejection.Message);
        Assert.Contains($"assembling stream {id}", rejection.Message);

        await using var c1 = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 1, ChannelCount = 2 }, ct);
        await using var group = await accepting;
        Assert.Equal(id, group.StreamId);
    }

    [Fact]
    public async Task InconsistentChannelCountIsRejected()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(groupTimeoutMs: 2000), rejections.Add);
        var id = Guid.NewGuid();
        await using var c0 = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 0, ChannelCount = 2 }, ct);
        await Task.Delay(100, ct);
        await using var odd = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 1, ChannelCount = 4 }, ct);
        var rejection = await rejections.NextAsync(ct);
        Assert.Equal(TransportErrorKind.HandshakeRejected, rejection.Kind);
        Assert.Contains("announces 4 channels", rejection.Message);
    }

    [Fact]
    public async Task MissingChannelTimesOutWithTypedErrorAndTheListenerCarriesOn()
    {
        var ct = Deadline();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(groupTimeoutMs: 1500));
        var id = Guid.NewGuid();
        await using var c0 = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 0, ChannelCount = 3 }, ct);
        await using var c2 = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 2, ChannelCount = 3 }, ct);
        var e = await Assert.ThrowsAsync<TransportException>(async () => await listener.AcceptAsync(ct));
        Assert.Equal(TransportErrorKind.Timeout, e.Kind);
        Assert.Contains("channel(s) 1 of 3", e.Message);
        Assert.Contains(id.ToString(), e.Message);
        // The channels that did arrive are told and closed.
        var (code, text) = await ReadRejectionAsync(c0, ct);
        Assert.Equal(StreamErrorCode.Timeout, code);
        Assert.Contains("did not connect", text);

        // A late channel of the failed stream is refused as a stray rather than starting a new assembly.
        await using var late = await OpenRawChannelAsync(listener.Address, NewPreamble(id) with { ChannelIndex = 1, ChannelCount = 3 }, ct);
        var (lateCode, lateText) = await ReadRejectionAsync(late, ct);
        Assert.Equal(StreamErrorCode.BadChannel, lateCode);
        Assert.Contains("completed or timed out", lateText);

        // The listener keeps working for the next stream.
        var sender = await TransportConnector.ConnectAsync(listener.Address with { }, NewPreamble(), Options(), ct);
        await using (sender)
        await using (var group = await listener.AcceptAsync(ct))
            Assert.Equal(sender.StreamId, group.StreamId);
    }

    [Fact]
    public async Task SilentPeerTimesOutWithoutBlockingOtherStreams()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(handshakeTimeoutMs: 1000), rejections.Add);
        // A slowloris peer: 5 bytes of a preamble, then silence.
        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await slow.ConnectAsync("127.0.0.1", listener.Address.Port, ct);
        await slow.SendAsync(Preamble.Magic[..5].ToArray(), ct);

        // A real stream is accepted meanwhile.
        var sender = await TransportConnector.ConnectAsync(listener.Address, NewPreamble(), Options(), ct);
        await using (sender)
        await using (var group = await listener.AcceptAsync(ct))
            Assert.Equal(sender.StreamId, group.StreamId);

        var rejection = await rejections.NextAsync(ct);
        Assert.Equal(TransportErrorKind.Timeout, rejection.Kind);
        Assert.Contains("5 bytes received", rejection.Message);
        // The listener closed the slow peer.
        var buffer = new byte[16];
        int n;
        try { n = await slow.ReceiveAsync(buffer, SocketFlags.None, ct); }
        catch (SocketException) { n = 0; }
        Assert.Equal(0, n);
    }

    [Fact]
    public async Task StreamsNobodyAcceptsAreBoundedNotHoarded()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(), rejections.Add);
        var clients = new List<TransportConnection>();
        try
        {
            for (int i = 0; i <= SocketListener.MaxUnacceptedStreams; i++)
                clients.Add(await OpenRawChannelAsync(listener.Address, NewPreamble(), ct));
            var refusal = await rejections.NextAsync(ct);
            Assert.Equal(TransportErrorKind.HandshakeRejected, refusal.Kind);
            Assert.Contains("already waiting to be accepted", refusal.Message);
            var (code, _) = await ReadRejectionAsync(clients[^1], ct);
            Assert.Equal(StreamErrorCode.BadChannel, code);
            for (int i = 0; i < SocketListener.MaxUnacceptedStreams; i++)
                await (await listener.AcceptAsync(ct)).DisposeAsync();
        }
        finally
        {
            foreach (var c in clients) await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task GarbageInsteadOfAPreambleIsRejected()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(), rejections.Add);
        using var http = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await http.ConnectAsync("127.0.0.1", listener.Address.Port, ct);
        await http.SendAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray(), ct);
        var rejection = await rejections.NextAsync(ct);
        Assert.Equal(TransportErrorKind.HandshakeRejected, rejection.Kind);
        Assert.Contains("BadMagic", rejection.Message);
        Assert.IsType<StreamFormatException>(rejection.InnerException);
    }

    [Fact]
    public async Task CorruptPreambleChecksumIsRejected()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Options(), rejections.Add);
        var bytes = new byte[Preamble.Size];
        NewPreamble().Encode(bytes);
        bytes[20] ^= 1; // inside the stream id
        using var raw = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await raw.ConnectAsync("127.0.0.1", listener.Address.Port, ct);
        await raw.SendAsync(bytes, ct);
        var rejection = await rejections.NextAsync(ct);
        Assert.Equal(TransportErrorKind.HandshakeRejected, rejection.Kind);
        Assert.Equal(StreamErrorCode.PreambleChecksumMismatch, Assert.IsType<StreamFormatException>(rejection.InnerException).Code);
    }

    [Fact]
    public async Task RefusedChannelsReportTheRefusalNotACancellation()
    {
        var ct = Deadline();
        // Nothing listens on this port: every channel is refused; the caller sees the refusal, not a cancellation.
        var address = TransportAddress.Tcp("127.0.0.1", FreeTcpPort(), channels: 4);
        var e = await Assert.ThrowsAsync<TransportException>(() => TransportConnector.ConnectAsync(address, NewPreamble(), null, ct));
        Assert.Equal(TransportErrorKind.ConnectionRefused, e.Kind);
    }
}
