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
                    await socket.ConnectAsync(new IPEndPoint(ip, address.Port), deadline.Token).ConfigureAwait(false);
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
