using StreamKit.Device;
using StreamKit.Transport.Control;
using Xunit;

namespace StreamKit.Tests.Control;

public sealed class PassedFdDataChannelTests
{
    private sealed class Owner : PassedFdDataChannel.IChannelOwner
    {
        public int Dead, Final;
        public PrecopyInfo? PrecopyHint { get; set; }
        public bool IsAborted { get; set; }
        public void OnDeadSession(PassedFdDataChannel channel) => Dead++;
        public void OnFinalEnd(PassedFdDataChannel channel) => Final++;
    }

    private static PassedFd Dup(PassedFd fd) => new(StreamKit.Transport.Native.LibC.Fcntl(fd.Fd, 1030 /* F_DUPFD_CLOEXEC */, 0));

    [Fact]
    public void ZeroByteReadIsTemporaryInPreCopyAndFinalInStopCopy()
    {
        using var pipe = TestPipe.Create();
        var owner = new Owner();
        using var channel = new PassedFdDataChannel(Dup(pipe.Read), saving: true, stopCopy: false, precopyIoctl: true, owner);
        pipe.WriteAll("abc"u8);
        pipe.Write.Dispose(); // EOF from now on
        var buffer = new byte[8];
        Assert.Equal(DataReadResult.Bytes(3), channel.Read(buffer));
        Assert.Equal(DataReadStatus.TemporaryEnd, channel.Read(buffer).Status);
        Assert.Equal(0, owner.Final);
        channel.EnterStopCopy();
        Assert.Equal(DataReadStatus.FinalEnd, channel.Read(buffer).Status);
        Assert.Equal(1, owner.Final);
        Assert.Equal((3ul, 0ul), (channel.PrecopyBytes, channel.StopCopyBytes));
    }

    [Fact]
    public void EagainIsTemporaryInPreCopyAndWaitedForInStopCopy()
    {
        using var pipe = TestPipe.Create(nonBlockingRead: true);
        using var channel = new PassedFdDataChannel(Dup(pipe.Read), true, false, true, new Owner());
        var buffer = new byte[8];
        Assert.Equal(DataReadStatus.TemporaryEnd, channel.Read(buffer).Status);
        channel.EnterStopCopy();
        var reading = Blocking.Run(() => channel.Read(buffer));
        Thread.Sleep(150); // at least one poll slice
        Assert.False(reading.IsCompleted);
        pipe.WriteAll("z"u8);
        Assert.Equal(DataReadResult.Bytes(1), reading.Wait(TimeSpan.FromSeconds(10)) ? reading.Result : default);
        Assert.Equal(1ul, channel.StopCopyBytes);
    }

    [Fact]
    public void KilledChannelNeverReturnsBytesAndAbortEndsAStopCopyWait()
    {
        using var pipe = TestPipe.Create(nonBlockingRead: true);
        var owner = new Owner();
        using var channel = new PassedFdDataChannel(Dup(pipe.Read), true, stopCopy: true, false, owner);
        var waiting = Blocking.Run(() => channel.Read(new byte[4]));
        Thread.Sleep(50);
        owner.IsAborted = true;
        Assert.Equal(DeviceErrorKind.DeadSession, Assert.Throws<AggregateException>(() => waiting.Wait(TimeSpan.FromSeconds(10))).InnerException is DeviceException e ? e.Kind : default);

        using var live = new PassedFdDataChannel(Dup(pipe.Read), true, false, false, new Owner());
        pipe.WriteAll("stale bytes"u8);
        live.MarkDead();
        Assert.Equal(DataReadStatus.DeadSession, live.Read(new byte[32]).Status);
        Assert.Null(live.GetPrecopyInfo());
    }

    [Fact]
    public void PrecopyInfoFallsBackToTheVmmHintWhenTheFdIsNotVfio()
    {
        using var pipe = TestPipe.Create();
        var owner = new Owner();
        using var channel = new PassedFdDataChannel(Dup(pipe.Read), true, false, precopyIoctl: true, owner);
        Assert.Equal(new PrecopyInfo(0, 0), channel.GetPrecopyInfo()); // ENOTTY on a pipe, no hint yet
        owner.PrecopyHint = new PrecopyInfo(10, 2);
        Assert.Equal(new PrecopyInfo(10, 2), channel.GetPrecopyInfo());
        channel.EnterStopCopy();
        Assert.Equal(Errno.EINVAL, Assert.Throws<DeviceException>(() => channel.GetPrecopyInfo()).Errno);
    }

    [Fact]
    public void WritesLoopOverPartialWritesAndMapErrors()
    {
        using var pipe = TestPipe.Create();
        using var channel = new PassedFdDataChannel(Dup(pipe.Write), saving: false, false, false, new Owner());
        var data = new byte[300_000]; // several times the 64 KiB pipe buffer: partial writes
        new Random(5).NextBytes(data);
        var reader = Blocking.Run(() => TestPipe.ReadExactly(pipe.Read.Fd, data.Length));
        channel.Write(data);
        Assert.True(reader.Wait(TimeSpan.FromSeconds(10)));
        Assert.Equal(data, reader.Result);
        Assert.Equal((ulong)data.Length, channel.WrittenBytes);

        Assert.Equal(Errno.EBADF, Assert.Throws<DeviceException>(() => channel.Read(new byte[1])).Errno);
        pipe.Read.Dispose(); // no reader left: EPIPE
        var e = Assert.Throws<DeviceException>(() => channel.Write("x"u8));
        Assert.Equal((DeviceErrorKind.IoFailed, Errno.EPIPE), (e.Kind, e.Errno));
        channel.MarkDead();
        Assert.Equal(DeviceErrorKind.DeadSession, Assert.Throws<DeviceException>(() => channel.Write("x"u8)).Kind);
    }

    [Fact]
    public void DisposeClosesStreamKitsCopy()
    {
        using var pipe = TestPipe.Create();
        var channel = new PassedFdDataChannel(Dup(pipe.Read), true, false, false, null);
        channel.Dispose();
        Assert.Equal(DataReadStatus.DeadSession, channel.Read(new byte[1]).Status);
        pipe.Read.Dispose();
        Assert.True(pipe.ReadEndClosedEverywhere());
    }
}
