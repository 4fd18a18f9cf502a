using StreamKit.Transport.Rdma;
using Xunit;

namespace StreamKit.Tests.Rdma;

public class ConnectionParametersTests
{
    [Fact]
    public void EncodesTheDocumentedBytes()
    {
        var buffer = new byte[ConnectionParameters.Size];
        new ConnectionParameters(0x00100000, 8, 2).Encode(buffer);
        Assert.Equal(Convert.FromHexString("534B5244" + "0100" + "0000" + "00001000" + "0800" + "0200" + "0000000000000000"), buffer);
    }

    [Fact]
    public void RoundTripsAndIgnoresCmPadding()
    {
        // The IB CM delivers its fixed-size private data: our 24 bytes, then zeros.
        var buffer = new byte[56];
        var sent = new ConnectionParameters(65536, 300, 7);
        sent.Encode(buffer);
        Assert.Null(ConnectionParameters.TryDecode(buffer, out var got));
        Assert.Equal(sent, got);
    }

    [Theory]
    [InlineData(0, 0x00, (uint)RejectReason.NotStreamKit)]       // magic
    [InlineData(4, 0x02, (uint)RejectReason.UnsupportedVersion)] // version 2
    [InlineData(6, 0x01, (uint)RejectReason.BadParameters)]      // flags
    [InlineData(11, 0x10, (uint)RejectReason.BadParameters)]     // buffer size 0x10000400: over 64 MiB
    [InlineData(9, 0x00, (uint)RejectReason.BadParameters)]      // buffer size 1024 → 0: under the minimum
    [InlineData(15, 0x01, (uint)RejectReason.BadParameters)]     // control credits 257: over 255
    public void RejectsBadFields(int index, byte value, uint expected)
    {
        var buffer = new byte[ConnectionParameters.Size];
        new ConnectionParameters(ConnectionParameters.MinBufferSize, 1, 1).Encode(buffer);
        buffer[index] = value;
        var error = ConnectionParameters.TryDecode(buffer, out _);
        Assert.NotNull(error);
        Assert.Equal((RejectReason)expected, error.Value.Reason);
        Assert.False(string.IsNullOrWhiteSpace(error.Value.Text));
    }

    [Fact]
    public void RejectsZeroCreditsAndShortData()
    {
        var buffer = new byte[ConnectionParameters.Size];
        new ConnectionParameters(4096, 1, 1).Encode(buffer);
        buffer[12] = 0;
        Assert.Equal(RejectReason.BadParameters, ConnectionParameters.TryDecode(buffer, out _)!.Value.Reason);
        Assert.Equal(RejectReason.NotStreamKit, ConnectionParameters.TryDecode(buffer.AsSpan(0, 23), out _)!.Value.Reason);
        Assert.Equal(RejectReason.NotStreamKit, ConnectionParameters.TryDecode([], out _)!.Value.Reason);
    }
}

public class RejectMessageTests
{
    [Fact]
    public void RoundTripsWithCmPadding()
    {
        var buffer = new byte[RejectMessage.MaxSize];
        int length = RejectMessage.Encode(RejectReason.UnsupportedVersion, "RDMA transport version 9", buffer);
        Assert.Equal(8 + 24, length);
        Assert.Equal((RejectReason.UnsupportedVersion, "RDMA transport version 9"), RejectMessage.TryDecode(buffer)); // zeros after: padding
    }

    [Fact]
    public void LongTextIsCutAtACharacterBoundary()
    {
        var buffer = new byte[RejectMessage.MaxSize];
        string text = string.Concat(Enumerable.Repeat("é", 100)); // 200 UTF-8 bytes
        int length = RejectMessage.Encode(RejectReason.BadParameters, text, buffer);
        Assert.True(length <= RejectMessage.MaxSize);
        var (_, decoded) = RejectMessage.TryDecode(buffer.AsSpan(0, length))!.Value;
        Assert.Equal(70, decoded.Length);
        Assert.True(decoded.All(c => c == 'é'));
    }

    [Fact]
    public void ForeignRejectDataIsNotOurs()
    {
        Assert.Null(RejectMessage.TryDecode(new byte[148]));
        Assert.Null(RejectMessage.TryDecode([0x53, 0x4B, 0x52]));
    }
}

public class MessageWordTests
{
    [Fact]
    public void BitLayoutAndBigEndianWire()
    {
        var word = new MessageWord(MessageKind.Credit, 0x1234, 0x56);
        Assert.Equal(0x01561234u, word.Value);
        // Wire form is __be32: its memory bytes are the value's bytes most significant first.
        Assert.Equal(new byte[] { 0x01, 0x56, 0x12, 0x34 }, BitConverter.GetBytes(word.ToWire()));
        Assert.Equal(word, MessageWord.FromWire(word.ToWire()));
    }

    [Fact]
    public void UnknownKindsAreFlagged()
    {
        Assert.True(MessageWord.FromValue(0x02000000).IsKnownKind);
        Assert.Equal(MessageKind.End, MessageWord.FromValue(0x02000000).Kind);
        Assert.False(MessageWord.FromValue(0x03000000).IsKnownKind);
        Assert.False(MessageWord.FromValue(0xFF000000).IsKnownKind);
    }
}
