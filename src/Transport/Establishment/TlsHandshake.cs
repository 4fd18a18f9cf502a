using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace StreamKit.Transport;

/// <summary>
/// Client and server TLS handshakes over a connected socket, with the failures a migration operator
/// meets turned into clear <see cref="TransportException"/>s: a plaintext peer at a TLS listener
/// (<see cref="TransportErrorKind.TlsRequired"/>, detected by peeking at the first bytes before the
/// handshake), a TLS client at a plaintext listener, a missing or untrusted client certificate,
/// an untrusted or misnamed server certificate (<see cref="TransportErrorKind.TlsFailed"/>).
/// The caller bounds the handshake with its token (the listener's per-connection deadline).
/// </summary>
internal static class TlsHandshake
{
    /// <summary>First byte of a TLS handshake record (ContentType.handshake).</summary>
    private const byte TlsHandshakeRecord = 0x16;

    /// <summary>Server-side state prepared once per listener.</summary>
    internal sealed class ServerContext(TransportTlsOptions tls)
    {
        public TransportTlsOptions Tls { get; } = tls;
        public SslStreamCertificateContext Certificate { get; } =
            SslStreamCertificateContext.Create(tls.Certificate ?? throw new ArgumentException("a TLS listener needs TransportTlsOptions.Certificate"), additionalCertificates: null, offline: true);
        public X509ChainPolicy? ClientChainPolicy { get; } = tls.RequireClientCertificate ? BuildPolicy(tls) : null;
    }

    /// <summary>Runs the client handshake; the returned stream owns a <see cref="NetworkStream"/> over <paramref name="socket"/> (not the socket).</summary>
    public static async Task<SslStream> AuthenticateAsClientAsync(Socket socket, TransportTlsOptions tls, string targetHost, string endpoint, CancellationToken cancellationToken)
    {
        var check = new PeerCertificateCheck(isServer: false, targetHost);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = targetHost,
            EnabledSslProtocols = tls.Protocols,
            CertificateRevocationCheckMode = tls.RevocationMode,
            RemoteCertificateValidationCallback = check.Validate,
            CertificateChainPolicy = tls.TrustedAuthorities is { Count: > 0 } ? BuildPolicy(tls) : null,
        };
        if (tls.Certificate is not null) options.ClientCertificates = new X509CertificateCollection { tls.Certificate };
        return await CompleteAsync(ssl, ssl.AuthenticateAsClientAsync(options, cancellationToken), check, endpoint,
            "the server's certificate was rejected",
            "the server closed the connection during the TLS handshake; is it listening without TLS, or did it refuse this client's certificate?").ConfigureAwait(false);
    }

    /// <summary>Checks that the peer starts with a TLS record, then runs the server handshake.</summary>
    public static async Task<SslStream> AuthenticateAsServerAsync(Socket socket, ServerContext context, string endpoint, CancellationToken cancellationToken)
    {
        await RequireTlsClientHelloAsync(socket, endpoint, cancellationToken).ConfigureAwait(false);
        var check = new PeerCertificateCheck(isServer: true, targetHost: null);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
        var options = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = context.Certificate,
            ClientCertificateRequired = context.Tls.RequireClientCertificate,
            EnabledSslProtocols = context.Tls.Protocols,
            CertificateRevocationCheckMode = context.Tls.RevocationMode,
            CertificateChainPolicy = context.ClientChainPolicy,
            RemoteCertificateValidationCallback = context.Tls.RequireClientCertificate ? check.Validate : null,
        };
        return await CompleteAsync(ssl, ssl.AuthenticateAsServerAsync(options, cancellationToken), check, endpoint,
            "the client's certificate was rejected",
            "the client closed the connection during the TLS handshake; it may not trust this server's certificate").ConfigureAwait(false);
    }

    /// <summary>
    /// Awaits a started handshake and turns its failure into a <see cref="TransportErrorKind.TlsFailed"/> error that says
    /// which side gave up and why (a rejected certificate, or the peer hanging up), disposing the stream on any failure.
    /// </summary>
    private static async Task<SslStream> CompleteAsync(SslStream ssl, Task handshake, PeerCertificateCheck check, string endpoint,
        string rejectedMessage, string closedMessage)
    {
        try
        {
            await handshake.ConfigureAwait(false);
            return ssl;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw check.Failure is { } failure
                ? new TransportException(TransportErrorKind.TlsFailed, $"{rejectedMessage}: {failure}", endpoint, e)
                : e is IOException or SocketException
                    ? new TransportException(TransportErrorKind.TlsFailed, closedMessage, endpoint, e)
                    : new TransportException(TransportErrorKind.TlsFailed, $"TLS handshake failed: {e.Message}", endpoint, e);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Peeks (without consuming) at the first bytes: a TLS client starts with a handshake record
    /// (0x16); a plaintext StreamKit peer starts with its preamble magic 0x89 'S' 'K' 'M'.
    /// </summary>
    private static async Task RequireTlsClientHelloAsync(Socket socket, string endpoint, CancellationToken cancellationToken)
    {
        var probe = new byte[8];
        int seen = await socket.ReceiveAsync(probe, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
        if (seen == 0)
            throw new TransportException(TransportErrorKind.ConnectionClosed, "the peer closed the connection before starting TLS", endpoint);
        if (probe[0] == TlsHandshakeRecord) return;
        int matching = 0;
        var magic = StreamKit.Wire.Preamble.Magic;
        while (matching < seen && matching < magic.Length && probe[matching] == magic[matching]) matching++;
        throw matching == Math.Min(seen, magic.Length)
            ? new TransportException(TransportErrorKind.TlsRequired,
                "peer did not start TLS: it sent a plaintext StreamKit preamble (0x89 'S' 'K' 'M'), but this listener requires TLS", endpoint)
            : new TransportException(TransportErrorKind.TlsRequired,
                string.Create(CultureInfo.InvariantCulture, $"peer did not start TLS: its first byte is 0x{probe[0]:X2}, not a TLS handshake record (0x16)"), endpoint);
    }

    private static X509ChainPolicy BuildPolicy(TransportTlsOptions tls)
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = tls.RevocationMode,
        };
        policy.CustomTrustStore.AddRange(tls.TrustedAuthorities!);
        return policy;
    }

    /// <summary>Validates the peer certificate and remembers why it was refused, for the error message.</summary>
    private sealed class PeerCertificateCheck(bool isServer, string? targetHost)
    {
        public string? Failure { get; private set; }

        public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
        {
            if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
            {
                Failure = isServer
                    ? "the client presented no certificate, but this listener requires one (mutual TLS)"
                    : "the server presented no certificate";
                return false;
            }
            if (errors == SslPolicyErrors.None) return true;
            var reasons = new List<string>();
            if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                reasons.Add($"its name does not match '{targetHost}'");
            if ((errors & SslPolicyErrors.RemoteCertificateChainErrors) != 0)
            {
                string status = chain is null ? "unknown" : string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()).Distinct());
                reasons.Add($"it does not chain to a trusted CA ({status})");
            }
            Failure = $"'{certificate.Subject}': {string.Join("; ", reasons)}";
            return false;
        }
    }
}
