using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace StreamKit.Transport;

/// <summary>
/// A parsed transport URI. Accepted forms (no percent-decoding; <c>?</c> starts the query):
/// <code>
/// tcp://host:port[?channels=N]        host: name, IPv4, or [IPv6]; port 0..65535 (0 = any, listen only)
/// unix:/abs/path[?channels=N]         also unix:///abs/path and unix:relative/path
/// file:/abs/path                      also file:///abs/path and file:relative/path; one channel only
/// rdma://host:port[?channels=N]       N RC connections over RDMA (host: an address of an RDMA interface)
/// </code>
/// <c>channels</c> is 1..<see cref="MaxChannels"/> (default 1). Unknown query keys are errors, so a
/// typo never silently means "one channel".
/// </summary>
public sealed record TransportAddress
{
    /// <summary>Largest channel count a URI may ask for.</summary>
    public const int MaxChannels = 256;

    /// <summary>Longest Unix socket path (sun_path is 108 bytes including the terminating NUL).</summary>
    internal const int MaxUnixPathBytes = 107;

    private TransportAddress(TransportScheme scheme, string? host, int port, string? path, int channels)
    {
        Scheme = scheme;
        Host = host;
        Port = port;
        Path = path;
        Channels = channels;
    }

    /// <summary>Which transport.</summary>
    public TransportScheme Scheme { get; }

    /// <summary>Host name or IP literal (without brackets) for tcp and rdma; null otherwise.</summary>
    public string? Host { get; }

    /// <summary>Port for tcp and rdma; 0 otherwise.</summary>
    public int Port { get; }

    /// <summary>Socket or file path for unix and file; null otherwise.</summary>
    public string? Path { get; }

    /// <summary>Number of parallel connections (always 1 for file).</summary>
    public int Channels { get; }

    /// <summary>Creates a TCP address.</summary>
    public static TransportAddress Tcp(string host, int port, int channels = 1) =>
        Parse(string.Create(CultureInfo.InvariantCulture, $"tcp://{FormatHost(host)}:{port}?channels={channels}"));

    /// <summary>Creates a Unix socket address.</summary>
    public static TransportAddress Unix(string path, int channels = 1) =>
        Validate(new TransportAddress(TransportScheme.Unix, null, 0, path, channels), path);

    /// <summary>Creates a file address.</summary>
    public static TransportAddress File(string path) =>
        Validate(new TransportAddress(TransportScheme.File, null, 0, path, 1), path);

    /// <summary>This address with another port (a listener bound to port 0 reports its real port this way).</summary>
    internal TransportAddress WithPort(int port) => new(Scheme, Host, port, Path, Channels);

    /// <summary>Parses a transport URI.</summary>
    /// <exception cref="TransportException">Kind <see cref="TransportErrorKind.InvalidAddress"/>, saying what is wrong.</exception>
    public static TransportAddress Parse(string uri)
    {
        if (TryParse(uri, out var address, out string? error)) return address;
        throw new TransportException(TransportErrorKind.InvalidAddress, error, uri);
    }

