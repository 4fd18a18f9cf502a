using System.Globalization;

namespace StreamKit.Transport;

/// <summary>The receiving end of a <c>file:</c> address: one stream, read from the file.</summary>
internal sealed class FileListener(TransportAddress address, TransportOptions options) : TransportListener
{
    private int _accepted;

    public override TransportAddress Address => address;

    public override async ValueTask<ChannelGroup> AcceptAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _accepted, 1) != 0)
            throw new InvalidOperationException("a file holds one stream and it was already accepted");
        var connection = FileReceiveConnection.Open(address.Path!);
        try
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (options.HandshakeTimeout != Timeout.InfiniteTimeSpan) deadline.CancelAfter(options.HandshakeTimeout);
            var preamble = await PreambleExchange.ReadAsync(connection, deadline.Token).ConfigureAwait(false);
            if (preamble.ChannelCount != 1 || preamble.Role != StreamKit.Wire.PreambleRole.Forward)
                throw new TransportException(TransportErrorKind.HandshakeRejected, string.Create(CultureInfo.InvariantCulture,
                    $"the file holds channel {preamble.ChannelIndex} of {preamble.ChannelCount} ({preamble.Role}); a file must hold a whole one-channel forward stream"), connection.RemoteEndPoint);
            return new ChannelGroup(preamble.StreamId, [connection], [preamble]);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public override ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
