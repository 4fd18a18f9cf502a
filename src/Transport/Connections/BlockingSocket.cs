using System.Net.Sockets;
using System.Runtime.InteropServices;
using StreamKit.Device;
using StreamKit.Transport.Native;

namespace StreamKit.Transport;

/// <summary>
/// Blocking sends and receives on a socket that .NET keeps non-blocking (it is registered with the runtime's
/// epoll thread for async operations): <c>send(MSG_DONTWAIT)</c> / <c>recv(MSG_DONTWAIT)</c> as far as the
/// socket buffer allows, then <c>poll(POLLOUT / POLLIN)</c> until it is ready again, so the calling thread
/// sleeps in the kernel exactly as a blocking <c>send</c> / <c>recv</c> does, with no epoll thread,
/// thread-pool hop or operation object in between. The caller serialises each direction (one send and one
/// receive at a time per connection), so the runtime's own queues for that direction are idle.
/// The handle is ref-counted for the duration (the fd number cannot be closed and reused under us);
/// an abort on another thread is noticed by the poll (the runtime shuts the socket down when it is
/// disposed while in use) or, at the latest, at the next poll slice, which also checks the caller's token.
/// </summary>
internal static class BlockingSocket
{
    private const int PollSliceMilliseconds = 200;
    private const int ENOBUFS = 105;

    internal static bool IsSupported => OperatingSystem.IsLinux() && IntPtr.Size == 8;

    /// <summary>Sends all of <paramref name="data"/> (non-empty).</summary>
    /// <exception cref="SocketException">The socket failed.</exception>
    /// <exception cref="TransportException">The connection was aborted meanwhile (<paramref name="connection"/>'s reason).</exception>
    internal static unsafe void SendAll(Socket socket, ReadOnlySpan<byte> data, TransportConnection connection)
    {
        using var held = HeldFd.Take(socket, connection);
        int fd = held.Fd;
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
                WaitReady(fd, LibC.POLLOUT, connection, CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// Receives up to <paramref name="buffer"/>.Length bytes (non-empty), waiting for the first; 0 when the peer
    /// finished sending. A socket shut down by our own abort also reads as an end: the abort's reason is thrown instead.
    /// </summary>
    /// <exception cref="SocketException">The socket failed.</exception>
    /// <exception cref="TransportException">The connection was aborted meanwhile (<paramref name="connection"/>'s reason).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    internal static unsafe int Receive(Socket socket, Span<byte> buffer, TransportConnection connection, CancellationToken cancellationToken)
    {
        using var held = HeldFd.Take(socket, connection);
        int fd = held.Fd;
        fixed (byte* start = buffer)
        {
            while (true)
            {
                nint received = LibC.Recv(fd, start, (nuint)buffer.Length, LibC.MSG_DONTWAIT);
                if (received > 0) return (int)received;
                if (received == 0)
                {
                    if (connection.AbortReason is { } aborted) throw aborted.Echo();
                    return 0;
                }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR) continue;
                if (errno != Errno.EAGAIN) throw new SocketException((int)ToSocketError(errno));
                WaitReady(fd, LibC.POLLIN, connection, cancellationToken);
            }
        }
    }

    /// <summary>Sleeps in <c>poll</c> until <paramref name="events"/> (or an error/hang-up the next call reports), in slices that check for an abort and cancellation.</summary>
    private static unsafe void WaitReady(int fd, short events, TransportConnection connection, CancellationToken cancellationToken)
    {
        var pollFd = new PollFd { Fd = fd, Events = events };
        while (true)
        {
            if (connection.AbortReason is { } reason) throw reason.Echo();
            cancellationToken.ThrowIfCancellationRequested();
            pollFd.ReturnedEvents = 0;
            int ready = LibC.Poll(&pollFd, 1, PollSliceMilliseconds);
            if (ready > 0) return;
            if (ready < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR) throw new SocketException((int)ToSocketError(errno));
            }
        }
    }

    /// <summary>The socket's fd, its handle ref-counted until disposed (so the number cannot be closed and reused meanwhile).</summary>
    private readonly ref struct HeldFd
    {
        private readonly SafeHandle _handle;

        private HeldFd(SafeHandle handle, int fd)
        {
            _handle = handle;
            Fd = fd;
        }

        internal int Fd { get; }

        internal static HeldFd Take(Socket socket, TransportConnection connection)
        {
            var handle = socket.SafeHandle;
            bool added = false;
            try
            {
                handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException) when (connection.AbortReason is { } reason)
            {
                throw reason.Echo(); // closed by an abort before the ref was taken
            }
            return new HeldFd(handle, (int)handle.DangerousGetHandle());
        }

        public void Dispose() => _handle.DangerousRelease();
    }

    /// <summary>The errno values a stream socket's send and receive report, as the runtime's own socket calls name them.</summary>
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
