using System.Net.Sockets;
using System.Threading.Channels;

namespace StreamKit.Transport.Control;

/// <summary>
/// One VMM connection on the server side: a receive loop (recvmsg with fds → lines → requests →
/// handler) and a send loop draining queued replies and events. Protocol errors become error
/// replies; only a line over the limit, a stuck peer or a socket error end the connection.
/// </summary>
internal sealed class ControlConnection : IControlEventSink
{
    private readonly Socket _socket;
    private readonly IControlHandler _handler;
    private readonly string _serverName;
    private readonly Channel<byte[]> _outgoing = Channel.CreateUnbounded<byte[]>(new() { SingleReader = true });
    private readonly CancellationTokenSource _closing = new();
    private long _pendingBytes;
    private bool _helloDone;
    private string? _closeReason;

    internal ControlConnection(Socket socket, IControlHandler handler, string serverName)
    {
        _socket = socket;
        _handler = handler;
        _serverName = serverName;
    }

    /// <summary>True once hello succeeded.</summary>
    internal bool HelloDone => Volatile.Read(ref _helloDone);

    /// <summary>Why the connection ended (null while it runs).</summary>
    internal string? CloseReason => _closeReason;

    /// <inheritdoc/>
    public bool Publish(ControlEvent controlEvent) => HelloDone && Enqueue(ControlMessageWriter.Event(controlEvent));

    /// <summary>Sends an error reply outside any request (e.g. busy) and closes after it is written.</summary>
    internal async Task RejectAsync(ControlErrorCode code, string message)
    {
        Enqueue(ControlMessageWriter.ErrorReply(null, code, message));
        _outgoing.Writer.TryComplete();
        await SendLoopAsync().ConfigureAwait(false);
        Close();
    }

