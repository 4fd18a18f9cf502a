using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// The N channels of one stream, in channel-index order, each with the forward preamble it opened
/// with (written by <see cref="TransportConnector"/>, read and checked by a listener). A session
/// sends or receives chunks on every channel; the preambles' capabilities and limits are its to check.
/// </summary>
internal sealed class ChannelGroup : IAsyncDisposable
{
    private readonly TransportConnection[] _channels;
    private readonly Preamble[] _preambles;

    public ChannelGroup(Guid streamId, TransportConnection[] channels, Preamble[] preambles)
    {
        if (channels.Length == 0 || channels.Length != preambles.Length)
            throw new ArgumentException("a channel group needs one preamble per channel and at least one channel");
        StreamId = streamId;
        _channels = channels;
        _preambles = preambles;
    }

    /// <summary>The stream id every channel's preamble carries.</summary>
    public Guid StreamId { get; }

    /// <summary>Number of channels.</summary>
    public int Count => _channels.Length;

    /// <summary>The channels, by index.</summary>
    public IReadOnlyList<TransportConnection> Channels => _channels;

    /// <summary>The forward preamble of each channel, by index.</summary>
    public IReadOnlyList<Preamble> Preambles => _preambles;

    /// <summary>Channel <paramref name="index"/>.</summary>
    public TransportConnection this[int index] => _channels[index];

    /// <summary>Total bytes sent over all channels.</summary>
    public long BytesSent => _channels.Sum(c => c.BytesSent);

    /// <summary>Total bytes received over all channels.</summary>
    public long BytesReceived => _channels.Sum(c => c.BytesReceived);

    /// <summary>Aborts every channel with the same reason (a failure on one channel fails the stream).</summary>
    public void Abort(TransportException reason)
    {
        foreach (var channel in _channels) channel.Abort(reason);
    }

    /// <summary>Closes every channel.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels) await channel.DisposeAsync().ConfigureAwait(false);
    }
}
