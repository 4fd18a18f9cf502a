using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;

namespace StreamKit.Transport;

/// <summary>
/// TLS over a TCP or Unix socket: an authenticated <see cref="SslStream"/> (see <see cref="TlsHandshake"/>).
/// Encryption copies every byte anyway, so segments are written one after another (SslStream cuts
/// them into records of up to 16 KiB); there is no gather advantage to keep.
/// </summary>
internal sealed class TlsConnection : TransportConnection
{
    private readonly Socket _socket;
    private readonly SslStream _ssl;

    private readonly bool _isClient;

    public TlsConnection(Socket socket, SslStream ssl, TransportKind kind, ConnectionSettings settings, bool isClient)
        : base(kind, SocketConnection.Describe(socket.LocalEndPoint, kind), SocketConnection.Describe(socket.RemoteEndPoint, kind), settings)
    {
        _socket = socket;
        _ssl = ssl;
        _isClient = isClient;
    }

    /// <summary>
    /// With TLS 1.3 the server checks the client certificate after the client has finished its
    /// handshake, so a refused client only sees the connection close, before any byte arrives.
    /// </summary>
    protected override string EarlyCloseHint =>
        _isClient && BytesReceived == 0 && _ssl.LocalCertificate is not null
            ? "; the server closed the TLS connection before sending anything: it may have rejected this client certificate"
            : _isClient && BytesReceived == 0
                ? "; the server closed the TLS connection before sending anything: it may require a client certificate (mutual TLS) that this client did not present, or have rejected this client certificate"
                : "";

    public override bool CanSend => true;
    public override bool CanReceive => true;

    /// <summary>The negotiated protocol (for logs and tests).</summary>
    public System.Security.Authentication.SslProtocols Protocol => _ssl.SslProtocol;

    /// <summary>The peer's certificate subject, if it presented one.</summary>
    public string? RemoteCertificateSubject => _ssl.RemoteCertificate?.Subject;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    protected override async ValueTask SendCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, long totalBytes, CancellationToken cancellationToken)
    {
        for (int i = 0; i < segments.Count; i++)
            if (!segments[i].IsEmpty)
                await _ssl.WriteAsync(segments[i], cancellationToken).ConfigureAwait(false);
    }

    protected override ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        _ssl.ReadAsync(buffer, cancellationToken);

    protected override async ValueTask CompleteSendCoreAsync(CancellationToken cancellationToken)
    {
        await _ssl.ShutdownAsync().ConfigureAwait(false);
        _socket.Shutdown(SocketShutdown.Send);
    }

    protected override void AbortCore(TransportException reason)
    {
        try { _socket.LingerState = new System.Net.Sockets.LingerOption(true, 0); }
        catch (SocketException) { }
        _socket.Dispose();
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        await _ssl.DisposeAsync().ConfigureAwait(false);
        _socket.Dispose();
    }
}
