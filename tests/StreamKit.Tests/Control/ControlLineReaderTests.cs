using System.Text;
using StreamKit.Transport.Control;
using Xunit;

namespace StreamKit.Tests.Control;

public sealed class ControlLineReaderTests
{
    private static void Feed(ControlLineReader reader, string text, ReadOnlySpan<int> fds = default, bool truncated = false)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        bytes.CopyTo(reader.GetReceiveSpace());
        reader.Commit(bytes.Length, fds, truncated);
    }

    private static List<ControlLine> Drain(ControlLineReader reader)
    {
        var lines = new List<ControlLine>();
        while (reader.TryReadLine(out var line) == LineStatus.Line) lines.Add(line);
        return lines;
    }

    private static string Text(ControlLine line) => Encoding.UTF8.GetString(line.Bytes.Span);

    [Fact]
    public void LineSplitAcrossEveryByteBoundary()
    {
        const string input = "{\"id\":1,\"op\":\"status\"}\n{\"id\":2}\n";
        using var reader = new ControlLineReader();
        var texts = new List<string>();
        foreach (char c in input)
        {
            Feed(reader, c.ToString());
            texts.AddRange(Drain(reader).Select(Text));
        }
        Assert.Equal(["{\"id\":1,\"op\":\"status\"}", "{\"id\":2}"], texts);
        Assert.Equal(input.Length, reader.Position);
    }

    [Fact]
    public void ManyLinesInOneReceiveKeepTheirOffsets()
    {
        using var reader = new ControlLineReader();
        Feed(reader, "a\nbb\n\nccc\ndd");
        var lines = Drain(reader);
        Assert.Equal(["a", "bb", "", "ccc"], lines.Select(Text));
        Assert.Equal([0L, 2, 5, 6], lines.Select(l => l.StreamOffset));
        Assert.Equal(2, reader.PendingBytes);
        Feed(reader, "d\n");
        Assert.Equal("ddd", Text(Assert.Single(Drain(reader))));
    }

    [Fact]
    public void LongestLineFitsAndOneMoreByteIsTooLong()
    {
        using var reader = new ControlLineReader();
        Feed(reader, new string('x', ControlLimits.MaxLineBytes - 1) + "\n");
        Assert.Equal(ControlLimits.MaxLineBytes - 1, Assert.Single(Drain(reader)).Bytes.Length);

        using var tooLong = new ControlLineReader();
        Feed(tooLong, new string('x', ControlLimits.MaxLineBytes / 2));
        Assert.Equal(LineStatus.NeedMore, tooLong.TryReadLine(out _));
        Feed(tooLong, new string('x', ControlLimits.MaxLineBytes / 2)); // the buffer is full and holds no LF
        Assert.Equal(LineStatus.TooLong, tooLong.TryReadLine(out _));
        Assert.True(tooLong.GetReceiveSpace().IsEmpty); // never grows past the limit
    }

    [Fact]
    public void FdsBelongToTheLineWhoseFirstByteCameWithThem()
    {
        using var pipe = TestPipe.Create();
        int dup = DupOf(pipe.Read);
        using var reader = new ControlLineReader();
        // One receive: the tail of line A, then line B starting with the fd-carrying send.
        Feed(reader, "{\"a\":");
        Feed(reader, "1}\n{\"b\":2", [dup]);
        Feed(reader, "}\n");
        var lines = Drain(reader);
        Assert.Equal(2, lines.Count);
        Assert.Empty(lines[0].Fds);
        var fd = Assert.Single(lines[1].Fds);
        Assert.Equal(FdFault.None, lines[1].Fault);
        Assert.Equal(dup, fd.Fd);
        fd.Dispose();
    }

    [Fact]
    public void FdsArrivingAfterTheLineBeganAreMisplacedAndClosedWithTheReader()
    {
        using var pipe = TestPipe.Create();
        using (var reader = new ControlLineReader())
        {
            Feed(reader, "{\"id\":1,");
            Feed(reader, "\"op\":\"x\"}", [DupOf(pipe.Read)]);
            Assert.Equal(LineStatus.NeedMore, reader.TryReadLine(out _));
            Feed(reader, "\n");
            var line = Assert.Single(Drain(reader));
            Assert.Equal(FdFault.Misplaced, line.Fault);
            Assert.Single(line.Fds).Dispose();

            // Pending fds of an unfinished line are closed by the reader.
            Feed(reader, "{\"id\":2", [DupOf(pipe.Read)]);
        }
        pipe.Read.Dispose();
        Assert.True(pipe.ReadEndClosedEverywhere());
    }

    [Fact]
    public void TruncationIsReportedOnTheLine()
    {
        using var reader = new ControlLineReader();
        Feed(reader, "{}\n", [], truncated: true);
        var line = Assert.Single(Drain(reader));
        Assert.Equal(FdFault.Truncated, line.Fault);
        Assert.Empty(line.Fds);
    }

    [Fact]
    public void InvalidUtf8IsFramedLikeAnyBytes()
    {
        using var reader = new ControlLineReader();
        byte[] bytes = [0xFF, 0xC0, 0x0A, 0x80, 0x0A];
        bytes.CopyTo(reader.GetReceiveSpace());
        reader.Commit(bytes.Length, [], false);
        var lines = Drain(reader);
        Assert.Equal(2, lines.Count);
        Assert.Equal([0xFF, 0xC0], lines[0].Bytes.ToArray());
    }

    [Fact]
    public void CommitBeyondTheFreeSpaceIsRefused()
    {
        using var reader = new ControlLineReader(16);
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.Commit(17, [], false));
    }

    private static unsafe int DupOf(PassedFd fd)
    {
        int copy = StreamKit.Transport.Native.LibC.Fcntl(fd.Fd, 1030 /* F_DUPFD_CLOEXEC */, 0);
        Assert.True(copy >= 0);
        return copy;
    }
}
