using System.Runtime.InteropServices;

namespace StreamKit.Tests.Device;

/// <summary>Real pipes (pipe2) and raw fd I/O for data-channel tests.</summary>
internal static unsafe partial class TestPipes
{
    internal const int O_NONBLOCK = 0x800;
    internal const int O_CLOEXEC = 0x80000;
    private const int F_SETFL = 4;
    private const int F_GETFL = 3;
    private const int F_SETPIPE_SZ = 1031;

    [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
    private static partial int Pipe2(int* fds, int flags);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static partial nint RawRead(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static partial nint RawWrite(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int cmd, int arg);

    /// <summary>A pipe; both ends O_CLOEXEC.</summary>
    internal static (int Read, int Write) Create()
    {
        int* fds = stackalloc int[2];
        if (Pipe2(fds, O_CLOEXEC) != 0) throw new InvalidOperationException($"pipe2 failed: errno {Marshal.GetLastPInvokeError()}");
        return (fds[0], fds[1]);
    }

    internal static void SetNonBlocking(int fd)
    {
        int flags = Fcntl(fd, F_GETFL, 0);
        if (flags < 0 || Fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) throw new InvalidOperationException("fcntl failed");
    }

    /// <summary>Shrinks the pipe buffer (to one page) so writes hit a full pipe quickly.</summary>
    internal static void ShrinkBuffer(int fd) => Fcntl(fd, F_SETPIPE_SZ, 4096);

    internal static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
        {
            int done = 0;
            while (done < data.Length)
            {
                nint n = RawWrite(fd, p + done, (nuint)(data.Length - done));
                if (n <= 0) throw new InvalidOperationException($"write failed: errno {Marshal.GetLastPInvokeError()}");
                done += (int)n;
            }
        }
    }

    /// <summary>Blocking read; 0 at EOF.</summary>
    internal static int Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = RawRead(fd, p, (nuint)buffer.Length);
                if (n >= 0) return (int)n;
                if (Marshal.GetLastPInvokeError() != 4) throw new InvalidOperationException($"read failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
    }
}
