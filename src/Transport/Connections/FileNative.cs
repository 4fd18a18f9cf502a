using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace StreamKit.Transport;

/// <summary>
/// The few libc calls the file transport needs on Linux: <c>pwritev</c>/<c>writev</c> for gather
/// writes (<see cref="RandomAccess.Write(SafeFileHandle, IReadOnlyList{ReadOnlyMemory{byte}}, long)"/>
/// allocates a handle array per call, measured ~74 B, and refuses pipes), <c>read</c> for pipes and
/// character devices (RandomAccess refuses non-seekable handles), and <c>lseek</c> to tell them apart.
/// </summary>
internal static unsafe partial class FileNative
{
    internal const int EINTR = 4;
    internal const int EPIPE = 32;
    private const int SEEK_CUR = 1;

    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    internal static partial nint PWriteV(SafeFileHandle fd, IoVector* iov, int iovcnt, long offset);

    [LibraryImport("libc", EntryPoint = "writev", SetLastError = true)]
    internal static partial nint WriteV(SafeFileHandle fd, IoVector* iov, int iovcnt);

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    internal static partial nint Read(SafeFileHandle fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long LSeek(SafeFileHandle fd, long offset, int whence);

    /// <summary>Whether the native path can be used here (Linux; elsewhere RandomAccess is the fallback, seekable files only).</summary>
    internal static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>False for pipes, FIFOs, sockets and terminals (lseek fails with ESPIPE).</summary>
    internal static bool IsSeekable(SafeFileHandle fd) => !IsSupported || LSeek(fd, 0, SEEK_CUR) >= 0;

    /// <summary>The last errno as an IOException with the OS text.</summary>
    internal static IOException Error(string what, string path)
    {
        int errno = Marshal.GetLastPInvokeError();
        return new IOException($"{what} {path} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }
}
