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
/// <para>
/// A receive that must sleep first sets the socket's low-water mark (<c>SO_RCVLOWAT</c>) to the bytes its
/// caller needs (the rest of a chunk, up to <see cref="MaxLowWater"/>): TCP then wakes the thread once
/// that much has arrived, not at every segment. A receiver faster than its sender otherwise wakes for
/// each few dozen KB, and on a 2-vCPU guest those wake-ups (tens per 1 MiB chunk) took CPU from the
/// sender as well. The caller only asks for bytes the peer must send (a chunk it has begun), and TCP
/// still reports readable at end of stream, on errors and when its receive window is nearly closed,
/// so no wait depends on bytes that may never come.
/// </para>
/// </summary>
internal static class BlockingSocket
{
    private const int PollSliceMilliseconds = 200;

    /// <summary>Largest low-water mark a receive sets: well inside the default 4 MiB socket buffers, a few wake-ups per 1 MiB chunk at most.</summary>
    internal const int MaxLowWater = 512 * 1024;
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
                int noLowWater = 1; // send side: no mark
                WaitReady(fd, LibC.POLLOUT, connection, CancellationToken.None, ref noLowWater);
            }
        }
    }

    /// <summary>
    /// Receives up to <paramref name="buffer"/>.Length bytes (non-empty), waiting for the first; 0 when the peer
    /// finished sending. A socket shut down by our own abort also reads as an end: the abort's reason is thrown instead.
    /// </summary>
    /// <param name="socket">The connected stream socket.</param>
    /// <param name="buffer">Where the bytes go (non-empty).</param>
    /// <param name="connection">Its connection (abort reason, fd lifetime).</param>
    /// <param name="cancellationToken">Ends the wait.</param>
    /// <param name="wakeAtBytes">Bytes the caller needs before it can go on (≥ 1): a wait sleeps until that many have arrived (capped at the buffer and <see cref="MaxLowWater"/>).</param>
    /// <param name="lowWater">The socket's current <c>SO_RCVLOWAT</c> (1 initially), kept by the caller so it is set only when it changes.</param>
    /// <exception cref="SocketException">The socket failed.</exception>
    /// <exception cref="TransportException">The connection was aborted meanwhile (<paramref name="connection"/>'s reason).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    internal static unsafe int Receive(Socket socket, Span<byte> buffer, TransportConnection connection, CancellationToken cancellationToken, int wakeAtBytes, ref int lowWater)
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
                SetLowWater(fd, Math.Clamp(wakeAtBytes, 1, Math.Min(buffer.Length, MaxLowWater)), ref lowWater);
                WaitReady(fd, LibC.POLLIN, connection, cancellationToken, ref lowWater);
            }
        }
    }

    /// <summary>Sets <c>SO_RCVLOWAT</c> when it differs; a failed call leaves it as it was (a wait then wakes earlier, never later).</summary>
    private static unsafe void SetLowWater(int fd, int bytes, ref int lowWater)
    {
        if (bytes != lowWater && LibC.SetSockOpt(fd, LibC.SOL_SOCKET, LibC.SO_RCVLOWAT, &bytes, sizeof(int)) == 0) lowWater = bytes;
    }

    /// <summary>
    /// Sleeps in <c>poll</c> until <paramref name="events"/> (or an error/hang-up the next call reports), in slices
    /// that check for an abort and cancellation. A slice that passes while a receive low-water mark is set drops
    /// it to 1 byte: on a slow link what has arrived is then taken at once, so a receive never waits more than one
    /// slice longer than it would have without the mark (the idle receive timeout keeps its meaning).
    /// </summary>
    private static unsafe void WaitReady(int fd, short events, TransportConnection connection, CancellationToken cancellationToken, ref int lowWater)
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
            else if (lowWater > 1)
            {
                SetLowWater(fd, 1, ref lowWater);
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
