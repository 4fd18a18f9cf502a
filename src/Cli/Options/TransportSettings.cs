using System.CommandLine;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// The transport options of one command (TLS, bandwidth) and how they become <see cref="TransportOptions"/>.
/// TLS: the receiver (server) needs --tls-cert (+ --tls-key unless the key is in the same PEM); the
/// sender (client) verifies the server against --tls-ca (system store without it) and presents
/// --tls-cert/--tls-key for mutual TLS; --require-client-cert makes the receiver demand one.
/// </summary>
internal sealed class TransportSettings
{
    private readonly bool _server;
    private readonly Option<string?> _cert = new("--tls-cert") { Description = "PEM certificate (receiver: its server certificate; sender: client certificate for mutual TLS). Enables TLS on tcp/unix.", HelpName = "PEM" };
    private readonly Option<string?> _key = new("--tls-key") { Description = "PEM private key of --tls-cert (default: in the certificate file).", HelpName = "PEM" };
    private readonly Option<string?> _ca = new("--tls-ca") { Description = "PEM CA bundle the peer's certificate must chain to (sender: verifies the receiver; receiver: verifies client certificates).", HelpName = "PEM" };
    private readonly Option<string?> _serverName = new("--tls-server-name") { Description = "Name the receiver's certificate must carry (default: the host of --to; localhost for unix).", HelpName = "NAME" };
    private readonly Option<bool> _requireClient = new("--require-client-cert") { Description = "Refuse senders without a client certificate chaining to --tls-ca (mutual TLS)." };
    private readonly Option<string?> _bandwidth = new("--max-bandwidth") { Description = "Send-side bandwidth limit for the whole stream, e.g. 100MiB/s or 1Gbit/s (default: unlimited).", HelpName = "RATE" };

    private readonly Option<string?> _connectTimeout = new("--connect-timeout") { Description = "Deadline for each connection to be established; over rdma:// it also bounds the receiver's accept (default 10s; raise it for very slow hosts such as emulators).", HelpName = "DURATION" };
    private readonly Option<string?> _handshakeTimeout = new("--handshake-timeout") { Description = "Deadline for each connection's TLS handshake and preamble (default 10s; raise it for very slow hosts such as emulators).", HelpName = "DURATION" };
    private readonly Option<string?> _idleTimeout = new("--idle-timeout") { Description = "A connection that receives nothing, or cannot send, for this long fails (default 30s; keepalives flow while a migration is idle).", HelpName = "DURATION" };

    private TransportSettings(bool server) => _server = server;

    /// <summary>Options for a sender (client side of TLS, bandwidth limit).</summary>
    internal static TransportSettings ForSender(Command command)
    {
        var s = new TransportSettings(server: false);
        return s.AddTo(command, s._cert, s._key, s._ca, s._serverName, s._bandwidth);
    }

    /// <summary>Options for a receiver (server side of TLS).</summary>
    internal static TransportSettings ForReceiver(Command command)
    {
        var s = new TransportSettings(server: true);
        return s.AddTo(command, s._cert, s._key, s._ca, s._requireClient);
    }

    /// <summary>Adds this side's own options, then the connection deadlines both network sides take, in --help order.</summary>
    private TransportSettings AddTo(Command command, params Option[] ownOptions)
    {
        foreach (var option in ownOptions) command.Add(option);
        command.Add(_connectTimeout);
        command.Add(_handshakeTimeout);
        command.Add(_idleTimeout);
        return this;
    }

    /// <summary>Options for a file-only command (save, restore): none of TLS.</summary>
    internal static TransportSettings ForFile(Command command, bool sender)
    {
        var s = new TransportSettings(server: !sender);
        if (sender) command.Add(s._bandwidth);
        return s;
    }

    /// <summary>Builds the transport options; loads PEM files.</summary>
    /// <exception cref="CliUsageException">Inconsistent TLS options.</exception>
    /// <exception cref="TransportException">Kind TlsFailed: a PEM file cannot be read or parsed.</exception>
    internal TransportOptions Build(ParseResult parse, bool overwriteFile = false)
    {
        string? cert = parse.GetValue(_cert), key = parse.GetValue(_key), ca = parse.GetValue(_ca), serverName = parse.GetValue(_serverName);
        bool requireClient = parse.GetValue(_requireClient);
        long bandwidth = parse.GetValue(_bandwidth) is { } rate ? Quantities.BytesPerSecond(rate, "--max-bandwidth") : 0;

        if (key is not null && cert is null) throw new CliUsageException("--tls-key needs --tls-cert");
        if (requireClient && ca is null) throw new CliUsageException("--require-client-cert needs --tls-ca (the CA that signs client certificates)");
        if (requireClient && cert is null) throw new CliUsageException("--require-client-cert needs TLS: give --tls-cert and --tls-key");
        if (_server && ca is not null && cert is null) throw new CliUsageException("the receiver's --tls-ca needs TLS: give --tls-cert and --tls-key");

        TransportTlsOptions? tls = null;
        bool useTls = _server ? cert is not null : cert is not null || ca is not null || serverName is not null;
        if (useTls)
        {
            tls = new TransportTlsOptions
            {
                Certificate = cert is null ? null : TransportTlsOptions.LoadCertificate(cert, key),
                TrustedAuthorities = ca is null ? null : TransportTlsOptions.LoadAuthorities(ca),
                RequireClientCertificate = requireClient,
                TargetHost = serverName,
            };
        }
        var defaults = TransportOptions.Default;
        return new TransportOptions
        {
            Tls = tls,
            BandwidthLimit = bandwidth,
            OverwriteFile = overwriteFile,
            ConnectTimeout = parse.GetValue(_connectTimeout) is { } c ? Quantities.Duration(c, "--connect-timeout") : defaults.ConnectTimeout,
            HandshakeTimeout = parse.GetValue(_handshakeTimeout) is { } h ? Quantities.Duration(h, "--handshake-timeout") : defaults.HandshakeTimeout,
            ChannelGroupTimeout = parse.GetValue(_handshakeTimeout) is { } g ? Quantities.Duration(g, "--handshake-timeout") : defaults.ChannelGroupTimeout,
            IdleReceiveTimeout = parse.GetValue(_idleTimeout) is { } i ? Quantities.Duration(i, "--idle-timeout") : defaults.IdleReceiveTimeout,
            SendTimeout = parse.GetValue(_idleTimeout) is { } t ? Quantities.Duration(t, "--idle-timeout") : defaults.SendTimeout,
        };
    }
}