    /// <summary>Runs both loops until the connection ends; never throws.</summary>
    internal async Task RunAsync(CancellationToken cancellationToken)
    {
        // Not disposed: deferred requests may still hold its token after the connection ended.
        var link = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        Task sending = SendLoopAsync();
        string reason;
        try
        {
            reason = await ReceiveLoopAsync(link.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            reason = _closeReason ?? "server stopped";
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            reason = $"socket error: {e.Message}";
        }
        _closeReason ??= reason;

        // Let queued replies (e.g. line-too-long) go out, briefly, then close.
        _outgoing.Writer.TryComplete();
        await Task.WhenAny(sending, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
        _closing.Cancel();
        Close();
        await sending.ConfigureAwait(false);
        if (HelloDone)
        {
            try { _handler.OnDisconnected(_closeReason); }
            catch (Exception) { /* a handler bug must not take the server down */ }
        }
    }

    private async Task<string> ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        using var reader = new ControlLineReader();
        var fds = new int[ControlLimits.MaxFdsPerLine];
        while (true)
        {
            LineStatus status;
            while ((status = reader.TryReadLine(out var line)) == LineStatus.Line)
                ProcessLine(line, cancellationToken);
            if (status == LineStatus.TooLong)
            {
                Enqueue(ControlMessageWriter.ErrorReply(null, ControlErrorCode.LineTooLong,
                    $"line at stream offset {reader.Position} exceeds {ControlLimits.MaxLineBytes} bytes; closing the connection"));
                return "line too long";
            }
            if (_closeReason is { } closing) return closing;

            var result = ScmRights.Receive(_socket.SafeHandle, reader.GetReceiveSpace(), fds);
            if (result.WouldBlock)
            {
                // Zero-byte receive: completes when data (or EOF) is readable, without consuming anything.
                await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                continue;
            }
            if (result.EndOfStream)
            {
                int dropped = reader.DiscardPending();
                return dropped == 0 ? "peer closed the connection" : $"peer closed the connection inside a line ({dropped} bytes dropped)";
            }
            reader.Commit(result.Bytes, fds.AsSpan(0, result.FdCount), result.FdsTruncated);
        }
    }

    private void ProcessLine(ControlLine line, CancellationToken cancellationToken)
    {
        ControlRequest? request = null;
        bool deferred = false;
        try
        {
            if (line.Fault != FdFault.None)
                throw new ControlRequestException(
                    line.Fault == FdFault.Truncated ? ControlErrorCode.TooManyFds : ControlErrorCode.UnexpectedFd,
                    line.Fault == FdFault.Truncated
                        ? $"more than {ControlLimits.MaxFdsPerLine} fds were attached (control data truncated); all were closed"
                        : "fds arrived that were not attached to the first byte of their line; they were closed",
                    requestId: ControlRequestParser.TryReadId(line.Bytes));
            if (ControlRequestParser.IsBlank(line.Bytes.Span))
            {
                if (line.Fds.Length > 0)
                    throw new ControlRequestException(ControlErrorCode.UnexpectedFd, $"{line.Fds.Length} fds attached to an empty line");
                return;
            }

            // The parser refuses lines with more fds than the op takes, so request.Fds == line.Fds.
            request = ControlRequestParser.Parse(line.Bytes, line.Fds, _handler.Role);
            if (request is HelloRequest hello)
            {
                Enqueue(ControlMessageWriter.OkReply(hello.Id, Hello(hello)));
                return;
            }
            if (!HelloDone)
                throw new ControlRequestException(ControlErrorCode.HelloRequired, $"send hello before {request.Op}", requestId: request.Id);

            var pending = _handler.HandleAsync(request, cancellationToken);
            if (!pending.IsCompleted)
            {
                deferred = true; // its fds stay open until it completes
                _ = CompleteLaterAsync(request, pending.AsTask());
                return;
            }
            ControlReply? result;
            try
            {
                result = pending.Result;
            }
            catch (Exception e)
            {
                Fail(request, e);
                return;
            }
            Enqueue(ControlMessageWriter.OkReply(request.Id, result));
        }
        catch (ControlRequestException e)
        {
            Enqueue(ControlMessageWriter.ErrorReply(e.RequestId ?? request?.Id, e.Code, e.Message, e.Field));
        }
        catch (Exception e)
        {
            Enqueue(ControlMessageWriter.ErrorReply(request?.Id, ControlErrorCode.InternalError, $"{e.GetType().Name}: {e.Message}"));
        }
        finally
        {
            if (!deferred)
                foreach (var fd in line.Fds) fd.DisposeUnlessClaimed();
        }
    }

    private HelloReply Hello(HelloRequest hello)
    {
        if (hello.Version < 1)
            throw new ControlRequestException(ControlErrorCode.UnsupportedVersion,
                $"version {hello.Version} is not supported; this server speaks 1", "version", hello.Id);
        if (HelloDone)
            throw new ControlRequestException(ControlErrorCode.BadState, "hello was already done on this connection", requestId: hello.Id);
        Volatile.Write(ref _helloDone, true);
        return new HelloReply(Math.Min(hello.Version, ControlLimits.Version), _handler.Role, _serverName);
    }

    /// <summary>The error reply for a handler failure.</summary>
    private void Fail(ControlRequest request, Exception error) => Enqueue(error switch
    {
        ControlRequestException e => ControlMessageWriter.ErrorReply(request.Id, e.Code, e.Message, e.Field),
        OperationCanceledException => ControlMessageWriter.ErrorReply(request.Id, ControlErrorCode.Cancelled, $"{request.Op} was cancelled"),
        _ => ControlMessageWriter.ErrorReply(request.Id, ControlErrorCode.InternalError, $"{error.GetType().Name}: {error.Message}"),
    });

    private async Task CompleteLaterAsync(ControlRequest request, Task<ControlReply?> pending)
    {
        try
        {
            ControlReply? result;
            try
            {
                result = await pending.ConfigureAwait(false);
            }
            catch (Exception e)
            {
                Fail(request, e);
                return;
            }
            Enqueue(ControlMessageWriter.OkReply(request.Id, result));
        }
        finally
        {
            PassedFd.DisposeUnclaimed(request.Fds);
        }
    }

    private bool Enqueue(byte[] line)
    {
        if (Interlocked.Add(ref _pendingBytes, line.Length) > ControlLimits.MaxPendingOutputBytes)
        {
            _closeReason ??= $"peer is not reading: more than {ControlLimits.MaxPendingOutputBytes} bytes of replies and events pending";
            _closing.Cancel();
            return false;
        }
        if (_outgoing.Writer.TryWrite(line)) return true;
        Interlocked.Add(ref _pendingBytes, -line.Length);
        return false;
    }

    private async Task SendLoopAsync()
    {
        try
        {
            await foreach (var line in _outgoing.Reader.ReadAllAsync(_closing.Token).ConfigureAwait(false))
            {
                int sent = 0;
                while (sent < line.Length)
                    sent += await _socket.SendAsync(line.AsMemory(sent), SocketFlags.None, _closing.Token).ConfigureAwait(false);
                Interlocked.Add(ref _pendingBytes, -line.Length);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
            _closeReason ??= e is OperationCanceledException ? null : $"send failed: {e.Message}";
            _closing.Cancel();
        }
    }

    private void Close()
    {
        try { _socket.Shutdown(SocketShutdown.Both); } catch (Exception) { /* already gone */ }
        _socket.Dispose();
    }
}
