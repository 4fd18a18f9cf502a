using System.Security.Cryptography.X509Certificates;
using StreamKit.Transport;
using StreamKit.Wire;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>TLS over TCP and Unix sockets: server auth, mutual auth, and the ways it must fail clearly.</summary>
public class TlsTests
{
    private static readonly TestCertificates.Set Certs = TestCertificates.Get();

    private static TransportOptions Server(bool requireClient = false, X509Certificate2? serverCert = null) => new()
    {
        HandshakeTimeout = TimeSpan.FromSeconds(10),
        Tls = new TransportTlsOptions
        {
            Certificate = serverCert ?? Certs.Server,
            RequireClientCertificate = requireClient,
            TrustedAuthorities = requireClient ? new X509Certificate2Collection(Certs.Ca) : null,
        },
    };

    private static TransportOptions Client(X509Certificate2? clientCert = null, X509Certificate2? trust = null, string? host = null) => new()
    {
        Tls = new TransportTlsOptions
        {
            Certificate = clientCert,
            TrustedAuthorities = new X509Certificate2Collection(trust ?? Certs.Ca),
            TargetHost = host,
        },
    };

    [Theory]
    [InlineData(TransportScheme.Tcp)]
    [InlineData(TransportScheme.Unix)]
    public async Task TlsCarriesBytesExactlyBothWays(TransportScheme scheme)
    {
        var ct = Deadline();
        var address = scheme == TransportScheme.Tcp ? LoopbackTcp(2) : TempUnix(2);
        var (sender, receiver) = await OpenAsync(address, Server(), ct, Client());
        await using (sender)
        await using (receiver)
        {
            Assert.IsType<TlsConnection>(sender[0]);
            Assert.IsType<TlsConnection>(receiver[1]);
            var data = RandomBytes(1 << 20, 21);
            using var pool = new PinnedBufferPool(16 << 20, 1 << 20, trackLeaks: true);
            var receiving = Task.Run(() => ReceiveAllAsync(receiver[1], pool, data, 22, ct), ct);
            await SendAllAsync(sender[1], data, 23, ct);
            await sender[1].CompleteSendAsync(ct);
            await receiving;
            pool.AssertNoLeaks();

            await receiver[0].SendAsync("ack"u8.ToArray(), ct);
            var reply = new byte[3];
            await sender[0].ReceiveExactlyAsync(reply, ct);
            Assert.Equal("ack"u8.ToArray(), reply);
        }
    }

    [Fact]
    public async Task MutualTlsAcceptsAClientCertificateFromTheTrustedCa()
    {
        var ct = Deadline();
        var (sender, receiver) = await OpenAsync(LoopbackTcp(), Server(requireClient: true), ct, Client(Certs.Client));
        await using (sender)
        await using (receiver)
        {
            var server = Assert.IsType<TlsConnection>(receiver[0]);
            Assert.Contains("CN=streamkit-client", server.RemoteCertificateSubject);
            await sender[0].SendAsync(new byte[] { 42 }, ct);
            var one = new byte[1];
            await receiver[0].ReceiveExactlyAsync(one, ct);
            Assert.Equal(42, one[0]);
        }
    }

    [Fact]
    public async Task MissingClientCertificateIsRejectedWhenRequired()
    {
        var rejection = await RejectedClientAsync(Client(clientCert: null));
        Assert.Equal(TransportErrorKind.TlsFailed, rejection.Kind);
        Assert.Contains("presented no certificate", rejection.Message);
    }

    [Fact]
    public async Task ClientCertificateFromAnotherCaIsRejected()
    {
        var rejection = await RejectedClientAsync(Client(Certs.ClientOfOtherCa));
        Assert.Equal(TransportErrorKind.TlsFailed, rejection.Kind);
        Assert.Contains("CN=intruder-client", rejection.Message);
        Assert.Contains("does not chain to a trusted CA", rejection.Message);
    }

