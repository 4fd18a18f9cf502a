using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using StreamKit.Transport.Control;
using StreamKit.Transport.Native;
using Xunit;

namespace StreamKit.Tests.Control;

public sealed class ScmRightsTests : IDisposable
{
    private readonly string _directory = ControlFixture.NewDirectory();
    private readonly Socket _a, _b;

    public ScmRightsTests()
    {
        string path = Path.Combine(_directory, "pair.sock");
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen(1);
        _a = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        _a.Connect(new UnixDomainSocketEndPoint(path));
        _b = listener.Accept();
    }

    public void Dispose()
    {
        _a.Dispose();
        _b.Dispose();
        Directory.Delete(_directory, true);
    }

    private ScmRights.ReceiveResult ReceiveBlocking(Span<byte> buffer, Span<int> fds)
    {
        while (true)
        {
            var r = ScmRights.Receive(_b.SafeHandle, buffer, fds);
            if (!r.WouldBlock) return r;
            Assert.True(_b.Poll(5_000_000, SelectMode.SelectRead), "nothing arrived");
        }
    }

    [Fact]
    public void PassedPipeReadEndCarriesBytesWrittenIntoTheWriteEnd()
    {
        using var pipe = TestPipe.Create();
        Assert.Equal(3, ScmRights.Send(_a.SafeHandle, "abc"u8, [pipe.Read.Fd]));

        var buffer = new byte[16];
        var fds = new int[ControlLimits.MaxFdsPerLine];
        var r = ReceiveBlocking(buffer, fds);
        Assert.Equal(3, r.Bytes);
        Assert.Equal(1, r.FdCount);
        Assert.False(r.FdsTruncated);
        Assert.Equal("abc", Encoding.ASCII.GetString(buffer, 0, 3));
        Assert.NotEqual(pipe.Read.Fd, fds[0]); // a new descriptor for the same pipe
        Assert.Equal(LibC.FD_CLOEXEC, LibC.Fcntl(fds[0], LibC.F_GETFD, 0) & LibC.FD_CLOEXEC); // MSG_CMSG_CLOEXEC

        using var received = new PassedFd(fds[0]);
        pipe.Read.Dispose(); // only the passed copy is left
        pipe.WriteAll("through the passed fd"u8);
        Assert.Equal("through the passed fd", Encoding.ASCII.GetString(TestPipe.ReadExactly(received.Fd, 21)));
        received.Dispose();
        Assert.True(pipe.ReadEndClosedEverywhere());
    }

    [Fact]
    public void SeveralFdsInOneMessageArriveInOrder()
    {
        var pipes = Enumerable.Range(0, ControlLimits.MaxFdsPerLine).Select(_ => TestPipe.Create()).ToArray();
        try
        {
            Assert.Equal(1, ScmRights.Send(_a.SafeHandle, "x"u8, pipes.Select(p => p.Read.Fd).ToArray()));
            var fds = new int[ControlLimits.MaxFdsPerLine];
            var r = ReceiveBlocking(new byte[4], fds);
            Assert.Equal(ControlLimits.MaxFdsPerLine, r.FdCount);
            for (int i = 0; i < pipes.Length; i++)
            {
                using var received = new PassedFd(fds[i]);
                pipes[i].WriteAll([(byte)('A' + i)]);
                Assert.Equal((byte)('A' + i), TestPipe.ReadExactly(received.Fd, 1)[0]);
            }
        }
        finally
        {
            foreach (var p in pipes) p.Dispose();
        }
    }

    [Fact]
    public void SendRefusesMoreThanTheLimitAndFdsWithoutData()
    {
        using var pipe = TestPipe.Create();
        Assert.Throws<ArgumentException>(() => ScmRights.Send(_a.SafeHandle, "x"u8, new int[ControlLimits.MaxFdsPerLine + 1]));
        Assert.Throws<ArgumentException>(() => ScmRights.Send(_a.SafeHandle, ReadOnlySpan<byte>.Empty, [pipe.Read.Fd]));
    }

    [Fact]
    public void TruncatedControlDataClosesEveryFdThatArrived()
    {
        using var pipe = TestPipe.Create();
        SendRaw(_a, "y"u8, Enumerable.Repeat(pipe.Read.Fd, 12).ToArray()); // 12 copies: more than fit
        var fds = new int[ControlLimits.MaxFdsPerLine];
        var r = ReceiveBlocking(new byte[4], fds);
        Assert.Equal(1, r.Bytes);
        Assert.True(r.FdsTruncated);
        Assert.Equal(0, r.FdCount);
        pipe.Read.Dispose();
        Assert.True(pipe.ReadEndClosedEverywhere(), "a truncated fd leaked");
    }

    [Fact]
    public void WouldBlockWhenNothingIsQueuedAndEndOfStreamAfterClose()
    {
        var fds = new int[ControlLimits.MaxFdsPerLine];
        Assert.True(ScmRights.Receive(_b.SafeHandle, new byte[4], fds).WouldBlock);
        _a.Shutdown(SocketShutdown.Send);
        Assert.True(ReceiveBlocking(new byte[4], fds).EndOfStream);
    }

    [Fact]
    public void ControlMessageArithmeticMatchesTheLp64Macros()
    {
        Assert.Equal(16, ControlMessageLayout.Length(0));
        Assert.Equal(20, ControlMessageLayout.Length(4));   // CMSG_LEN(sizeof(int))
        Assert.Equal(24, ControlMessageLayout.Space(4));    // CMSG_SPACE(sizeof(int))
        Assert.Equal(48, ControlMessageLayout.Space(32));   // CMSG_SPACE(8 * sizeof(int))
        Assert.Equal(56, Marshal.SizeOf<MessageHeader>());
        Assert.Equal(16, Marshal.SizeOf<IoVector>());
    }

    /// <summary>sendmsg with any number of fds, bypassing the library's limit (to provoke MSG_CTRUNC).</summary>
    internal static unsafe void SendRaw(Socket socket, ReadOnlySpan<byte> data, int[] fds)
    {
        int space = ControlMessageLayout.Space(fds.Length * sizeof(int));
        byte* control = stackalloc byte[space + 8];
        control = (byte*)(((nint)control + 7) & ~(nint)7);
        new Span<byte>(control, space).Clear();
        *(nuint*)control = (nuint)ControlMessageLayout.Length(fds.Length * sizeof(int));
        *(int*)(control + 8) = LibC.SOL_SOCKET;
        *(int*)(control + 12) = LibC.SCM_RIGHTS;
        fds.CopyTo(new Span<int>(control + 16, fds.Length));
        fixed (byte* p = data)
        {
            var vector = new IoVector { Base = p, Length = (nuint)data.Length };
            var header = new MessageHeader { Vectors = &vector, VectorCount = 1, Control = control, ControlLength = (nuint)space };
            nint sent = LibC.SendMsg((int)socket.Handle, &header, LibC.MSG_NOSIGNAL);
            Assert.True(sent == data.Length, $"sendmsg: {sent}, errno {Marshal.GetLastPInvokeError()}");
        }
    }
}
