using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace StreamKit.Transport;

/// <summary>
/// TLS for tcp and unix connections (an <see cref="SslStream"/> over the socket). The server needs a
/// certificate with its private key; the client verifies it against <see cref="TrustedAuthorities"/>
/// (or the system store when none are given) and <see cref="TargetHost"/>. With
/// <see cref="RequireClientCertificate"/> the server demands a client certificate that chains to
/// <see cref="TrustedAuthorities"/> (mutual TLS). A server with TLS refuses plaintext peers, and a
/// TLS client fails cleanly against a plaintext server.
/// </summary>
public sealed class TransportTlsOptions
{
    /// <summary>Server: its certificate (required). Client: the certificate it presents for mutual TLS (optional). Must carry a private key.</summary>
    public X509Certificate2? Certificate { get; init; }

    /// <summary>
    /// CA certificates that the peer's certificate must chain to. Client side: null uses the system trust
    /// store. Server side: required when <see cref="RequireClientCertificate"/> is set. When given, only
    /// these roots are trusted (the system store is ignored).
    /// </summary>
    public X509Certificate2Collection? TrustedAuthorities { get; init; }

    /// <summary>Server: refuse clients without a certificate chaining to <see cref="TrustedAuthorities"/>.</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>Client: the name the server certificate must carry (default: the address's host; "localhost" for unix).</summary>
    public string? TargetHost { get; init; }

    /// <summary>Allowed protocol versions; <see cref="SslProtocols.None"/> lets the OS choose (TLS 1.2/1.3).</summary>
    public SslProtocols Protocols { get; init; } = SslProtocols.None;

    /// <summary>Revocation checking for peer certificates (default: none, as private CAs rarely publish CRLs).</summary>
    public X509RevocationMode RevocationMode { get; init; } = X509RevocationMode.NoCheck;

    /// <summary>Loads a certificate and its private key from PEM files (key in the certificate file when <paramref name="keyPemPath"/> is null).</summary>
    /// <exception cref="TransportException">Kind <see cref="TransportErrorKind.TlsFailed"/> when the files cannot be read or parsed.</exception>
    public static X509Certificate2 LoadCertificate(string certificatePemPath, string? keyPemPath = null)
    {
        try
        {
            var cert = X509Certificate2.CreateFromPemFile(certificatePemPath, keyPemPath);
            if (!cert.HasPrivateKey)
                throw new TransportException(TransportErrorKind.TlsFailed, "certificate has no private key", certificatePemPath);
            return cert;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new TransportException(TransportErrorKind.TlsFailed, $"cannot load certificate/key: {e.Message}", certificatePemPath, e);
        }
    }

    /// <summary>Loads one or more CA certificates from a PEM bundle.</summary>
    /// <exception cref="TransportException">Kind <see cref="TransportErrorKind.TlsFailed"/> when the file cannot be read or holds no certificate.</exception>
    public static X509Certificate2Collection LoadAuthorities(string caPemPath)
    {
        try
        {
            var collection = new X509Certificate2Collection();
            collection.ImportFromPemFile(caPemPath);
            if (collection.Count == 0)
                throw new TransportException(TransportErrorKind.TlsFailed, "no certificate found in the CA file", caPemPath);
            return collection;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
        {
            throw new TransportException(TransportErrorKind.TlsFailed, $"cannot load CA certificates: {e.Message}", caPemPath, e);
        }
    }

    internal void Validate()
    {
        if (Certificate is { HasPrivateKey: false })
            throw new ArgumentException("the TLS certificate must include its private key", nameof(Certificate));
        if (RequireClientCertificate && (TrustedAuthorities is null || TrustedAuthorities.Count == 0))
            throw new ArgumentException("requiring client certificates needs TrustedAuthorities (the CA that signs them)", nameof(TrustedAuthorities));
    }
}
