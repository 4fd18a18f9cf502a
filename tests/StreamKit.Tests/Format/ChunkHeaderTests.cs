using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Format;

public class ChunkHeaderTests
{
    [Fact]
    public void RoundTripsEveryField()
    {
        var h = new ChunkHeader(ChunkType.Data, ChunkFlags.Lz4 | ChunkFlags.StopCopy, 7, 3, 0x0102030405060708, 0x1122334455667788, 1234, 5678, 0xDEADBEEF);
        var buf = new byte[ChunkHeader.Size];
        h.Encode(buf);
        Assert.Equal(h, ChunkHeader.Decode(buf, 0));
        Assert.Equal(PayloadCodec.Lz4, h.Codec);
    }

    [Theory]
    [InlineData(0, StreamErrorCode.BadSync)]
    [InlineData(4, StreamErrorCode.HeaderChecksumMismatch)]
    [InlineData(47, StreamErrorCode.HeaderChecksumMismatch)]
    public void FlippedByteIsTypedError(int index, StreamErrorCode expected)
    {
        var buf = new byte[ChunkHeader.Size];
        new ChunkHeader(ChunkType.Data, 0, 1, 0, 1, 0, 10, 10, 0).Encode(buf);
        buf[index] ^= 0x40;
        var e = Assert.Throws<StreamFormatException>(() => ChunkHeader.Decode(buf, 1000));
        Assert.Equal(expected, e.Code);
        Assert.True(e.StreamOffset >= 1000);
    }

    [Fact]
    public void Crc32CCheckValue()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0xE3069283u, ~Crc32C.UpdateSoftware(0xFFFFFFFF, "123456789"u8));
    }
}
