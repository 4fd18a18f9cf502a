using System.Runtime.InteropServices;
using StreamKit.Device;
using StreamKit.Device.Vfio;
using Xunit;

namespace StreamKit.Tests.Lab;

/// <summary>
/// The VFIO layer's parts that run without VFIO: ioctl numbers, the data channel over real pipes
/// (a pipe stands in for data_fd), open failures on a kernel without VFIO, sysfs link resolution.
/// </summary>
public sealed unsafe partial class VfioHostTests
{
    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2(int* fds, int flags);

    private const int O_NONBLOCK = 0x800;

    private static (SafeFdHandle Read, SafeFdHandle Write) Pipe(int flags = 0)
    {
        int* fds = stackalloc int[2];
        Assert.Equal(0, Pipe2(fds, flags | LibC.O_CLOEXEC));
        return (new SafeFdHandle(fds[0]), new SafeFdHandle(fds[1]));
    }

    [Fact]
    public void IoctlNumbersMatchTheKernelUapi()
    {
        if (RuntimeInformation.ProcessArchitecture is not (Architecture.X64 or Architecture.Arm64)) return; // generic encoding only
        // _IO(';', 100 + n) = 0x3B00 | (100 + n); IOMMU_IOAS_ALLOC = _IO(';', 0x81).
        Assert.Equal((nuint)0x3B64, VfioIoctl.GetApiVersion);
        Assert.Equal((nuint)0x3B65, VfioIoctl.CheckExtension);
        Assert.Equal((nuint)0x3B66, VfioIoctl.SetIommu);
        Assert.Equal((nuint)0x3B67, VfioIoctl.GroupGetStatus);
        Assert.Equal((nuint)0x3B68, VfioIoctl.GroupSetContainer);
        Assert.Equal((nuint)0x3B6A, VfioIoctl.GroupGetDeviceFd);
        Assert.Equal((nuint)0x3B6B, VfioIoctl.DeviceGetInfo);
        Assert.Equal((nuint)0x3B6C, VfioIoctl.DeviceGetRegionInfo);
        Assert.Equal((nuint)0x3B6F, VfioIoctl.DeviceReset);
        Assert.Equal((nuint)0x3B75, VfioIoctl.DeviceFeature);
        Assert.Equal((nuint)0x3B76, VfioIoctl.DeviceBindIommufd);
        Assert.Equal((nuint)0x3B77, VfioIoctl.DeviceAttachIommufdPt);
        Assert.Equal((nuint)0x3B79, VfioIoctl.MigGetPrecopyInfo);
        Assert.Equal((nuint)0x3B81, VfioIoctl.IommuIoasAlloc);
        // QEMU's flag words for the 16-byte feature calls.
        Assert.Equal(0x00010001u, VfioIoctl.FeatureGet | VfioIoctl.FeatureMigration);
        Assert.Equal(0x00020002u, VfioIoctl.FeatureSet | VfioIoctl.FeatureMigDeviceState);
        Assert.Equal(0x00010009u, VfioIoctl.FeatureGet | VfioIoctl.FeatureMigDataSize);
    }

    [Fact]
    public void ZeroByteReadIsTemporaryInPreCopyAndFinalInStopCopy()
    {
        var (r, w) = Pipe();
        using var channel = FdDataChannel.ForVfioSession(r, MigrationState.PreCopy, ownerState: null);
        using (w)
        {
            fixed (byte* p = "hello"u8) Assert.Equal(5, (int)LibC.Write(w, p, 5));
        }
        var buffer = new byte[16];
        Assert.Equal(DataReadResult.Bytes(5), channel.Read(buffer));
        Assert.Equal("hello"u8.ToArray(), buffer[..5]);
        Assert.Equal(DataReadStatus.TemporaryEnd, channel.Read(buffer).Status);
        channel.Phase = MigrationState.StopCopy;
        Assert.Equal(DataReadStatus.FinalEnd, channel.Read(buffer).Status);
        Assert.Equal(5, channel.Position);
    }

    [Fact]
    public void EagainIsATemporaryEnd()
    {
        var (r, w) = Pipe(O_NONBLOCK);
        using var channel = FdDataChannel.ForVfioSession(r, MigrationState.StopCopy, ownerState: null);
        using (w)
            Assert.Equal(DataReadStatus.TemporaryEnd, channel.Read(new byte[8]).Status); // writer open, nothing queued
    }

    [Fact]
    public void EmptyReadBufferIsRefused()
    {
        var (r, w) = Pipe();
        w.Dispose();
        using var channel = FdDataChannel.ForVfioSession(r, MigrationState.PreCopy, ownerState: null);
        Assert.Throws<ArgumentException>(() => channel.Read(Span<byte>.Empty));
    }

