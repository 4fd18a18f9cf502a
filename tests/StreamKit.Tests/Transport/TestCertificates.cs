using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace StreamKit.Tests.Transport;

/// <summary>Certificates made at test time: two CAs, a localhost server certificate and client certificates.</summary>
internal static class TestCertificates
{
    private static readonly Lazy<Set> Shared = new(Create);

    public static Set Get() => Shared.Value;

    internal sealed record Set(
        X509Certificate2 Ca,
        X509Certificate2 OtherCa,
        X509Certificate2 Server,
        X509Certificate2 Client,
        X509Certificate2 ClientOfOtherCa);

    private static Set Create()
    {
        var ca = CreateAuthority("StreamKit Test CA");
        var other = CreateAuthority("Some Other CA");
        return new Set(
            ca,
            other,
            Issue(ca, "localhost", server: true),
            Issue(ca, "streamkit-client", server: false),
            Issue(other, "intruder-client", server: false));
    }

    private static X509Certificate2 CreateAuthority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        // Never past the issuer's own expiry (made a moment earlier: a second boundary in between made this throw).
        var notAfter = DateTimeOffset.UtcNow.AddDays(30);
        if (notAfter > authority.NotAfter) notAfter = authority.NotAfter;
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddDays(-1), notAfter, serial);
        return issued.CopyWithPrivateKey(key);
    }
}
