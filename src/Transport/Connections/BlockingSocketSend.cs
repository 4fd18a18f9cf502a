using System.Net.Sockets;
using System.Runtime.InteropServices;
using StreamKit.Device;
using StreamKit.Transport.Native;

namespace StreamKit.Transport;

/// <summary>
/// A blocking send on a socket that .NET keeps non-blocking (it is registered with the runtime's epoll
/// thread for the async receives): <c>send(MSG_DONTWAIT)</c> as far as the socket buffer takes it, then
/// <c>poll(POLLOUT)</c> until it has room again, so the calling thread sleeps in the kernel exactly as a
/// blocking <c>send</c> does, with no epoll thread, thread-pool hop or operation object in between.
/// The caller serialises sends (one at a time per connection), so the runtime's own send queue is idle.
/// The handle is ref-counted for the duration (the fd number cannot be closed and reused under us);
/// an abort on another thread is noticed by the poll (the socket is shut down) or, at the latest,
/// at the next poll slice.
/// </summary>
internal static class BlockingSocketSend
{
    private const int PollSliceMilliseconds = 200;
    private const int ENOBUFS = 105;

    internal static bool IsSupported => OperatingSystem.IsLinux() && IntPtr.Size == 8;

    /// <summary>Sends all of <paramref name="data"/> (non-empty).</summary>
    /// <exception cref="SocketException">The socket failed.</exception>
    /// <exception cref="TransportException">The connection was aborted meanwhile (<paramref name="connection"/>'s reason).</exception>
    internal static unsafe void SendAll(Socket socket, ReadOnlySpan<byte> data, TransportConnection connection)
    {
        var handle = socket.SafeHandle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            int fd = (int)handle.DangerousGetHandle();
            fixed (byte* start = data)
            {
                int offset = 0;
                while (offset < data.Length)
                {
                    nint sent = LibC.Send(fd, start + offset, (nuint)(data.Length - offset), LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL);
                    if (sent > 0)
                    {
                        offset += (int)sent;
                        continue;
                    }
                    int errno = sent < 0 ? Marshal.GetLastPInvokeError() : Errno.EAGAIN;
                    if (errno == Errno.EINTR) continue;
                    if (errno != Errno.EAGAIN) throw new SocketException((int)ToSocketError(errno));
                    WaitWritable(fd, connection);
                }
            }
        }
        catch (ObjectDisposedException) when (connection.AbortReason is { } reason)
        {
            throw reason.Echo(); // closed before the ref was taken
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    private static unsafe void WaitWritable(int fd, TransportConnection connection)
    {
        var pollFd = new PollFd { Fd = fd, Events = LibC.POLLOUT };
        while (true)
        {
            if (connection.AbortReason is { } reason) throw reason.Echo();
            pollFd.ReturnedEvents = 0;
            int ready = LibC.Poll(&pollFd, 1, PollSliceMilliseconds);
            if (ready > 0) return; // writable, or an error/hang-up the next send reports
            if (ready < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR) throw new SocketException((int)ToSocketError(errno));
            }
        }
    }

    /// <summary>The errno values a stream socket's send reports, as the runtime's own socket calls name them.</summary>
    internal static SocketError ToSocketError(int errno) => errno switch
    {
        Errno.EPIPE => SocketError.Shutdown,
        104 => SocketError.ConnectionReset,      // ECONNRESET
        103 => SocketError.ConnectionAborted,    // ECONNABORTED
        107 => SocketError.NotConnected,         // ENOTCONN
        110 => SocketError.TimedOut,             // ETIMEDOUT
        113 => SocketError.HostUnreachable,      // EHOSTUNREACH
        101 => SocketError.NetworkUnreachable,   // ENETUNREACH
        100 => SocketError.NetworkDown,          // ENETDOWN
        ENOBUFS or Errno.ENOMEM => SocketError.NoBufferSpaceAvailable,
        Errno.EBADF => SocketError.OperationAborted,
        Errno.EINTR => SocketError.Interrupted,
        _ => SocketError.SocketError,
    };
}
