using Microsoft.Win32.SafeHandles;

namespace StreamKit.Device.Vfio;

/// <summary>
/// An owned Linux file descriptor. As a SafeHandle it is ref-counted across native calls, so a
/// Dispose on one thread while another is blocked in read()/write() defers close() until the
/// call returns instead of closing (and possibly reusing) the number under it.
/// </summary>
internal sealed class FdHandle : SafeHandleMinusOneIsInvalid
{
    /// <summary>For the interop marshaller.</summary>
    public FdHandle() : base(ownsHandle: true) { }

    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    internal FdHandle(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The descriptor number (for messages and for passing by value to ioctls).</summary>
    internal int Fd => (int)DangerousGetHandle();

    /// <summary>Opens <paramref name="path"/> read-write, close-on-exec; returns null and the errno on failure.</summary>
    internal static FdHandle? TryOpen(string path, out int errno)
    {
        int fd = LibC.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        errno = fd < 0 ? LibC.LastErrno : 0;
        return fd < 0 ? null : new FdHandle(fd);
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
