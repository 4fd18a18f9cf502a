using System.Runtime.InteropServices;

namespace StreamKit.Device;

/// <summary>
/// A Linux file descriptor with SafeHandle reference counting: a Dispose on one thread while another
/// is blocked in read()/write()/ioctl() defers close() until the call returns, instead of closing
/// (and letting the kernel reuse) the number under it. A disposed handle makes every later call
/// throw <see cref="ObjectDisposedException"/>.
/// </summary>
internal sealed class SafeFdHandle : SafeHandle
{
    /// <summary>For the interop marshaller.</summary>
    public SafeFdHandle() : base(-1, ownsHandle: true) { }

    /// <summary>Wraps <paramref name="fd"/>; closes it on Dispose only when <paramref name="ownsFd"/>.</summary>
    internal SafeFdHandle(int fd, bool ownsFd = true) : base(-1, ownsFd) => SetHandle(fd);

    /// <inheritdoc/>
    public override bool IsInvalid => handle < 0;

    /// <summary>The descriptor number (for messages, poll, and ioctls that take an fd by value).</summary>
    internal int Fd => (int)handle;

    /// <summary>Opens <paramref name="path"/> read-write, close-on-exec; returns null and the errno on failure.</summary>
    internal static SafeFdHandle? TryOpen(string path, out int errno)
    {
        int fd = LibC.Open(path, LibC.O_RDWR | LibC.O_CLOEXEC);
        errno = fd < 0 ? LibC.LastErrno : 0;
        return fd < 0 ? null : new SafeFdHandle(fd);
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
