using System.Globalization;
using System.Net;
using StreamKit.Transport.Rdma;

namespace StreamKit.Transport;

/// <summary>
/// Listener for rdma:// addresses: rdma_cm accepts each RC connection (its transport handshake
/// exchanges buffer sizes and credits), then, concurrently and under
/// <see cref="TransportOptions.HandshakeTimeout"/>, the channel's preamble is read and the channel
/// goes to the same <see cref="ChannelGroupAssembler"/> as TCP channels.
/// </summary>
internal sealed class RdmaTransportListener : GroupingListener
{
    private readonly RdmaListener _listener;
    private readonly TransportAddress _address;
    private readonly Task _acceptLoop;

    private RdmaTransportListener(RdmaListener listener, TransportAddress address, TransportOptions options, Action<TransportException>? onRejected)
        : base(options, onRejected)
    {
        _listener = listener;
        _address = address;
        _acceptLoop = AcceptLoopAsync();
    }

    public override TransportAddress Address => _address;

    /// <exception cref="TransportException">Libraries or device missing, TLS asked for, or the address is not on an RDMA device.</exception>
    public static RdmaTransportListener Start(TransportAddress address, TransportOptions options, Action<TransportException>? onRejected)
    {
        RdmaTransport.EnsureUsable(address, options);
        var ip = RdmaTransport.ResolveListenAddress(address);
        RdmaListener listener;
        try
        {
            listener = RdmaListener.Bind(new IPEndPoint(ip, address.Port), RdmaTransport.ChannelOptions(options));
        }
        catch (RdmaException e)
        {
            throw RdmaErrors.ToTransport(e, address.ToString());
        }
        return new RdmaTransportListener(listener, address.WithPort(listener.LocalEndPoint.Port), options, onRejected);
    }

    private async Task AcceptLoopAsync()
    {
        await Task.Yield();
        while (!Stopping.IsCancellationRequested)
        {
            RdmaChannel channel;
            try
            {
                channel = await _listener.AcceptAsync(Stopping.Token).ConfigureAwait(false);
            }
            catch (Exception) when (Stopping.IsCancellationRequested)
            {
                return;
            }
            catch (RdmaException e)
            {
                // A peer that failed its transport handshake, or a device problem: report, breathe, keep listening.
                Report(RdmaErrors.ToTransport(e, _address.ToString()));
                try { await Task.Delay(50, Stopping.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
                continue;
            }
            Track(HandshakeAsync(channel));
        }
    }

    private async Task HandshakeAsync(RdmaChannel channel)
    {
        var connection = new RdmaConnection(channel, RdmaTransport.Describe(channel.LocalEndPoint), ConnectionSettings.From(Options, bandwidth: null));
        bool handedOver = false;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(Stopping.Token);
        if (Options.HandshakeTimeout != Timeout.InfiniteTimeSpan) deadline.CancelAfter(Options.HandshakeTimeout);
        try
        {
            var preamble = await PreambleExchange.ReadAsync(connection, deadline.Token).ConfigureAwait(false);
            handedOver = await OfferAsync(connection, preamble).ConfigureAwait(false); // taken: the assembler owns it now
        }
        catch (OperationCanceledException) when (Stopping.IsCancellationRequested)
        {
        }
        catch (OperationCanceledException)
        {
            Report(new TransportException(TransportErrorKind.Timeout, string.Create(CultureInfo.InvariantCulture,
                $"no complete preamble within {Options.HandshakeTimeout.TotalSeconds:0.###} s ({connection.BytesReceived} bytes received); closing"), connection.RemoteEndPoint));
        }
        catch (TransportException e)
        {
            Report(e);
        }
        finally
        {
            if (!handedOver) await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    public override async ValueTask DisposeAsync()
    {
        if (!BeginDispose()) return;
        await Task.Run(_listener.Dispose).ConfigureAwait(false); // waits for a running accept's poll slice
        await _acceptLoop.ConfigureAwait(false);
        await EndDisposeAsync().ConfigureAwait(false);
    }
}
