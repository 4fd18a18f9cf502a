using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace StreamKit.Transport;

/// <summary>
/// <c>pwritev(2)</c> for gather writes to a file. <see cref="RandomAccess.Write(SafeFileHandle, IReadOnlyList{ReadOnlyMemory{byte}}, long)"/>
/// does the same but allocates a handle array per call (measured: ~74 B), which the save-to-file hot path avoids.
/// </summary>
internal static unsafe partial class FileNative
{
    [StructLayout(LayoutKind.Sequential)]
    internal struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    internal static partial nint PWriteV(SafeFileHandle fd, IoVector* iov, int iovcnt, long offset);

    /// <summary>Whether the native path can be used here (Linux; elsewhere RandomAccess is the fallback).</summary>
    internal static bool IsSupported => OperatingSystem.IsLinux();
}
