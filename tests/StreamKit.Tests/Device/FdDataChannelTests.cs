using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Device;

/// <summary>
/// <see cref="FdDataChannel"/> through the public <see cref="FdDataChannels"/> factory, on real pipes (a pipe
/// is read-only/write-only and non-seekable like a data_fd). ENOMSG, ENODEV and the precopy ioctl proper
/// need a real VFIO data_fd (the lab); the VFIO-session form is tested in Lab/VfioHostTests.
/// </summary>
public class FdDataChannelTests
{
    [Fact]
    public void ReadsData()
    {
        var (r, w) = TestPipes.Create();
        using var channel = FdDataChannels.OpenSaving(r, () => false);
        TestPipes.WriteAll(w, "device state"u8);
        var buffer = new byte[64];
        var result = channel.Read(buffer);
        Assert.Equal(DataReadStatus.Data, result.Status);
        Assert.Equal("device state"u8.ToArray(), buffer[..result.Count]);
        Assert.True(channel.IsSaving);
        TestPipes.Close(w);
    }

    [Fact]
    public void EmptyNonBlockingPipeIsTemporaryEnd()
    {
        var (r, w) = TestPipes.Create();
        TestPipes.SetNonBlocking(r);
        using var channel = FdDataChannels.OpenSaving(r, () => true); // EAGAIN is temporary even in stop-copy
        Assert.Equal(DataReadResult.Temporary, channel.Read(new byte[16]));
        TestPipes.WriteAll(w, [1, 2, 3]);
        Assert.Equal(DataReadResult.Bytes(3), channel.Read(new byte[16]));
        Assert.Equal(DataReadResult.Temporary, channel.Read(new byte[16]));
        TestPipes.Close(w);
    }

    [Fact]
    public void ZeroByteReadIsFinalOnlyInStopCopy()
    {
        var (r, w) = TestPipes.Create();
        bool stopCopy = false;
        using var channel = FdDataChannels.OpenSaving(r, () => stopCopy);
        TestPipes.WriteAll(w, [9]);
        TestPipes.Close(w); // writer gone: read() returns 0 from now on
        Assert.Equal(DataReadResult.Bytes(1), channel.Read(new byte[4]));
        Assert.Equal(DataReadResult.Temporary, channel.Read(new byte[4])); // PRE_COPY: 0 = for now
        stopCopy = true;
        Assert.Equal(DataReadResult.Final, channel.Read(new byte[4]));   // STOP_COPY: 0 = for good
    }

    [Fact]
    public void StopCopyIsSampledBeforeTheReadSoASwitchDuringADrainingReadLosesNothing()
    {
        var (r, w) = TestPipes.Create();
        bool stopCopy = false;
        using var asked = new ManualResetEventSlim();
        using var channel = FdDataChannels.OpenSaving(r, () =>
        {
            bool now = Volatile.Read(ref stopCopy);
            asked.Set();
            return now;
        });
        var read = Task.Run(() => channel.Read(new byte[8])); // blocks: writer open, nothing queued
        Assert.True(asked.Wait(TimeSpan.FromSeconds(10)));
        Volatile.Write(ref stopCopy, true); // the VMM switches to STOP_COPY while the read is under way…
        TestPipes.Close(w);                 // …and the read then comes back with 0
        Assert.True(read.Wait(TimeSpan.FromSeconds(10)));
        // PRE_COPY was current when the read was issued: its 0 is temporary (asking after the read would
        // have called it final and dropped the STOP_COPY data); the next read's 0 is final.
        Assert.Equal(DataReadResult.Temporary, read.Result);
        Assert.Equal(DataReadResult.Final, channel.Read(new byte[8]));
    }

