using System.Net;
using StreamKit.Transport.Rdma;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// The <c>rdma://host:port?channels=N</c> side of <see cref="TransportConnector"/> and
/// <see cref="TransportListener"/>: N RC connections through rdma_cm, each wrapped as an
/// <see cref="RdmaConnection"/> that opens with the same preamble as a TCP channel
/// (spec/rdma-transport.md). Every RDMA failure surfaces as a <see cref="TransportException"/>
/// whose inner exception is the typed <see cref="RdmaException"/>; a host without the libraries or
/// without an RDMA device gets <see cref="TransportErrorKind.NotAvailable"/> naming what is missing
/// and the Debian packages (librdmacm1, ibverbs-providers).
/// </summary>
internal static class RdmaTransport
{
    /// <summary>
    /// Message size: a default 1 MiB chunk payload plus its 48-byte header, rounded to a page, so
    /// each chunk of the default size is one message (larger chunks are split, still zero-copy).
    /// </summary>
    internal const int MessageSize = (1 << 20) + 4096;

    /// <summary>The channel sizing sessions use (1 MiB + 4 KiB messages, 8 data credits each way).</summary>
    internal static RdmaChannelOptions ChannelOptions(TransportOptions options) => new()
    {
        ReceiveBufferSize = MessageSize,
        MaxSendBufferSize = MessageSize,
        ConnectTimeout = options.ConnectTimeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromDays(1) : options.ConnectTimeout,
    };

    /// <summary>Checks what an rdma:// address needs before any verbs call.</summary>
    /// <exception cref="TransportException">TLS was asked for, or the libraries or the device are missing.</exception>
    internal static void EnsureUsable(TransportAddress address, TransportOptions options)
    {
        if (options.Tls is not null)
            throw new TransportException(TransportErrorKind.NotAvailable,
                "TLS is not available over rdma:// (the adapter moves the bytes; there is no socket to wrap): use tcp:// for TLS", address.ToString());
        try
        {
            RdmaLibraries.EnsureAvailable();
        }
        catch (RdmaException e)
        {
            throw RdmaErrors.ToTransport(e, address.ToString());
        }
    }

    /// <summary>Opens the channels and writes each one's forward preamble; on any failure none stays open.</summary>
    internal static async Task<ChannelGroup> ConnectAsync(TransportAddress address, Preamble preamble, TransportOptions options, CancellationToken cancellationToken)
    {
        EnsureUsable(address, options);
        var endpoint = new RdmaEndpoint(address.Host!, address.Port, address.Channels);
        var settings = ConnectionSettings.From(options, ConnectionSettings.CreateBucket(options));
        RdmaChannel[] channels;
        try
        {
            channels = await RdmaConnector.ConnectAsync(endpoint, ChannelOptions(options), cancellationToken).ConfigureAwait(false);
        }
        catch (RdmaException e)
        {
            throw RdmaErrors.ToTransport(e, address.ToString());
        }
        var connections = new TransportConnection[channels.Length];
        var preambles = new Preamble[channels.Length];
        for (int i = 0; i < channels.Length; i++)
            connections[i] = new RdmaConnection(channels[i], Describe(channels[i].LocalEndPoint), settings);
        try
        {
            for (int i = 0; i < channels.Length; i++)
            {
                preambles[i] = preamble with { ChannelIndex = (ushort)i, ChannelCount = (ushort)channels.Length, Role = PreambleRole.Forward };
                await PreambleExchange.WriteAsync(connections[i], preambles[i], cancellationToken).ConfigureAwait(false);
            }
            return new ChannelGroup(preamble.StreamId, connections, preambles);
        }
        catch
        {
            foreach (var connection in connections) await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    internal static string Describe(IPEndPoint? endPoint) => "rdma://" + (endPoint?.ToString() ?? "(unknown)");

    /// <summary>The IP address to bind for a listen address (literal, or the name's first IPv4/IPv6 address).</summary>
    internal static IPAddress ResolveListenAddress(TransportAddress address)
    {
        if (IPAddress.TryParse(address.Host, out var literal)) return literal;
        try
        {
            return Dns.GetHostAddresses(address.Host!).OrderBy(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 0 : 1).FirstOrDefault()
                ?? throw new TransportException(TransportErrorKind.Unreachable, $"host '{address.Host}' has no addresses", address.ToString());
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new TransportException(TransportErrorKind.Unreachable, $"cannot resolve host '{address.Host}': {e.Message}", address.ToString(), e);
        }
    }
}
