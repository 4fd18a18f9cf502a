using System.Buffers.Binary;
using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Format;

public class RecordTests
{
    [Fact]
    public void DeviceBeginRoundTripsWithExactLayout()
    {
        var record = new DeviceBeginRecord(0x7, 96, "mtty-a", "mtty");
        var bytes = new byte[record.EncodedLength];
        Assert.Equal(24 + 6 + 4, record.Encode(bytes));
        Assert.Equal(7ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes));
        Assert.Equal(96ul, BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8)));
        Assert.Equal(6, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(16)));
        Assert.Equal(4, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(18)));
        Assert.Equal("mtty-a"u8.ToArray(), bytes[24..30]);
        Assert.Equal("mtty"u8.ToArray(), bytes[30..]);
        Assert.Equal(record, DeviceBeginRecord.Decode(bytes, 0));
    }

    [Fact]
    public void DeviceBeginRejectsMalformedPayloads()
    {
        var bytes = new byte[new DeviceBeginRecord(1, 2, "né", "d").EncodedLength];
        new DeviceBeginRecord(1, 2, "né", "d").Encode(bytes);
        AssertBad(() => DeviceBeginRecord.Decode(bytes.AsSpan(0, 23), 100), 100);
        AssertBad(() => DeviceBeginRecord.Decode(bytes[..^1], 100), 100);
        AssertBad(() => DeviceBeginRecord.Decode([.. bytes, 0], 100), 100);
        var reserved = (byte[])bytes.Clone();
        reserved[21] = 1;
        AssertBad(() => DeviceBeginRecord.Decode(reserved, 100), 120);
        var badUtf8 = (byte[])bytes.Clone();
        badUtf8[25] = 0xFF; // breaks the 2-byte "é"
        AssertBad(() => DeviceBeginRecord.Decode(badUtf8, 100), 124);
        var tooLong = new byte[24 + 256];
        BinaryPrimitives.WriteUInt16LittleEndian(tooLong.AsSpan(16), 256);
        AssertBad(() => DeviceBeginRecord.Decode(tooLong, 0), 16);
        Assert.Throws<ArgumentException>(() => new DeviceBeginRecord(0, 0, new string('x', 256), "").EncodedLength);
    }

    [Fact]
    public void FixedRecordsRoundTripAndCheckLength()
    {
        Span<byte> buffer = stackalloc byte[32];
        var info = new PrecopyInfoRecord(24, 7);
        info.Encode(buffer);
        Assert.Equal(info, PrecopyInfoRecord.Decode(buffer[..16], 0));

        var discard = new DiscardRecord(DiscardReason.SourceDeviceReset, 524);
        discard.Encode(buffer);
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(buffer));
        Assert.Equal(524ul, BinaryPrimitives.ReadUInt64LittleEndian(buffer[8..]));
        Assert.Equal(discard, DiscardRecord.Decode(buffer[..16], 0));

        var end = new DeviceEndRecord(96, 16, 0xAABBCCDD, 0x11223344);
        end.Encode(buffer);
        Assert.Equal(0xAABBCCDDu, BinaryPrimitives.ReadUInt32LittleEndian(buffer[16..]));
        Assert.Equal(end, DeviceEndRecord.Decode(buffer[..24], 0));

        var streamEnd = new StreamEndRecord(2, 13, 4096);
        streamEnd.Encode(buffer);
        Assert.Equal(streamEnd, StreamEndRecord.Decode(buffer[..24], 0));

        var finalAck = new FinalAckRecord(StreamErrorCode.None, 2, 192);
        finalAck.Encode(buffer);
        Assert.Equal(finalAck, FinalAckRecord.Decode(buffer[..16], 0));

        byte[] sixteen = new byte[16], twentyFour = new byte[24];
        AssertBad(() => PrecopyInfoRecord.Decode(sixteen.AsSpan(0, 15), 5), 5);
        AssertBad(() => DiscardRecord.Decode(sixteen, 5), 5); // reason 0
        AssertBad(() => DeviceEndRecord.Decode(sixteen, 5), 5);
        AssertBad(() => StreamEndRecord.Decode(sixteen, 5), 5);
        AssertBad(() => FinalAckRecord.Decode(twentyFour, 5), 5);
        twentyFour[4] = 1;
        AssertBad(() => StreamEndRecord.Decode(twentyFour, 5), 9);
        new DiscardRecord(DiscardReason.SourceSessionEnded, 0).Encode(sixteen);
        sixteen[4] = 1;
        AssertBad(() => DiscardRecord.Decode(sixteen, 5), 9);
    }

    [Fact]
    public void ReasonRecordRoundTripsAndCapsText()
    {
        var record = ReasonRecord.Create(StreamErrorCode.SourceDeviceFailed, "reset in STOP_COPY");
        var bytes = new byte[record.EncodedLength];
        record.Encode(bytes);
        Assert.Equal(503u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal(18u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(record, ReasonRecord.Decode(bytes, 0));

        var capped = ReasonRecord.Create(StreamErrorCode.Cancelled, new string('€', 2000)); // 3 UTF-8 bytes each
        Assert.InRange(capped.EncodedLength, 8 + 1020, 8 + 1024);
        Assert.Throws<ArgumentException>(() => ReasonRecord.Create(StreamErrorCode.None, "x"));
        var surrogate = ReasonRecord.Create(StreamErrorCode.Cancelled, "bad \uD800 text");
        Assert.Equal("bad \uFFFD text", surrogate.Text);
        Assert.Throws<ArgumentException>(() => new DeviceBeginRecord(0, 0, "\uDC00", "").EncodedLength);

        var tooLong = new byte[8 + 1025];
        BinaryPrimitives.WriteUInt32LittleEndian(tooLong, 500);
        BinaryPrimitives.WriteUInt32LittleEndian(tooLong.AsSpan(4), 1025);
        AssertBad(() => ReasonRecord.Decode(tooLong, 0), 4);
        AssertBad(() => ReasonRecord.Decode(new byte[8], 0), 0); // reason 0
        AssertBad(() => ReasonRecord.Decode(bytes[..^1], 0), 0);
    }

    private static void AssertBad(Func<object> decode, long offset)
    {
        var e = Assert.Throws<StreamFormatException>(() => decode());
        Assert.Equal(StreamErrorCode.BadPayload, e.Code);
        Assert.Equal(offset, e.StreamOffset);
    }
}
