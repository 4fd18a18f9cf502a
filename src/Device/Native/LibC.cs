using System.Runtime.InteropServices;

namespace StreamKit.Device;

/// <summary>
/// The libc calls the device layer needs (VFIO ioctls, data channels, region access), through
/// <c>LibraryImport</c>. Every import sets the last error: read <see cref="LastErrno"/> right after the call.
/// <c>open</c> and <c>ioctl</c> are variadic in C; calling them with fixed arguments is how every
/// binding does it on the 64-bit ABIs .NET runs on (integer/pointer arguments go in the same registers).
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    /// <summary>open(2) flags (asm-generic/fcntl.h; identical on x86-64, arm64, riscv64, ppc64le).</summary>
    internal const int O_RDWR = 2, O_CLOEXEC = 0x80000;

    /// <summary>poll(2) event bits.</summary>
    internal const short POLLIN = 0x1, POLLOUT = 0x4, POLLERR = 0x8, POLLHUP = 0x10, POLLNVAL = 0x20;

    /// <summary><c>struct pollfd</c>: 0 s32 fd | 4 s16 events | 6 s16 revents (8 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        internal int Fd;
        internal short Events;
        internal short Revents;
    }

    [LibraryImport(Lib, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Open(string path, int flags);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    /// <summary>ioctl with a pointer argument (a struct buffer, a name, an int).</summary>
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(SafeFdHandle fd, nuint request, void* arg);

    /// <summary>ioctl with a plain integer argument (VFIO_CHECK_EXTENSION, VFIO_SET_IOMMU, VFIO_DEVICE_RESET).</summary>
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(SafeFdHandle fd, nuint request, nint value);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(SafeFdHandle fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(SafeFdHandle fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "pread", SetLastError = true)]
    internal static partial nint PRead(SafeFdHandle fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "pwrite", SetLastError = true)]
    internal static partial nint PWrite(SafeFdHandle fd, byte* buffer, nuint count, long offset);

    /// <summary>poll(2) on raw fd numbers: callers hold a reference on each fd's handle for the call.</summary>
    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary>The errno of the last import call on this thread.</summary>
    internal static int LastErrno => Marshal.GetLastPInvokeError();
}