    /// <summary>Parses a transport URI without throwing.</summary>
    public static bool TryParse(string? uri, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TransportAddress? address,
        [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        address = null;
        if (string.IsNullOrWhiteSpace(uri)) { error = "empty address; expected tcp://host:port, unix:/path or file:/path"; return false; }
        int colon = uri.IndexOf(':');
        if (colon <= 0) { error = $"'{uri}' has no scheme; expected tcp://host:port, unix:/path or file:/path"; return false; }
        string scheme = uri[..colon].ToLowerInvariant();
        string rest = uri[(colon + 1)..];
        string? query = null;
        int q = rest.IndexOf('?');
        if (q >= 0) { query = rest[(q + 1)..]; rest = rest[..q]; }
        if (rest.Contains('#')) { error = "fragments (#...) are not allowed in a transport address"; return false; }
        switch (scheme)
        {
            case "tcp":
            case "rdma":
            {
                var kind = scheme == "tcp" ? TransportScheme.Tcp : TransportScheme.Rdma;
                if (!rest.StartsWith("//", StringComparison.Ordinal)) { error = $"expected {scheme}://host:port"; return false; }
                if (!TryParseHostPort(rest[2..], scheme, out string? host, out int port, out error)) return false;
                if (!TryParseChannels(query, allowChannels: true, out int channels, out error)) return false;
                address = new TransportAddress(kind, host, port, null, channels);
                return true;
            }
            case "unix":
            case "file":
            {
                var kind = scheme == "unix" ? TransportScheme.Unix : TransportScheme.File;
                string path = rest;
                if (path.StartsWith("//", StringComparison.Ordinal))
                {
                    // unix:///p and file:///p: empty authority; "localhost" is the only other authority RFC 8089 allows.
                    string afterSlashes = path[2..];
                    int slash = afterSlashes.IndexOf('/');
                    string authority = slash < 0 ? afterSlashes : afterSlashes[..slash];
                    if (authority.Length != 0 && !authority.Equals("localhost", StringComparison.OrdinalIgnoreCase))
                    { error = $"{scheme}: addresses name a local path; host '{authority}' is not allowed (use {scheme}:/path)"; return false; }
                    path = slash < 0 ? "" : afterSlashes[slash..];
                }
                if (path.Length == 0) { error = $"{scheme}: address has no path"; return false; }
                if (path.Contains('\0')) { error = "path contains a NUL character"; return false; }
                if (!TryParseChannels(query, allowChannels: kind == TransportScheme.Unix, out int channels, out error)) return false;
                if (kind == TransportScheme.Unix && Encoding.UTF8.GetByteCount(path) > MaxUnixPathBytes)
                { error = $"Unix socket path is {Encoding.UTF8.GetByteCount(path)} bytes; the limit is {MaxUnixPathBytes}"; return false; }
                address = new TransportAddress(kind, null, 0, path, channels);
                return true;
            }
            default:
                error = $"unknown scheme '{scheme}'; expected tcp, unix, file or rdma";
                return false;
        }
    }

    private static bool TryParseHostPort(string authority, string scheme, out string? host, out int port, [NotNullWhen(false)] out string? error)
    {
        host = null; port = 0;
        if (authority.Contains('/') && authority.IndexOf('/') != authority.Length - 1) { error = $"{scheme}: addresses take no path"; return false; }
        authority = authority.TrimEnd('/');
        if (authority.Contains('@')) { error = "user information (user@host) is not allowed"; return false; }
        string portText;
        if (authority.StartsWith('['))
        {
            int close = authority.IndexOf(']');
            if (close < 0) { error = "IPv6 literal is missing ']'"; return false; }
            host = authority[1..close];
            if (!System.Net.IPAddress.TryParse(host, out var ip) || ip.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            { error = $"'{host}' is not an IPv6 address"; return false; }
            string after = authority[(close + 1)..];
            if (!after.StartsWith(':')) { error = $"expected {scheme}://[ipv6]:port"; return false; }
            portText = after[1..];
        }
        else
        {
            int colon = authority.LastIndexOf(':');
            if (colon < 0) { error = $"missing port; expected {scheme}://host:port"; return false; }
            host = authority[..colon];
            if (host.Contains(':')) { error = "IPv6 literals must be written in brackets: [::1]:port"; return false; }
            portText = authority[(colon + 1)..];
        }
        if (host.Length == 0) { error = "empty host"; return false; }
        if (host.Any(ch => char.IsWhiteSpace(ch) || char.IsControl(ch))) { error = $"host '{host}' contains whitespace or control characters"; return false; }
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
        { error = $"port '{portText}' is not a number in 0..65535"; return false; }
        error = null;
        return true;
    }

    private static bool TryParseChannels(string? query, bool allowChannels, out int channels, [NotNullWhen(false)] out string? error)
    {
        channels = 1;
        error = null;
        if (string.IsNullOrEmpty(query)) return true;
        bool seen = false;
        foreach (string pair in query.Split('&'))
        {
            int eq = pair.IndexOf('=');
            string key = eq < 0 ? pair : pair[..eq];
            string value = eq < 0 ? "" : pair[(eq + 1)..];
            if (!key.Equals("channels", StringComparison.OrdinalIgnoreCase))
            { error = $"unknown parameter '{key}' (only 'channels' is recognised)"; return false; }
            if (!allowChannels) { error = "this scheme carries exactly one channel; remove ?channels"; return false; }
            if (seen) { error = "'channels' given twice"; return false; }
            seen = true;
            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out channels) || channels < 1 || channels > MaxChannels)
            { error = $"channels '{value}' is not a number in 1..{MaxChannels}"; return false; }
        }
        return true;
    }

    private static TransportAddress Validate(TransportAddress candidate, string path)
    {
        // Round-trip through the parser so the factory methods enforce the same rules as URIs.
        var parsed = Parse(candidate.ToString());
        if (parsed.Path != path)
            throw new TransportException(TransportErrorKind.InvalidAddress, $"path '{path}' cannot be written as a {candidate.Scheme} address (it contains '?' or '#')", path);
        return parsed;
    }

    private static string FormatHost(string host) => host.Contains(':') && !host.StartsWith('[') ? $"[{host}]" : host;

    /// <summary>The canonical URI form; <see cref="Parse"/> of it gives an equal address.</summary>
    public override string ToString()
    {
        string channels = Channels == 1 ? "" : string.Create(CultureInfo.InvariantCulture, $"?channels={Channels}");
        return Scheme switch
        {
            TransportScheme.Tcp => string.Create(CultureInfo.InvariantCulture, $"tcp://{FormatHost(Host!)}:{Port}{channels}"),
            TransportScheme.Rdma => string.Create(CultureInfo.InvariantCulture, $"rdma://{FormatHost(Host!)}:{Port}{channels}"),
            TransportScheme.Unix => Path!.StartsWith('/') ? $"unix://{Path}{channels}" : $"unix:{Path}{channels}",
            _ => Path!.StartsWith('/') ? $"file://{Path}" : $"file:{Path}",
        };
    }
}
