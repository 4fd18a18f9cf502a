using System.Runtime.InteropServices;

namespace StreamKit.Device;

/// <summary>
/// A POSIX file descriptor with SafeHandle reference counting, so a <c>close()</c> from one thread
/// never races a <c>read()</c>/<c>write()</c> in flight on another (the fd number cannot be reused
/// under the I/O call).
/// </summary>
internal sealed class SafeFdHandle : SafeHandle
{
    /// <summary>Required by the interop marshaller; not used directly.</summary>
    public SafeFdHandle() : base(-1, ownsHandle: true) { }

    /// <summary>Wraps <paramref name="fd"/>; closes it on dispose only when <paramref name="ownsFd"/>.</summary>
    public SafeFdHandle(int fd, bool ownsFd) : base(-1, ownsFd) => SetHandle(fd);

    /// <inheritdoc/>
    public override bool IsInvalid => handle < 0;

    /// <summary>The descriptor number (for messages and poll).</summary>
    public int Fd => (int)handle;

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;
}
