using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;

namespace StreamKit.Transport.Control;

/// <summary>A reply as the client sees it.</summary>
/// <param name="Id">The request id (null for replies to lines without a readable id).</param>
/// <param name="Ok">The <c>ok</c> member.</param>
/// <param name="Body">The whole reply object.</param>
internal sealed record ControlResponse(long? Id, bool Ok, JsonElement Body)
{
    /// <summary>The error code of a failed reply (null if ok or unknown to this version).</summary>
    internal ControlErrorCode? ErrorCode =>
        !Ok && Body.TryGetProperty("error", out var e) && e.TryGetProperty("code", out var c) ? ControlErrorCodes.Parse(c.GetString()) : null;

    /// <summary>The error message of a failed reply.</summary>
    internal string? ErrorMessage =>
        !Ok && Body.TryGetProperty("error", out var e) && e.TryGetProperty("message", out var m) ? m.GetString() : null;

    /// <summary>Throws unless the reply is ok; returns this.</summary>
    internal ControlResponse EnsureOk() =>
        Ok ? this : throw new InvalidOperationException($"control request {Id} failed: {Body.GetRawText()}");
}

/// <summary>
/// The VMM side of the control protocol, for tests and test drivers: sends requests (with fds
/// attached to each line's first byte), matches replies by id, and queues events and unmatched
/// messages for <see cref="NextMessageAsync"/>.
/// </summary>
internal sealed class ControlClient : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly ConcurrentDictionary<long, TaskCompletionSource<ControlResponse>> _pending = new();
    private readonly Channel<JsonElement> _messages = Channel.CreateUnbounded<JsonElement>();
    private readonly CancellationTokenSource _closing = new();
    private readonly Task _receiving;
    private long _nextId;
    private int _disposed;

    private ControlClient(Socket socket)
    {
        _socket = socket;
        _receiving = ReceiveLoopAsync();
    }

    /// <summary>Connects to a control server at <paramref name="path"/>.</summary>
    internal static async Task<ControlClient> ConnectAsync(string path, CancellationToken cancellationToken = default)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ControlClient(socket);
    }

    /// <summary>Completes when the server closed the connection (or it failed).</summary>
    internal Task Completion => _receiving;

    /// <summary>hello with <paramref name="version"/>; returns the reply.</summary>
    internal Task<ControlResponse> HelloAsync(int version = ControlLimits.Version, CancellationToken cancellationToken = default) =>
        RequestAsync("hello", w => { w.WriteNumber("version", version); w.WriteString("client", "streamkit-control-client"); }, null, cancellationToken);

    /// <summary>
    /// Sends <c>{"id":next,"op":op,...fields}</c> with <paramref name="fds"/> attached (the client keeps its
    /// own copies) and waits for the reply with that id.
    /// </summary>
    internal async Task<ControlResponse> RequestAsync(string op, Action<Utf8JsonWriter>? fields = null,
        IReadOnlyList<SafeHandle>? fds = null, CancellationToken cancellationToken = default)
    {
        long id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<ControlResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        try
        {
            await SendRawAsync(ControlMessageWriter.Request(id, op, fields), fds, cancellationToken).ConfigureAwait(false);
            return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Sends raw bytes (any framing, valid or not) with <paramref name="fds"/> attached to the first byte.</summary>
    internal async Task SendRawAsync(ReadOnlyMemory<byte> bytes, IReadOnlyList<SafeHandle>? fds = null, CancellationToken cancellationToken = default)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            int sent = 0;
            if (fds is { Count: > 0 }) sent = SendWithFds(bytes.Span, fds, cancellationToken);
            while (sent < bytes.Length)
                sent += await _socket.SendAsync(bytes[sent..], SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private int SendWithFds(ReadOnlySpan<byte> bytes, IReadOnlyList<SafeHandle> fds, CancellationToken cancellationToken)
    {
        Span<int> numbers = stackalloc int[fds.Count];
        var added = new bool[fds.Count];
        try
        {
            for (int i = 0; i < fds.Count; i++)
            {
                fds[i].DangerousAddRef(ref added[i]);
                numbers[i] = (int)fds[i].DangerousGetHandle();
            }
            while (true)
            {
                int sent = ScmRights.Send(_socket.SafeHandle, bytes, numbers);
                if (sent >= 0) return sent;
                // Socket buffer full (the fds did not go yet): wait until writable.
                while (!_socket.Poll(100_000, SelectMode.SelectWrite)) cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            for (int i = 0; i < fds.Count; i++)
                if (added[i]) fds[i].DangerousRelease();
        }
    }

    /// <summary>The next event, or reply no request waits for (error replies to raw lines), in arrival order.</summary>
    internal async Task<JsonElement> NextMessageAsync(CancellationToken cancellationToken = default) =>
        await _messages.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Skips messages until an event named <paramref name="name"/>; returns it.</summary>
    internal async Task<JsonElement> WaitForEventAsync(string name, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var message = await NextMessageAsync(cancellationToken).ConfigureAwait(false);
            if (message.TryGetProperty("event", out var e) && e.GetString() == name) return message;
        }
    }

    private async Task ReceiveLoopAsync()
    {
        using var reader = new ControlLineReader();
        var fds = new int[ControlLimits.MaxFdsPerLine];
        try
        {
            while (true)
            {
                LineStatus status;
                while ((status = reader.TryReadLine(out var line)) == LineStatus.Line)
                {
                    foreach (var fd in line.Fds) fd.Dispose(); // servers send none
                    Dispatch(line.Bytes);
                }
                if (status == LineStatus.TooLong) throw new IOException("the server sent a line over the limit");
                var result = ScmRights.Receive(_socket.SafeHandle, reader.GetReceiveSpace(), fds);
                if (result.WouldBlock)
                {
                    await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, _closing.Token).ConfigureAwait(false);
                    continue;
                }
                if (result.EndOfStream) break;
                reader.Commit(result.Bytes, fds.AsSpan(0, result.FdCount), result.FdsTruncated);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException or JsonException)
        {
            // closed, or the server sent something that is not JSON
        }
        finally
        {
            _messages.Writer.TryComplete();
            foreach (var pending in _pending.Values) pending.TrySetException(new IOException("the control connection closed"));
        }
    }

    private void Dispatch(ReadOnlyMemory<byte> line)
    {
        if (ControlRequestParser.IsBlank(line.Span)) return;
        JsonElement message;
        using (var document = JsonDocument.Parse(line))
            message = document.RootElement.Clone();
        if (!message.TryGetProperty("event", out _) && message.TryGetProperty("id", out var idElement) &&
            idElement.ValueKind == JsonValueKind.Number && _pending.TryGetValue(idElement.GetInt64(), out var waiter))
        {
            bool ok = message.TryGetProperty("ok", out var okElement) && okElement.ValueKind == JsonValueKind.True;
            waiter.TrySetResult(new ControlResponse(idElement.GetInt64(), ok, message));
            return;
        }
        _messages.Writer.TryWrite(message);
    }

    /// <summary>Closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { /* gone */ }
        _closing.Cancel();
        _socket.Dispose();
        await _receiving.ConfigureAwait(false);
        _closing.Dispose();
        _sendLock.Dispose();
    }

    /// <summary>Half-closes the sending side (the server sees end of stream).</summary>
    internal void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);
}
