using System.Runtime.InteropServices;

namespace StreamKit.Transport.Rdma.Native;

/// <summary>
/// The few libc calls the progress loop needs: poll(2) over the completion-channel and
/// CM-event fds, and an eventfd to wake it for shutdown.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc.so.6";

    internal const short PollIn = 0x001;
    internal const short PollErr = 0x008;
    internal const short PollHup = 0x010;
    internal const int EfdCloexec = 0x80000;
    internal const int EfdNonblock = 0x800;

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int eventfd(uint initial, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    internal static partial int close(int fd);
}

/// <summary>
/// <c>struct pollfd</c> (8 bytes).
/// <code>
/// off size field
///   0   4  fd
///   4   2  events
///   6   2  revents
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct PollFd
{
    [FieldOffset(0)] public int Fd;
    [FieldOffset(4)] public short Events;
    [FieldOffset(6)] public short Revents;
}
