using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace StreamKit.Transport;

/// <summary>Creates, configures and connects sockets for tcp and unix addresses.</summary>
internal static class SocketFactory
{
    // Linux TCP_USER_TIMEOUT (include/uapi/linux/tcp.h): ms that sent data may stay unacknowledged
    // before the kernel drops the connection; bounds a send to a dead peer even with a full buffer.
    private const int IpProtoTcp = 6;
    private const int TcpUserTimeout = 18;

    /// <summary>A stream socket for <paramref name="family"/> with buffer sizes (and for TCP: no-delay, keepalive) applied.</summary>
    public static Socket Create(AddressFamily family, TransportOptions options)
    {
        var socket = family == AddressFamily.Unix
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            ApplyBuffers(socket, options);
            if (family != AddressFamily.Unix) ApplyTcpOptions(socket, options);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>SO_SNDBUF/SO_RCVBUF (set before connect/listen so TCP window scaling can use them).</summary>
    public static void ApplyBuffers(Socket socket, TransportOptions options)
    {
        if (options.SocketBufferSize <= 0) return;
        socket.SendBufferSize = options.SocketBufferSize;
        socket.ReceiveBufferSize = options.SocketBufferSize;
    }

    /// <summary>TCP_NODELAY (chunks are already large; no Nagle delay on the last one), keepalive, user timeout.</summary>
    public static void ApplyTcpOptions(Socket socket, TransportOptions options)
    {
        socket.NoDelay = true;
        if (options.KeepAliveTime != Timeout.InfiniteTimeSpan)
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Math.Ceiling(options.KeepAliveTime.TotalSeconds));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)Math.Ceiling(options.KeepAliveInterval.TotalSeconds));
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, options.KeepAliveProbes);
        }
        if (OperatingSystem.IsLinux() && options.SendTimeout != Timeout.InfiniteTimeSpan)
            socket.SetRawSocketOption(IpProtoTcp, TcpUserTimeout, BitConverter.GetBytes((int)options.SendTimeout.TotalMilliseconds));
    }

    /// <summary>Connects one socket to a tcp or unix address within the connect timeout.</summary>
    /// <remarks>
    /// No connect leaves the socket registered with the runtime's epoll thread: an async operation that has to
    /// wait registers its socket for good, after which every readiness edge of the bulk stream (data, ACKs
    /// freeing send space) wakes that thread and a thread-pool worker, although the channel's sends and
    /// receives are blocking calls that never use them. A non-blocking TCP connect always waits (EINPROGRESS),
    /// so TCP connects with a blocking <c>connect</c> on a thread of its own (<see cref="ConnectBlockingAsync"/>).
    /// A Unix connect never waits (it succeeds, is refused, or fails at once when the listener's backlog is
    /// full), so its async form completes inline and registers nothing. DNS involves no socket and stays async.
    /// </remarks>
    /// <exception cref="TransportException">Refused, unreachable, timed out, or bad address.</exception>
    public static async Task<Socket> ConnectAsync(TransportAddress address, TransportOptions options, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.ConnectTimeout != Timeout.InfiniteTimeSpan) deadline.CancelAfter(options.ConnectTimeout);
        string target = address.ToString();
        try
        {
            if (address.Scheme == TransportScheme.Unix)
                return await ConnectUnixAsync(address.Path!, options, deadline.Token).ConfigureAwait(false);
            if (address.Port == 0)
                throw new TransportException(TransportErrorKind.InvalidAddress, "port 0 is only valid for listening", target);
            IPAddress[] candidates = IPAddress.TryParse(address.Host, out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(address.Host!, deadline.Token).ConfigureAwait(false);
            if (candidates.Length == 0)
                throw new TransportException(TransportErrorKind.Unreachable, $"host '{address.Host}' has no addresses", target);
            SocketException? last = null;
            foreach (var ip in candidates)
            {
                var socket = Create(ip.AddressFamily, options);
                try
                {
                    await ConnectBlockingAsync(socket, new IPEndPoint(ip, address.Port), deadline.Token).ConfigureAwait(false);
                    return socket;
                }
                catch (SocketException e)
                {
                    socket.Dispose();
                    last = e;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }
            throw new TransportException(TransportErrors.Classify(last!.SocketErrorCode), $"connect failed: {last.Message} ({last.SocketErrorCode})", target, last);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TransportException(TransportErrorKind.Timeout,
                string.Create(CultureInfo.InvariantCulture, $"connect did not complete within {options.ConnectTimeout.TotalSeconds:0.###} s"), target);
        }
        catch (SocketException e)
        {
            throw new TransportException(TransportErrors.Classify(e.SocketErrorCode), $"connect failed: {e.Message} ({e.SocketErrorCode})", target, e);
        }
    }

    /// <summary>
    /// A blocking <c>connect</c> of a fresh socket (whose fd .NET still keeps blocking: the call is the plain
    /// syscall, no epoll registration) on a thread of its own. The deadline or a cancellation disposes the
    /// socket, which on Linux aborts the pending connect (the runtime disconnects a socket closed while a call
    /// on it blocks); the caller then gets <see cref="OperationCanceledException"/>, as from an async connect.
    /// </summary>
    private static async Task ConnectBlockingAsync(Socket socket, EndPoint endPoint, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var connecting = DedicatedThread.Run("streamkit-connect", () => socket.Connect(endPoint));
        try
        {
            using (cancellationToken.UnsafeRegister(static s => ((Socket)s!).Dispose(), socket))
                await connecting.ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("the connect was cancelled", e, cancellationToken);
        }
        // Cancelled just as the connect completed: the socket may be disposed already.
        cancellationToken.ThrowIfCancellationRequested();
    }

    private static async Task<Socket> ConnectUnixAsync(string path, TransportOptions options, CancellationToken cancellationToken)
    {
        var socket = Create(AddressFamily.Unix, options);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.ConnectionRefused)
        {
            socket.Dispose();
            string why = File.Exists(path) ? "nothing is listening on the socket file" : "the socket file does not exist";
            throw new TransportException(TransportErrorKind.ConnectionRefused, $"connect failed: {why} ({e.SocketErrorCode})", $"unix:{path}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