    [Fact]
    public void WriteDeliversEveryByteInOrder()
    {
        var (r, w) = Pipe();
        var data = new byte[300_000]; // several pipe buffers: write blocks until the reader catches up
        new Random(7).NextBytes(data);
        var received = new byte[data.Length];
        using var reader = FdDataChannel.ForVfioSession(r, MigrationState.StopCopy, ownerState: null);
        var drain = Task.Run(() =>
        {
            int total = 0;
            while (true)
            {
                var result = reader.Read(received.AsSpan(total, Math.Min(4093, received.Length - total)));
                if (result.Status != DataReadStatus.Data) return total;
                total += result.Count;
                if (total == received.Length) return total;
            }
        });
        using (var writer = FdDataChannel.ForVfioSession(w, MigrationState.Resuming, ownerState: null))
        {
            writer.Write(data);
            Assert.Equal(data.Length, writer.Position);
        }
        Assert.True(drain.Wait(TimeSpan.FromSeconds(30)));
        Assert.Equal(data.Length, drain.Result);
        Assert.Equal(data, received);
    }

    [Fact]
    public void AFailedWriteIsTypedAndPoisonsTheSession()
    {
        var (r, w) = Pipe();
        r.Dispose(); // no reader: write fails EPIPE (.NET ignores SIGPIPE)
        using var channel = FdDataChannel.ForVfioSession(w, MigrationState.Resuming, ownerState: null);
        var first = Assert.Throws<DeviceException>(() => channel.Write(new byte[10]));
        Assert.Equal(DeviceErrorKind.IoFailed, first.Kind);
        Assert.Equal(Errno.EPIPE, first.Errno);
        Assert.Contains("stream offset 0", first.Message);
        Assert.Equal(Errno.EPIPE, channel.WriteFailure);
        var again = Assert.Throws<DeviceException>(() => channel.Write(new byte[1]));
        Assert.Equal(DeviceErrorKind.IoFailed, again.Kind);
        Assert.Contains("earlier write", again.Message);
    }

    [Fact]
    public void PrecopyInfoOnAFdWithoutTheIoctlIsUnavailableAndNotAskedAgain()
    {
        var (r, w) = Pipe();
        w.Dispose();
        using var channel = FdDataChannel.ForVfioSession(r, MigrationState.PreCopy, ownerState: null);
        Assert.Equal(PrecopyInfo.Unavailable, channel.GetPrecopyInfo()); // ENOTTY: no hints, not an error
        r.Dispose();
        Assert.Equal(PrecopyInfo.Unavailable, channel.GetPrecopyInfo()); // remembered: the (closed) fd is not asked again
    }

    [Fact]
    public void ReadErrorsCarryTheOwnersStateAndTheStreamOffset()
    {
        var (r, w) = Pipe();
        int asked = 0;
        // A write-only fd read from fails EBADF: the error is typed and the owner's state is read back into it.
        using var channel = FdDataChannel.ForVfioSession(w, MigrationState.StopCopy, () => { asked++; return MigrationState.StopCopy; });
        var e = Assert.Throws<DeviceException>(() => channel.Read(new byte[4]));
        Assert.Equal((DeviceErrorKind.IoFailed, Errno.EBADF, MigrationState.StopCopy), (e.Kind, e.Errno, e.State));
        Assert.Contains("stream offset 0", e.Message);
        Assert.Equal(1, asked);
        r.Dispose();
    }

    [Fact]
    public void OpeningWithoutVfioIsUnavailableWithAClearMessage()
    {
        var cdev = Assert.Throws<DeviceException>(() => VfioDevice.OpenCdev("/dev/vfio/devices/vfio-streamkit-missing"));
        Assert.Equal(DeviceErrorKind.Unavailable, cdev.Kind);
        Assert.Equal(Errno.ENOENT, cdev.Errno);
        var group = Assert.Throws<DeviceException>(() => VfioDevice.OpenGroup("/dev/vfio/streamkit-missing", "00000000-0000-0000-0000-000000000000"));
        Assert.Equal(DeviceErrorKind.Unavailable, group.Kind);
        if (!Directory.Exists("/dev/vfio"))
        {
            Assert.Contains("no VFIO on this kernel", cdev.Message);
            Assert.Contains("no VFIO on this kernel", group.Message);
            Assert.Equal(Errno.ENOENT, group.Errno);
        }
    }

    [Fact]
    public void RealPathResolvesRelativeLinksAgainstTheirRealDirectory()
    {
        // sysfs shape: class/node -> ../devices/dev/node ; devices/dev/node/device -> ../../dev ; devices/dev/driver -> ../../drivers/mtty
        string root = Directory.CreateTempSubdirectory("streamkit-realpath-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "devices/dev/node"));
            Directory.CreateDirectory(Path.Combine(root, "drivers/mtty"));
            Directory.CreateDirectory(Path.Combine(root, "class"));
            File.CreateSymbolicLink(Path.Combine(root, "class/node"), "../devices/dev/node");
            File.CreateSymbolicLink(Path.Combine(root, "devices/dev/node/device"), "../../dev");
            File.CreateSymbolicLink(Path.Combine(root, "devices/dev/driver"), "../../drivers/mtty");
            string real = VfioSysfs.RealPath(Path.Combine(root, "class/node/device/driver"))!;
            Assert.Equal(Path.Combine(VfioSysfs.RealPath(root)!, "drivers/mtty"), real);
            Assert.Null(VfioSysfs.RealPath(Path.Combine(root, "class/node/missing")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
