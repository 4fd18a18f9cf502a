using System.Net;
using System.Net.Sockets;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// An RDMA stream address: <c>rdma://host:port?channels=N</c>. Host is an IPv4 literal, a
/// bracketed IPv6 literal or a name, and must resolve to an address of an RDMA-capable
/// interface (RoCE: the netdev's IP; InfiniBand: the IPoIB address). Port is the rdma_cm
/// port (TCP port space). N channels = N RC connections to the same port.
/// </summary>
internal sealed record RdmaEndpoint(string Host, int Port, int Channels)
{
    internal const string Scheme = "rdma";
    internal const int MaxChannels = 256;

    /// <exception cref="FormatException">Not a valid rdma:// address.</exception>
    internal static RdmaEndpoint Parse(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != Scheme)
            throw new FormatException($"'{text}' is not an rdma://host:port address");
        if (uri.IsDefaultPort || uri.Port <= 0)
            throw new FormatException($"'{text}' has no port: rdma://host:port is required");
        if (uri.AbsolutePath is not ("" or "/") || uri.UserInfo.Length > 0 || uri.Fragment.Length > 0)
            throw new FormatException($"'{text}' has a path, user or fragment; only rdma://host:port?channels=N is allowed");
        int channels = 1;
        string query = uri.Query.TrimStart('?');
        foreach (string part in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            int eq = part.IndexOf('=');
            string key = eq < 0 ? part : part[..eq];
            string value = eq < 0 ? "" : part[(eq + 1)..];
            if (key != "channels")
                throw new FormatException($"unknown option '{key}' in '{text}' (known: channels)");
            if (!int.TryParse(value, System.Globalization.NumberStyles.None, null, out channels) || channels < 1 || channels > MaxChannels)
                throw new FormatException($"channels={value} in '{text}' must be 1..{MaxChannels}");
        }
        return new RdmaEndpoint(uri.IdnHost, uri.Port, channels);
    }

    /// <summary>The IP end point to connect to (literal, or the first IPv4/IPv6 address of the name).</summary>
    /// <exception cref="RdmaException"><see cref="RdmaErrorKind.AddressResolution"/> when the name does not resolve.</exception>
    internal async Task<IPEndPoint> ResolveAsync(CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(Host, out var literal)) return new IPEndPoint(literal, Port);
        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(Host, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new RdmaException(RdmaErrorKind.AddressResolution, $"cannot resolve host '{Host}': {e.Message}", 0, e);
        }
        var address = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
            ?? addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6)
            ?? throw new RdmaException(RdmaErrorKind.AddressResolution, $"host '{Host}' has no IP address");
        return new IPEndPoint(address, Port);
    }

    public override string ToString() =>
        $"{Scheme}://{(Host.Contains(':') ? $"[{Host}]" : Host)}:{Port}" + (Channels == 1 ? "" : $"?channels={Channels}");
}
