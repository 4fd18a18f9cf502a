using StreamKit.Wire;

namespace StreamKit.Transport;

/// <summary>
/// The sending end of a transport address: opens the stream's channels and writes each one's
/// forward preamble. For tcp and unix it opens N connections concurrently (N from <c>?channels=N</c>),
/// each connect bounded by <see cref="TransportOptions.ConnectTimeout"/> and each TLS handshake by
/// <see cref="TransportOptions.HandshakeTimeout"/>; if any channel fails, all are closed and the first
/// failure is thrown. For rdma it opens N RC connections (<see cref="RdmaTransport"/>). For file it creates the file and writes the preamble into it.
/// All channels of one call share one bandwidth bucket.
/// </summary>
internal static class TransportConnector
{
    /// <summary>Opens the channels of one stream.</summary>
    /// <param name="address">Where to.</param>
    /// <param name="preamble">
    /// The stream's preamble: stream id (not empty), capabilities, limits. Channel index, count and role
    /// are filled in per channel.
    /// </param>
    /// <param name="options">Settings (default <see cref="TransportOptions.Default"/>).</param>
    /// <param name="cancellationToken">Cancels the whole attempt.</param>
    /// <exception cref="TransportException">A channel could not be opened; none is left open.</exception>
    public static async Task<ChannelGroup> ConnectAsync(TransportAddress address, Preamble preamble, TransportOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= TransportOptions.Default;
        options.Validate();
        if (preamble.StreamId == Guid.Empty) throw new ArgumentException("the preamble needs a stream id (Guid.NewGuid())", nameof(preamble));
        switch (address.Scheme)
        {
            case TransportScheme.Rdma:
                return await RdmaTransport.ConnectAsync(address, preamble, options, cancellationToken).ConfigureAwait(false);
            case TransportScheme.File:
            {
                var forward = preamble with { ChannelIndex = 0, ChannelCount = 1, Role = PreambleRole.Forward };
                var file = FileSendConnection.Create(address.Path!, options.OverwriteFile);
                try
                {
                    await PreambleExchange.WriteAsync(file, forward, cancellationToken).ConfigureAwait(false);
                    return new ChannelGroup(forward.StreamId, [file], [forward]);
                }
                catch
                {
                    await file.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }
        }

        int count = address.Channels;
        var settings = ConnectionSettings.From(options, ConnectionSettings.CreateBucket(options));
        var preambles = new Preamble[count];
        var opening = new Task<TransportConnection>[count];
        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        for (int i = 0; i < count; i++)
        {
            preambles[i] = preamble with { ChannelIndex = (ushort)i, ChannelCount = (ushort)count, Role = PreambleRole.Forward };
            opening[i] = OpenChannelAsync(address, preambles[i], options, settings, failFast);
        }
        try
        {
            await Task.WhenAll(opening).ConfigureAwait(false);
            return new ChannelGroup(preamble.StreamId, opening.Select(t => t.Result).ToArray(), preambles);
        }
        catch
        {
            foreach (var task in opening)
                if (task.IsCompletedSuccessfully) await task.Result.DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            // Report the root cause, not the cancellations it triggered in the sibling channels.
            var first = opening.Where(t => t.IsFaulted).Select(t => t.Exception!.InnerException!)
                .OrderBy(e => e is OperationCanceledException ? 1 : 0).First();
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            throw;
        }
    }

    private static async Task<TransportConnection> OpenChannelAsync(TransportAddress address, Preamble preamble, TransportOptions options,
        ConnectionSettings settings, CancellationTokenSource failFast)
    {
        var cancellationToken = failFast.Token;
        try
        {
            var socket = await SocketFactory.ConnectAsync(address, options, cancellationToken).ConfigureAwait(false);
            var kind = address.Scheme == TransportScheme.Unix ? TransportKind.Unix : TransportKind.Tcp;
            TransportConnection connection;
            if (options.Tls is { } tls)
            {
                string endpoint = SocketConnection.Describe(socket.RemoteEndPoint, kind);
                try
                {
                    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    if (options.HandshakeTimeout != Timeout.InfiniteTimeSpan) deadline.CancelAfter(options.HandshakeTimeout);
                    string host = tls.TargetHost ?? address.Host ?? "localhost";
                    try
                    {
                        var ssl = await TlsHandshake.AuthenticateAsClientAsync(socket, tls, host, endpoint, deadline.Token).ConfigureAwait(false);
                        connection = new TlsConnection(socket, ssl, kind, settings, isClient: true);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new TransportException(TransportErrorKind.Timeout,
                            $"the TLS handshake did not complete within {options.HandshakeTimeout.TotalSeconds:0.###} s", endpoint);
                    }
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }
            else
            {
                connection = new SocketConnection(socket, kind, settings);
            }
            try
            {
                await PreambleExchange.WriteAsync(connection, preamble, cancellationToken).ConfigureAwait(false);
                return connection;
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // One channel failed: stop the others rather than let them wait for their own deadlines.
            failFast.Cancel();
            throw;
        }
    }
}
