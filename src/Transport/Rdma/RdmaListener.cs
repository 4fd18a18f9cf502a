using System.Net;
using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// The passive side: listens on an address of an RDMA device and accepts channels. Each
/// connect request is moved to its own event channel, given a queue pair and posted receive
/// buffers, and accepted with our parameters; a request that is not a StreamKit one, or asks
/// for what we cannot do, is rejected with the reason in the reject private data.
/// </summary>
internal sealed class RdmaListener : IDisposable
{
    private readonly RdmaChannelOptions _options;
    private readonly SemaphoreSlim _acceptGate = new(1, 1);
    private readonly CancellationTokenSource _closing = new();
    private CmEventChannel? _events;
    private unsafe RdmaCmId* _id;

    private unsafe RdmaListener(RdmaChannelOptions options, CmEventChannel events, RdmaCmId* id, IPEndPoint local)
    {
        _options = options;
        _events = events;
        _id = id;
        LocalEndPoint = local;
    }

    /// <summary>The bound address, with the real port when port 0 was asked for.</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Connect requests refused so far (not StreamKit, bad parameters, no resources).</summary>
    public int Rejected { get; private set; }

    /// <exception cref="RdmaException">Missing library or device, or the address is not on an RDMA device.</exception>
    internal static unsafe RdmaListener Bind(IPEndPoint local, RdmaChannelOptions options, int backlog = 16)
    {
        options.Validate();
        RdmaLibraries.EnsureAvailable();
        var events = CmEventChannel.Create();
        RdmaCmId* id = null;
        try
        {
            if (CmNative.rdma_create_id(events.Handle, &id, 0, RdmaCm.PortSpaceTcp) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, "rdma_create_id failed");
            byte* address = stackalloc byte[SockAddr.MaxSize];
            SockAddr.Encode(local, new Span<byte>(address, SockAddr.MaxSize));
            if (CmNative.rdma_bind_addr(id, address) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.AddressResolution,
                    $"cannot bind {local}: the address must belong to an RDMA-capable interface, and the port be free");
            if (CmNative.rdma_listen(id, backlog) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, $"rdma_listen on {local} failed");
            IPEndPoint bound = SockAddr.Decode(new ReadOnlySpan<byte>(&id->SrcAddr, SockAddr.MaxSize)) ?? local;
            return new RdmaListener(options, events, id, bound);
        }
        catch
        {
            if (id != null) CmNative.rdma_destroy_id(id);
            events.Dispose();
            throw;
        }
    }

    /// <summary>Waits for the next StreamKit connection and returns its established channel.</summary>
    /// <exception cref="RdmaException">The listener failed, or the accepted peer failed during the handshake.</exception>
    internal async Task<RdmaChannel> AcceptAsync(CancellationToken cancellationToken = default)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        try
        {
            await _acceptGate.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested)
        {
            throw new RdmaException(RdmaErrorKind.Closed, "the listener was closed");
        }
        try
        {
            return await Task.Factory.StartNew(() => Accept(linked.Token), linked.Token,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_closing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new RdmaException(RdmaErrorKind.Closed, "the listener was closed");
        }
        finally
        {
            _acceptGate.Release();
        }
    }

    private RdmaChannel Accept(CancellationToken cancellationToken)
    {
        while (true)
        {
            var events = _events ?? throw new RdmaException(RdmaErrorKind.Closed, "the listener was closed");
            CmEvent evt = events.Wait(Timeout.InfiniteTimeSpan, "a connection request", cancellationToken);
            if (evt.Type == RdmaCmEventType.DeviceRemoval)
                throw new RdmaException(RdmaErrorKind.NoDevice, $"the RDMA device of {LocalEndPoint} was removed");
            if (evt.Type == RdmaCmEventType.ConnectRequest && AcceptRequest(evt, cancellationToken) is { } channel) return channel;
        }
    }

    private unsafe RdmaChannel? AcceptRequest(CmEvent request, CancellationToken cancellationToken)
    {
        RdmaCmId* id = request.Id;
        IPEndPoint? remote = SockAddr.Decode(new ReadOnlySpan<byte>(&id->DstAddr, SockAddr.MaxSize));
        if (ConnectionParameters.TryDecode(request.PrivateData, out var peer) is { } bad)
        {
            Reject(id, bad.Reason, bad.Text);
            return null;
        }
        CmEventChannel? events = null;
        RdmaChannel? channel = null;
        try
        {
            events = CmEventChannel.Create();
            if (CmNative.rdma_migrate_id(id, events.Handle) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, "rdma_migrate_id failed");
            try
            {
                channel = RdmaChannel.Create(id, events, _options, remote);
            }
            catch (RdmaException e)
            {
                Reject(id, RejectReason.NoResources, e.Message);
                id = null;
                throw;
            }
            id = null;
            events = null;

            byte* privateData = stackalloc byte[ConnectionParameters.Size];
            var param = _options.ConnectionParam(privateData);
            if (CmNative.rdma_accept(channel.Id, &param) != 0)
                throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, $"rdma_accept of {remote} failed");
            CmEvent done = channel.Events.Wait(_options.ConnectTimeout, $"{remote} to complete the connection", cancellationToken);
            if (done.Type != RdmaCmEventType.Established)
                throw new RdmaException(RdmaErrorKind.ConnectTimeout,
                    $"{remote} did not complete the connection: {CmNative.EventName(done.Type)} (status {done.Status})");
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

    /// <summary>Refuses a request with a StreamKit reject message, and frees its id.</summary>
    private unsafe void Reject(RdmaCmId* id, RejectReason reason, string text)
    {
        byte* data = stackalloc byte[RejectMessage.MaxSize];
        int length = RejectMessage.Encode(reason, text, new Span<byte>(data, RejectMessage.MaxSize));
        CmNative.rdma_reject(id, data, (byte)length);
        CmNative.rdma_destroy_id(id);
        Rejected++;
    }

    /// <summary>Stops listening; a pending accept ends with <see cref="RdmaErrorKind.Closed"/>.</summary>
    public unsafe void Dispose()
    {
        if (_closing.IsCancellationRequested) return;
        _closing.Cancel();
        _acceptGate.Wait(); // a running accept notices within its 100 ms poll slice; then nothing uses the id
        if (_id != null) CmNative.rdma_destroy_id(_id);
        _id = null;
        _events?.Dispose();
        _events = null;
    }
}