    [Fact]
    public void WriteLoopsOverPartialWritesWhileReaderDrains()
    {
        var (r, w) = TestPipes.Create();
        TestPipes.ShrinkBuffer(w);
        TestPipes.SetNonBlocking(w); // non-blocking pipe writes are the ones that come back short
        var data = new byte[1 << 20];
        new Random(7).NextBytes(data);
        var received = new MemoryStream();
        var reader = Task.Run(() =>
        {
            var buffer = new byte[1000]; // odd size, slower than the writer
            int n;
            while ((n = TestPipes.Read(r, buffer)) > 0) received.Write(buffer, 0, n);
        });
        var channel = (FdDataChannel)FdDataChannels.OpenResuming(w);
        channel.Write(data);
        Assert.False(channel.IsSaving);
        Assert.True(channel.PartialWrites > 0, "expected short writes on a full pipe");
        Assert.True(channel.WriteWaits > 0, "expected EAGAIN waits");
        channel.Dispose(); // owns the write end: closing it ends the reader
        Assert.True(reader.Wait(TimeSpan.FromSeconds(20)));
        TestPipes.Close(r);
        Assert.Equal(data, received.ToArray());
    }

    [Fact]
    public void WrongDirectionIsEbadf()
    {
        var (r, w) = TestPipes.Create();
        using (var wrongWriter = FdDataChannels.OpenResuming(r, ownsFd: false))
        {
            var e = Assert.Throws<DeviceException>(() => wrongWriter.Write([1, 2, 3]));
            Assert.Equal(Errno.EBADF, e.Errno);
            Assert.Equal(DeviceErrorKind.IoFailed, e.Kind);
            // The failed session stays failed: no further bytes reach the fd.
            var again = Assert.Throws<DeviceException>(() => wrongWriter.Write([4]));
            Assert.Equal(Errno.EBADF, again.Errno);
        }
        using (var wrongReader = FdDataChannels.OpenSaving(w, () => true, ownsFd: false))
        {
            var e = Assert.Throws<DeviceException>(() => wrongReader.Read(new byte[8]));
            Assert.Equal(Errno.EBADF, e.Errno);
        }
        TestPipes.Close(r);
        TestPipes.Close(w);
    }

    [Fact]
    public void BrokenPipeIsSurfacedWithErrno()
    {
        var (r, w) = TestPipes.Create();
        TestPipes.Close(r);
        using var channel = FdDataChannels.OpenResuming(w);
        var e = Assert.Throws<DeviceException>(() => channel.Write(new byte[10]));
        Assert.Equal(Errno.EPIPE, e.Errno);
    }

    [Fact]
    public void PipeHasNoPrecopyHints()
    {
        var (r, w) = TestPipes.Create();
        using var channel = FdDataChannels.OpenSaving(r, () => false);
        PrecopyInfo? info = channel.GetPrecopyInfo(); // ioctl fails ENOTTY on a pipe
        Assert.NotNull(info);
        Assert.False(info.Value.IsAvailable);
        Assert.Equal(PrecopyInfo.Unavailable, channel.GetPrecopyInfo());
        Assert.True(new PrecopyInfo(0, 0).IsAvailable);
        TestPipes.Close(w);
    }

    [Fact]
    public void NotOwnedFdStaysOpenAndDisposedChannelRefusesUse()
    {
        var (r, w) = TestPipes.Create();
        var channel = FdDataChannels.OpenSaving(r, () => false, ownsFd: false);
        channel.Dispose();
        Assert.Throws<ObjectDisposedException>(() => channel.Read(new byte[4]));
        TestPipes.WriteAll(w, [5]);
        Assert.Equal(1, TestPipes.Read(r, new byte[4])); // still open: we did not own it
        TestPipes.Close(r);
        TestPipes.Close(w);
    }

    [Fact]
    public void FactoriesValidateArguments()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FdDataChannels.OpenSaving(-1, () => false));
        Assert.Throws<ArgumentNullException>(() => FdDataChannels.OpenSaving(0, null!, ownsFd: false));
        Assert.Throws<ArgumentOutOfRangeException>(() => FdDataChannels.OpenResuming(-5));
        var (r, w) = TestPipes.Create();
        using var channel = FdDataChannels.OpenSaving(r, () => false);
        Assert.Throws<ArgumentException>(() => channel.Read(Span<byte>.Empty));
        TestPipes.Close(w);
    }
}