    /// <summary>
    /// Runs a client the server must refuse. The server reports why; the client fails too (in the
    /// handshake, or with TLS 1.3 on its first read, since the server decides after the client finished).
    /// </summary>
    private static async Task<TransportException> RejectedClientAsync(TransportOptions client)
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Server(requireClient: true), rejections.Add);
        var clientFailure = await Assert.ThrowsAsync<TransportException>(async () =>
        {
            await using var group = await TransportConnector.ConnectAsync(listener.Address, NewPreamble(), client, ct);
            await group[0].ReceiveExactlyAsync(new byte[16], ct);
        });
        Assert.True(clientFailure.Kind is TransportErrorKind.TlsFailed or TransportErrorKind.ConnectionReset or TransportErrorKind.ConnectionClosed,
            $"client saw {clientFailure.Kind}: {clientFailure.Message}");
        if (clientFailure.Kind == TransportErrorKind.ConnectionClosed)
            Assert.Contains("client certificate", clientFailure.Message);
        return await rejections.NextAsync(ct);
    }

    [Fact]
    public async Task ClientRejectsAServerItDoesNotTrust()
    {
        var ct = Deadline();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Server());
        var e = await Assert.ThrowsAsync<TransportException>(() =>
            TransportConnector.ConnectAsync(listener.Address, NewPreamble(), Client(trust: Certs.OtherCa), ct));
        Assert.Equal(TransportErrorKind.TlsFailed, e.Kind);
        Assert.Contains("server's certificate was rejected", e.Message);
        Assert.Contains("does not chain to a trusted CA", e.Message);
    }

    [Fact]
    public async Task ClientRejectsAServerCertificateForAnotherName()
    {
        var ct = Deadline();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Server());
        var e = await Assert.ThrowsAsync<TransportException>(() =>
            TransportConnector.ConnectAsync(listener.Address, NewPreamble(), Client(host: "migration.example.org"), ct));
        Assert.Equal(TransportErrorKind.TlsFailed, e.Kind);
        Assert.Contains("does not match 'migration.example.org'", e.Message);
    }

    [Fact]
    public async Task PlaintextPeerIsRefusedByATlsListener()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), Server(), rejections.Add);
        await using var plain = await TransportConnector.ConnectAsync(listener.Address, NewPreamble(), null, ct);

        var rejection = await rejections.NextAsync(ct);
        Assert.Equal(TransportErrorKind.TlsRequired, rejection.Kind);
        Assert.Contains("peer did not start TLS", rejection.Message);
        Assert.Contains("plaintext StreamKit preamble", rejection.Message);
        // The plaintext peer can read why on its return direction.
        var (code, text) = await ReadRejectionAsync(plain[0], ct);
        Assert.Equal(StreamErrorCode.ConnectionFailed, code);
        Assert.Contains("requires TLS", text);
    }

    [Fact]
    public async Task TlsClientFailsClearlyAgainstAPlaintextListener()
    {
        var ct = Deadline();
        var rejections = new Rejections();
        await using var listener = TransportListener.Bind(LoopbackTcp(), new TransportOptions(), rejections.Add);
        var e = await Assert.ThrowsAsync<TransportException>(() => TransportConnector.ConnectAsync(listener.Address, NewPreamble(), Client(), ct));
        Assert.Equal(TransportErrorKind.TlsFailed, e.Kind);
        Assert.Contains("listening without TLS", e.Message);

        var rejection = await rejections.NextAsync(ct);
        Assert.Equal(TransportErrorKind.HandshakeRejected, rejection.Kind);
        Assert.Contains("peer started a TLS handshake", rejection.Message);
    }

    [Fact]
    public async Task CertificatesLoadFromPemFiles()
    {
        var ct = Deadline();
        string dir = Directory.CreateTempSubdirectory("streamkit-pem-").FullName;
        try
        {
            string certPath = Path.Combine(dir, "server.pem"), keyPath = Path.Combine(dir, "server.key"), caPath = Path.Combine(dir, "ca.pem");
            await File.WriteAllTextAsync(certPath, Certs.Server.ExportCertificatePem(), ct);
            await File.WriteAllTextAsync(keyPath, Certs.Server.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem(), ct);
            await File.WriteAllTextAsync(caPath, Certs.Ca.ExportCertificatePem() + "\n" + Certs.OtherCa.ExportCertificatePem(), ct);

            var serverCert = TransportTlsOptions.LoadCertificate(certPath, keyPath);
            var authorities = TransportTlsOptions.LoadAuthorities(caPath);
            Assert.Equal(2, authorities.Count);
            var client = new TransportOptions { Tls = new TransportTlsOptions { TrustedAuthorities = authorities } };
            var (sender, receiver) = await OpenAsync(LoopbackTcp(), Server(serverCert: serverCert), ct, client);
            await sender.DisposeAsync();
            await receiver.DisposeAsync();

            var missingKey = Assert.Throws<TransportException>(() => TransportTlsOptions.LoadCertificate(certPath));
            Assert.Equal(TransportErrorKind.TlsFailed, missingKey.Kind);
            var missingFile = Assert.Throws<TransportException>(() => TransportTlsOptions.LoadAuthorities(Path.Combine(dir, "nope.pem")));
            Assert.Equal(TransportErrorKind.TlsFailed, missingFile.Kind);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
