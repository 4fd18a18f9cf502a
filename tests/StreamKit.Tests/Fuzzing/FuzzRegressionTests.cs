using System.Buffers;
using System.Text;
using StreamKit.Transport;
using StreamKit.Transport.Control;
using StreamKit.Transport.Fuzzing;
using StreamKit.Wire;
using StreamKit.Wire.Fuzzing;
using Xunit;

namespace StreamKit.Tests.Fuzzing;

/// <summary>
/// Every input a fuzz target found a fault with, as a byte array (Garnet's pattern), with the fix's
/// observable behaviour pinned down. The same bytes also sit in the seed corpus (corpus/&lt;target&gt;/crash-*.bin).
/// </summary>
public sealed class FuzzRegressionTests
{
    /// <summary>preamble, seed 20260815 iteration 537: eight bytes whose magic byte 5 is wrong.</summary>
    internal static readonly byte[] ShortBadMagic = [0x89, 0x53, 0x4B, 0x4D, 0x0D, 0x02, 0x1A, 0x0A];

    /// <summary>control-request, seed 20260815 iteration 125: an "op" escape that decodes to a lone low surrogate.</summary>
    internal static readonly byte[] LoneLowSurrogateOp = Convert.FromHexString("037B226964223A3732202C20226F70223A225C756463303078227D");

    /// <summary>control-request, seed 20260815 iteration 708: a lone high surrogate in "op", before the id.</summary>
    internal static readonly byte[] LoneHighSurrogateOp = Convert.FromHexString("037B226F70223A225C7564383030222C226964223A3937347D");

    /// <summary>control-request, seed 20260815 iteration 632 (63929 bytes): a 63890-digit "version".</summary>
    internal static byte[] HugeVersion() =>
        [0x00, .. "{\"id\":163,\"op\":\"hello\",\"version\":"u8, .. Enumerable.Repeat((byte)'9', 63890), .. "}"u8];

    [Fact]
    public void ShortInputWithABadMagicByteIsBadMagicNotTruncated()
    {
        // Spec §2.3 step 1: reported as soon as the byte is present. Decode used to say TruncatedPreamble
        // (it wanted 16 bytes first) while ChunkReader said BadMagic.
        var e = Assert.Throws<StreamFormatException>(() => Preamble.Decode(ShortBadMagic));
        Assert.Equal(StreamErrorCode.BadMagic, e.Code);
        Assert.Equal(5, e.StreamOffset);
        e = Assert.Throws<StreamFormatException>(() => Preamble.PeekLength(ShortBadMagic.AsSpan(0, 6)));
        Assert.Equal(StreamErrorCode.BadMagic, e.Code);
        // A short input whose bytes are all magic is still truncated.
        e = Assert.Throws<StreamFormatException>(() => Preamble.Decode(Preamble.Magic[..5]));
        Assert.Equal(StreamErrorCode.TruncatedPreamble, e.Code);
        Assert.Equal(5, e.StreamOffset);
        PreambleFuzzTarget.Fuzz(ShortBadMagic);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void OpWithALoneSurrogateEscapeIsBadValueWithItsId(bool high)
    {
        byte[] input = high ? LoneHighSurrogateOp : LoneLowSurrogateOp;
        // GetString threw InvalidOperationException: the connection answered internal-error without the id.
        var e = Assert.Throws<ControlRequestException>(() => ControlRequestParser.Parse(input[1..], [], ControlRole.Destination));
        Assert.Equal(ControlErrorCode.BadValue, e.Code);
        Assert.Equal("op", e.Field);
        Assert.Equal(high ? 974 : 72, e.RequestId);
        ControlRequestFuzzTarget.Fuzz(input);
    }

    [Fact]
    public void ErrorRepliesQuoteOnlyAnExcerptOfAHugeNumber()
    {
        byte[] input = HugeVersion();
        var e = Assert.Throws<ControlRequestException>(() => ControlRequestParser.Parse(input[1..], [], ControlRole.Source));
        Assert.Equal(ControlErrorCode.BadValue, e.Code);
        // The reply used to carry all 63890 digits: a 64032-byte line, and with a few more digits over
        // the 65536-byte line limit every client enforces (spec §2.5).
        byte[] reply = ControlMessageWriter.ErrorReply(e.RequestId, e.Code, e.Message, e.Field);
        Assert.InRange(reply.Length, 1, ControlRequestFuzzTarget.MaxErrorReplyBytes);
        Assert.Contains("…", Encoding.UTF8.GetString(reply));

        byte[] device = [0x00, .. "{\"id\":1,\"op\":\"stop-copy\",\"device\":"u8, .. Enumerable.Repeat((byte)'7', 65000), .. "}"u8];
        e = Assert.Throws<ControlRequestException>(() => ControlRequestParser.Parse(device[1..], [], ControlRole.Source));
        Assert.InRange(ControlMessageWriter.ErrorReply(e.RequestId, e.Code, e.Message, e.Field).Length, 1, ControlRequestFuzzTarget.MaxErrorReplyBytes);
        ControlRequestFuzzTarget.Fuzz(input);
        ControlRequestFuzzTarget.Fuzz(device);
    }

    [Fact]
    public void ARejectionNoticeIsReadableByASendersReturnPathReader()
    {
        // Found while classifying answers in the receiver probe: the notice's return-path preamble
        // announced max_payload 0, which a sender's ChunkReader rejects (BadPreambleField, spec §2.3
        // step 10) before it reaches the ERROR, so the refused sender never learned why.
        var peer = new Preamble(Guid.NewGuid(), 1, 2, StreamCapabilities.ReturnPath, 65536, 8, PreambleRole.Forward);
        var bytes = RejectionNotice.Encode(peer, StreamErrorCode.BadChannel, "duplicate channel 1");
        var reader = new ChunkReader(new ChunkReaderOptions { ExpectedRole = PreambleRole.ReturnPath });
        var validator = new ReturnPathValidator(peer.StreamId);
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.True(reader.TryReadPreamble(ref buffer, out var preamble));
        validator.AcceptPreamble(preamble);
        Assert.True(reader.TryReadChunk(ref buffer, out var chunk));
        var message = validator.Accept(chunk);
        Assert.Equal(StreamErrorCode.BadChannel, message.Error?.Reason);
        Assert.Equal("duplicate channel 1", message.Error?.Text);
        reader.Finish(buffer);
        ReturnPathFuzzTarget.Fuzz(bytes);
    }
}
