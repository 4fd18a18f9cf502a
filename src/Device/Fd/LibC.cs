using System.Runtime.InteropServices;

namespace StreamKit.Device;

/// <summary>The few libc calls a data channel needs. errno comes from <see cref="Marshal.GetLastPInvokeError"/>.</summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    internal const short POLLOUT = 0x004;

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(SafeFdHandle fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(SafeFdHandle fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    /// <summary>ioctl(2) with a pointer argument. glibc declares it variadic; the fixed-argument call is
    /// ABI-compatible for integer/pointer arguments on the Linux targets we support (x86-64, arm64).</summary>
    [LibraryImport(Lib, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(SafeFdHandle fd, nuint request, void* arg);

    [LibraryImport(Lib, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    /// <summary><c>struct pollfd</c>: 0 int fd | 4 short events | 6 short revents.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }
}
