using System.Globalization;
using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// The receiving end of in-process connections (<see cref="MemoryConnection"/> B ends), for running a
/// whole <see cref="ReceiverSession"/> without sockets (the receiver-session fuzz target, tests). It does
/// what <see cref="SocketListener"/> does after the accept: reads each connection's preamble under the
/// handshake deadline, refuses bad ones with a <see cref="RejectionNotice"/>, and groups the rest with a
/// <see cref="ChannelGroupAssembler"/>. One stream: once every connection was offered and none completed
/// a group, <see cref="AcceptAsync"/> fails with the refusals.
/// </summary>
internal sealed class MemoryListener(IReadOnlyList<TransportConnection> connections, TransportOptions options) : TransportListener
{
    private readonly List<TransportConnection> _owned = [.. connections];
    private int _accepted;

    public override TransportAddress Address { get; } = TransportAddress.File("/memory"); // a placeholder: nothing is bound

    public override async ValueTask<ChannelGroup> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _accepted, 1) != 0) throw new InvalidOperationException("a memory listener yields one stream");
        ChannelGroup? completed = null;
        var refusals = new List<string>();
        var assembler = new ChannelGroupAssembler(options, g => completed = g, (e, _) => refusals.Add(e.Detail));
        try
        {
            foreach (var connection in _owned)
            {
                using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                if (options.HandshakeTimeout != Timeout.InfiniteTimeSpan) deadline.CancelAfter(options.HandshakeTimeout);
                Preamble preamble;
                try
                {
                    preamble = await PreambleExchange.ReadAsync(connection, deadline.Token).ConfigureAwait(false);
                }
                catch (TransportException e)
                {
                    refusals.Add(e.Detail);
                    continue;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    refusals.Add(string.Create(CultureInfo.InvariantCulture, $"no complete preamble within {options.HandshakeTimeout.TotalSeconds:0.###} s on {connection.RemoteEndPoint}"));
                    continue;
                }
                if (assembler.Offer(connection, preamble) is { } refusal)
                {
                    await RejectionNotice.TrySendAsync(connection, preamble, StreamErrorCode.BadChannel, refusal.Detail).ConfigureAwait(false);
                    refusals.Add(refusal.Detail);
                }
                if (completed is not null) break;
            }
            if (completed is null)
            {
                throw new TransportException(TransportErrorKind.HandshakeRejected,
                    $"no complete stream from {_owned.Count} in-process connection(s): {(refusals.Count > 0 ? string.Join("; ", refusals) : "channels missing")}");
            }
            for (int i = 0; i < completed.Count; i++) _owned.Remove(completed[i]);
            return completed;
        }
        finally
        {
            assembler.Dispose();
        }
    }

    /// <summary>Closes the connections that did not become part of the accepted stream.</summary>
    public override async ValueTask DisposeAsync()
    {
        foreach (var c in _owned) await c.DisposeAsync().ConfigureAwait(false);
        _owned.Clear();
    }
}
