using System.Net;
using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// The active side: resolves the address and route with rdma_cm, builds the channel's queue
/// pair and posted receive buffers, and connects with our parameters in the private data
/// (spec/rdma-transport.md §3). Blocking verbs calls run on a dedicated thread.
/// </summary>
internal static class RdmaConnector
{
    /// <summary>Opens the N channels of <paramref name="endpoint"/>, in channel order; on any failure none stays open.</summary>
    internal static async Task<RdmaChannel[]> ConnectAsync(RdmaEndpoint endpoint, RdmaChannelOptions options, CancellationToken cancellationToken)
    {
        IPEndPoint remote = await endpoint.ResolveAsync(cancellationToken).ConfigureAwait(false);
        var channels = new RdmaChannel[endpoint.Channels];
        int opened = 0;
        try
        {
            for (; opened < channels.Length; opened++)
                channels[opened] = await ConnectAsync(remote, options, cancellationToken).ConfigureAwait(false);
            return channels;
        }
        catch
        {
            for (int i = 0; i < opened; i++) channels[i].Dispose();
            throw;
        }
    }

    /// <summary>Opens one channel.</summary>
    /// <exception cref="RdmaException">Typed by cause: missing library or device, address, rejection, timeout.</exception>
    internal static Task<RdmaChannel> ConnectAsync(IPEndPoint remote, RdmaChannelOptions options, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Connect(remote, options, cancellationToken), cancellationToken,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);

    internal static unsafe RdmaChannel Connect(IPEndPoint remote, RdmaChannelOptions options, CancellationToken cancellationToken)
    {
        options.Validate();
        RdmaLibraries.EnsureAvailable();
        CmEventChannel? events = CmEventChannel.Create();
        RdmaCmId* id = null;
        RdmaChannel? channel = null;
        try
        {
            if (CmNative.rdma_create_id(events.Handle, &id, 0, RdmaCm.PortSpaceTcp) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, "rdma_create_id failed");
            int timeoutMs = (int)Math.Min(options.ConnectTimeout.TotalMilliseconds, int.MaxValue);
            byte* address = stackalloc byte[SockAddr.MaxSize];
            SockAddr.Encode(remote, new Span<byte>(address, SockAddr.MaxSize));
            if (CmNative.rdma_resolve_addr(id, null, address, timeoutMs) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.AddressResolution, $"rdma_resolve_addr({remote}) failed");
            Expect(events.Wait(options.ConnectTimeout, $"address resolution of {remote}", cancellationToken), RdmaCmEventType.AddrResolved, remote);
            if (CmNative.rdma_resolve_route(id, timeoutMs) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.AddressResolution, $"rdma_resolve_route({remote}) failed");
            Expect(events.Wait(options.ConnectTimeout, $"route resolution to {remote}", cancellationToken), RdmaCmEventType.RouteResolved, remote);

            channel = RdmaChannel.Create(id, events, options, remote);
            id = null;
            events = null;

            byte* privateData = stackalloc byte[ConnectionParameters.Size];
            var param = options.ConnectionParam(privateData);
            if (CmNative.rdma_connect(channel.Id, &param) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, $"rdma_connect({remote}) failed");
            CmEvent reply = channel.Events.Wait(options.ConnectTimeout, $"{remote} to accept the connection", cancellationToken);
            if (reply.Type != RdmaCmEventType.Established) throw ConnectFailure(reply, remote);
            if (ConnectionParameters.TryDecode(reply.PrivateData, out var peer) is { } bad)
                throw new RdmaException(RdmaErrorKind.ProtocolViolation, $"{remote} accepted with unusable parameters: {bad.Text}");
            channel.Start(peer);
            return channel;
        }
        catch
        {
            channel?.Dispose();
            if (id != null) CmNative.rdma_destroy_id(id);
            events?.Dispose();
            throw;
        }
    }

    private static void Expect(CmEvent evt, RdmaCmEventType expected, IPEndPoint remote)
    {
        if (evt.Type == expected) return;
        throw evt.Type switch
        {
            RdmaCmEventType.AddrError => new RdmaException(RdmaErrorKind.AddressResolution,
                $"no RDMA device reaches {remote.Address} (the address must belong to an RDMA-capable interface; status {evt.Status})"),
            RdmaCmEventType.RouteError => new RdmaException(RdmaErrorKind.AddressResolution,
                $"no route to {remote.Address} over RDMA (status {evt.Status})"),
            _ => new RdmaException(RdmaErrorKind.SetupFailed,
                $"expected {CmNative.EventName(expected)} from rdma_cm, got {CmNative.EventName(evt.Type)} (status {evt.Status})"),
        };
    }

    private static RdmaException ConnectFailure(CmEvent evt, IPEndPoint remote)
    {
        if (evt.Type == RdmaCmEventType.Rejected)
        {
            if (RejectMessage.TryDecode(evt.PrivateData) is { } ours)
                return new RdmaException(RdmaErrorKind.ConnectionRejected, $"{remote} rejected the connection ({ours.Reason}): {ours.Text}");
            return evt.Status == RdmaCm.RejectInvalidServiceId
                ? new RdmaException(RdmaErrorKind.ConnectionRejected, $"connection refused: nothing listens on {remote} over RDMA")
                : new RdmaException(RdmaErrorKind.ConnectionRejected, $"{remote} rejected the connection (IB CM reason {evt.Status})");
        }
        if (evt.Type is RdmaCmEventType.Unreachable or RdmaCmEventType.ConnectError)
            return new RdmaException(RdmaErrorKind.ConnectTimeout, $"{remote} is unreachable over RDMA ({CmNative.EventName(evt.Type)}, status {evt.Status})");
        return new RdmaException(RdmaErrorKind.SetupFailed, $"unexpected {CmNative.EventName(evt.Type)} (status {evt.Status}) while connecting to {remote}");
    }
}
