using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// Listener for tcp and unix addresses. The accept loop only accepts; each accepted socket is
/// handled concurrently (at most <see cref="MaxConcurrentHandshakes"/> at once) under its own
/// <see cref="TransportOptions.HandshakeTimeout"/>: TLS handshake if configured (plaintext peers are
/// refused with <see cref="TransportErrorKind.TlsRequired"/>), then an exact, bounded read of the
/// preamble, then <see cref="ChannelGroupAssembler"/>. A silent or trickling peer therefore costs one
/// handshake slot until its deadline, never the accept loop.
/// </summary>
internal sealed class SocketListener : GroupingListener
{
    internal const int MaxConcurrentHandshakes = 64;

    private readonly Socket _socket;
    private readonly TransportAddress _address;
    private readonly TransportKind _kind;
    private readonly TlsHandshake.ServerContext? _tls;
    private readonly Task _acceptLoop;
    private int _handshakes;

    private SocketListener(Socket socket, TransportAddress address, TransportOptions options, Action<TransportException>? onRejected)
        : base(options, onRejected)
    {
        _socket = socket;
        _address = address;
        _kind = address.Scheme == TransportScheme.Unix ? TransportKind.Unix : TransportKind.Tcp;
        _tls = options.Tls is { } tls ? new TlsHandshake.ServerContext(tls) : null;
        _acceptLoop = AcceptLoopAsync();
    }

    public override TransportAddress Address => _address;

    /// <summary>Connections currently in their handshake (for tests).</summary>
    internal int PendingHandshakes => Volatile.Read(ref _handshakes);

    public static SocketListener Start(TransportAddress address, TransportOptions options, Action<TransportException>? onRejected)
    {
        if (options.Tls is { Certificate: null })
            throw new ArgumentException("a TLS listener needs TransportTlsOptions.Certificate (the server certificate)", nameof(options));
        string target = address.ToString();
        Socket? socket = null;
        try
        {
            if (address.Scheme == TransportScheme.Unix)
            {
                socket = SocketFactory.Create(AddressFamily.Unix, options);
                socket.Bind(new UnixDomainSocketEndPoint(address.Path!));
                socket.Listen(512);
                return new SocketListener(socket, address, options, onRejected);
            }
            IPAddress ip = IPAddress.TryParse(address.Host, out var literal) ? literal
                : Dns.GetHostAddresses(address.Host!).OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).FirstOrDefault()
                  ?? throw new TransportException(TransportErrorKind.Unreachable, $"host '{address.Host}' has no addresses", target);
            socket = SocketFactory.Create(ip.AddressFamily, options);
            socket.Bind(new IPEndPoint(ip, address.Port));
            socket.Listen(512);
            int port = ((IPEndPoint)socket.LocalEndPoint!).Port;
            return new SocketListener(socket, address.WithPort(port), options, onRejected);
        }
        catch (SocketException e)
        {
            socket?.Dispose();
            string hint = e.SocketErrorCode == SocketError.AddressAlreadyInUse && address.Scheme == TransportScheme.Unix
                ? "; the socket file exists (if no listener owns it, it is stale from an earlier run: remove it)"
                : "";
            throw new TransportException(TransportErrors.Classify(e.SocketErrorCode), $"listen failed: {e.Message} ({e.SocketErrorCode}){hint}", target, e);
        }
        catch
        {
            socket?.Dispose();
            throw;
        }
    }

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        while (!Stopping.IsCancellationRequested)
        {
            Socket accepted;
            try
            {
                accepted = await _socket.AcceptAsync(Stopping.Token).ConfigureAwait(false);
            }
            catch (Exception) when (Stopping.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                // EMFILE, ECONNABORTED and friends: report, breathe, keep listening.
                Report(new TransportException(TransportErrors.Classify(e.SocketErrorCode), $"accept failed: {e.Message} ({e.SocketErrorCode})", _address.ToString(), e));
                try { await Task.Delay(50, Stopping.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            if (Interlocked.Increment(ref _handshakes) > MaxConcurrentHandshakes)
            {
                Interlocked.Decrement(ref _handshakes);
                Report(new TransportException(TransportErrorKind.HandshakeRejected,
                    $"{MaxConcurrentHandshakes} connections are already handshaking; refusing another", SocketConnection.Describe(accepted.RemoteEndPoint, _kind)));
                accepted.Dispose();
                continue;
            }
            Track(HandshakeAsync(accepted));
        }
    }

    private async Task HandshakeAsync(Socket socket)
    {
        string peer = SocketConnection.Describe(socket.RemoteEndPoint, _kind);
        TransportConnection? connection = null;
        bool handedOver = false;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Stopping.Token);
        if (Options.HandshakeTimeout != Timeout.InfiniteTimeSpan) deadline.CancelAfter(Options.HandshakeTimeout);
        try
        {
            if (_kind == TransportKind.Tcp) SocketFactory.ApplyTcpOptions(socket, Options);
            var settings = ConnectionSettings.From(Options, bandwidth: null);
            if (_tls is not null)
            {
                try
                {
                    var ssl = await TlsHandshake.AuthenticateAsServerAsync(socket, _tls, peer, deadline.Token).ConfigureAwait(false);
                    connection = new TlsConnection(socket, ssl, _kind, settings, isClient: false);
                }
                catch (TransportException e) when (e.Kind == TransportErrorKind.TlsRequired)
                {
                    // A plaintext StreamKit peer: read its preamble in plaintext to address a notice it can read.
                    connection = new SocketConnection(socket, _kind, settings);
                    await TryNotifyPlaintextPeerAsync(connection, e, deadline.Token).ConfigureAwait(false);
                    throw;
                }
            }
            else
            {
                connection = new SocketConnection(socket, _kind, settings);
            }
            var preamble = await PreambleExchange.ReadAsync(connection, deadline.Token).ConfigureAwait(false);
            if (await OfferAsync(connection, preamble).ConfigureAwait(false))
            {
                connection = null;
                handedOver = true; // the assembler owns it now
            }
        }
        catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException)
        {
            long received = connection?.BytesReceived ?? 0;
            string what = _tls is not null && connection is null ? "TLS handshake" : "preamble";
            Report(new TransportException(TransportErrorKind.Timeout, string.Create(CultureInfo.InvariantCulture,
                $"no complete {what} within {Options.HandshakeTimeout.TotalSeconds:0.###} s ({received} bytes received); closing"), peer));
        }
        catch (TransportException e)
        {
            Report(e);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            Report(TransportErrors.Classify(e, "accepting a channel", peer));
        }
        finally
        {
            if (connection is not null) await connection.DisposeAsync().ConfigureAwait(false);
            else if (!handedOver) socket.Dispose();
            Interlocked.Decrement(ref _handshakes);
        }
    }

    private static async Task TryNotifyPlaintextPeerAsync(TransportConnection connection, TransportException refusal, CancellationToken cancellationToken)
    {
        try
        {
            var preamble = await PreambleExchange.ReadAsync(connection, cancellationToken).ConfigureAwait(false);
            await RejectionNotice.TrySendAsync(connection, preamble, StreamErrorCode.ConnectionFailed, $"this listener requires TLS ({refusal.Detail})").ConfigureAwait(false);
        }
        catch (Exception e) when (e is TransportException or OperationCanceledException)
        {
            // Not a readable preamble after all; the refusal stands without a notice.
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (!BeginDispose()) return;
        _socket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        await EndDisposeAsync().ConfigureAwait(false);
        if (_kind == TransportKind.Unix)
        {
            try { File.Delete(_address.Path!); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* best effort */ }
        }
    }
}
