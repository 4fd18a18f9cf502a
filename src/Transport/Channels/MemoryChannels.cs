using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// An in-process N-channel stream for session tests: N <see cref="MemoryConnection"/> pairs whose
/// forward preambles went over the wire exactly as <see cref="TransportConnector"/> and a listener
/// would send and read them, so both groups start where socket groups start.
/// </summary>
internal static class MemoryChannels
{
    /// <summary>Creates the sending and receiving groups of one stream.</summary>
    /// <param name="preamble">Stream id, capabilities and limits; index, count and role are filled in per channel.</param>
    /// <param name="channels">Number of channels.</param>
    /// <param name="options">Timeouts and bandwidth (the sender's channels share one bucket); default none.</param>
    /// <param name="bufferBytes">Bytes a sender may get ahead of its receiver, per channel.</param>
    /// <param name="cancellationToken">Cancels the preamble exchange.</param>
    public static async Task<(ChannelGroup Sender, ChannelGroup Receiver)> CreatePairAsync(Preamble preamble, int channels = 1,
        TransportOptions? options = null, long bufferBytes = 4 << 20, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(channels, TransportAddress.MaxChannels);
        var sendSettings = options is null ? ConnectionSettings.Unbounded : ConnectionSettings.From(options, ConnectionSettings.CreateBucket(options));
        var receiveSettings = options is null ? ConnectionSettings.Unbounded : ConnectionSettings.From(options, null);
        var senders = new TransportConnection[channels];
        var receivers = new TransportConnection[channels];
        var written = new Preamble[channels];
        var read = new Preamble[channels];
        for (int i = 0; i < channels; i++)
        {
            var (a, b) = MemoryConnection.CreatePair($"memory{i}", bufferBytes, sendSettings, receiveSettings);
            senders[i] = a;
            receivers[i] = b;
            written[i] = preamble with { ChannelIndex = (ushort)i, ChannelCount = (ushort)channels, Role = PreambleRole.Forward };
            await PreambleExchange.WriteAsync(a, written[i], cancellationToken).ConfigureAwait(false);
            read[i] = await PreambleExchange.ReadAsync(b, cancellationToken).ConfigureAwait(false);
        }
        return (new ChannelGroup(preamble.StreamId, senders, written), new ChannelGroup(preamble.StreamId, receivers, read));
    }
}
