using System.Runtime.InteropServices;

namespace StreamKit.Transport.Native;

/// <summary>
/// The libc calls of the transport layer: the control socket and its passed-fd data channels
/// (sendmsg/recvmsg with SCM_RIGHTS, read/write/poll on passed fds) and the RDMA progress loop (poll over
/// the completion-channel and CM-event fds, an eventfd to wake it). "libc" is mapped to
/// the C library's soname by the runtime on Linux; every call sets errno (read it with
/// <see cref="Marshal.GetLastPInvokeError"/>). The struct layouts assume LP64 (x86_64, arm64):
/// <see cref="EnsureSupported"/> refuses anything else.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Library = "libc";

    // sys/socket.h (Linux generic values, identical on x86_64 and arm64).
    internal const int SOL_SOCKET = 1;
    internal const int SCM_RIGHTS = 1;
    internal const int SO_PEERCRED = 17;
    internal const int SO_RCVLOWAT = 18;
    internal const int MSG_CTRUNC = 0x8;
    internal const int MSG_TRUNC = 0x20;
    internal const int MSG_DONTWAIT = 0x40;
    internal const int MSG_NOSIGNAL = 0x4000;
    internal const int MSG_CMSG_CLOEXEC = 0x40000000;

    // fcntl.h / poll.h
    internal const int O_CLOEXEC = 0x80000;
    internal const int O_NONBLOCK = 0x800;
    internal const short POLLIN = 0x1;
    internal const short POLLOUT = 0x4;
    internal const short POLLERR = 0x8;
    internal const short POLLHUP = 0x10;

    // sys/eventfd.h
    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;

    /// <summary><c>VFIO_MIG_GET_PRECOPY_INFO</c> = _IO(';', 100 + 21) with the generic ioctl encoding.</summary>
    internal const nuint VFIO_MIG_GET_PRECOPY_INFO = 0x3B79;

    [LibraryImport(Library, EntryPoint = "sendmsg", SetLastError = true)]
    internal static partial nint SendMsg(int socket, MessageHeader* message, int flags);

    [LibraryImport(Library, EntryPoint = "send", SetLastError = true)]
    internal static partial nint Send(int socket, byte* buffer, nuint length, int flags);

    [LibraryImport(Library, EntryPoint = "recv", SetLastError = true)]
    internal static partial nint Recv(int socket, byte* buffer, nuint length, int flags);

    [LibraryImport(Library, EntryPoint = "recvmsg", SetLastError = true)]
    internal static partial nint RecvMsg(int socket, MessageHeader* message, int flags);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    internal static partial nint Write(int fd, byte* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    /// <summary>ioctl(2) with one pointer argument. ioctl is variadic in C; a pointer in the third
    /// integer register is what the variadic call passes on x86_64 and arm64 Linux too.</summary>
    [LibraryImport(Library, EntryPoint = "ioctl", SetLastError = true)]
    internal static partial int Ioctl(int fd, nuint request, void* argument);

    [LibraryImport(Library, EntryPoint = "setsockopt", SetLastError = true)]
    internal static partial int SetSockOpt(int socket, int level, int name, void* value, uint length);

    [LibraryImport(Library, EntryPoint = "poll", SetLastError = true)]
    internal static partial int Poll(PollFd* fds, nuint count, int timeoutMilliseconds);

    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    internal static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(Library, EntryPoint = "pipe2", SetLastError = true)]
    internal static partial int Pipe2(int* fds, int flags);

    [LibraryImport(Library, EntryPoint = "geteuid")]
    internal static partial uint GetEffectiveUserId();

    [LibraryImport(Library, EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport(Library, EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int directoryFd, string path, int flags, uint mask, byte* buffer);

    private const int AT_FDCWD = -100;
    private const int AT_SYMLINK_NOFOLLOW = 0x100;
    private const uint STATX_TYPE = 0x1;
    internal const int S_IFMT = 0xF000;
    internal const int S_IFSOCK = 0xC000;

    /// <summary>
    /// The file type bits (S_IFMT) of <paramref name="path"/> without following a final symlink, or -1
    /// when nothing exists there. statx's layout is the same on every architecture:
    /// 0 u32 stx_mask | 4 u32 stx_blksize | 8 u64 stx_attributes | 16 u32 stx_nlink | 20 u32 stx_uid |
    /// 24 u32 stx_gid | 28 u16 stx_mode | … (256 bytes in all).
    /// </summary>
    internal static int FileType(string path)
    {
        byte* buffer = stackalloc byte[256];
        if (Statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_TYPE, buffer) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == StreamKit.Device.Errno.ENOENT) return -1;
            throw new IOException($"statx({path}) failed: {StreamKit.Device.Errno.Name(errno)}", errno);
        }
        return *(ushort*)(buffer + 28) & S_IFMT;
    }

    internal const int F_GETFD = 1;
    internal const int F_GETFL = 3;
    internal const int F_SETFL = 4;
    internal const int FD_CLOEXEC = 1;

    /// <summary>Throws on platforms whose struct layouts differ from the ones written here.</summary>
    internal static void EnsureSupported()
    {
        if (!OperatingSystem.IsLinux() || IntPtr.Size != 8)
            throw new PlatformNotSupportedException("the control socket's fd passing is implemented for 64-bit Linux only");
    }
}

/// <summary><c>struct pollfd</c>: 0 int fd | 4 short events | 6 short revents (8 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PollFd
{
    internal int Fd;
    internal short Events;
    internal short ReturnedEvents;
}
