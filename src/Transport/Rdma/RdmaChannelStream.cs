namespace StreamKit.Transport.Rdma;

/// <summary>
/// A copying <see cref="Stream"/> view of an <see cref="RdmaChannel"/>, for code that speaks
/// streams (preamble exchange, the return path, tools). Writes are packed into send buffers and
/// sent when a buffer is full or on flush; reads copy out of received messages. The bulk data
/// path should use the channel's buffers directly instead: that is where zero-copy lives.
/// Disposing the stream flushes it and, unless leaveOpen, disposes the channel; it does not
/// wait for anything. For a graceful end, flush and <c>await channel.CompleteAsync()</c> first
/// (and read the peer's side to its end): disposing without that is an abort.
/// </summary>
internal sealed class RdmaChannelStream(RdmaChannel channel, bool leaveOpen = false) : Stream
{
    private RdmaSendBuffer? _writing;
    private int _written;
    private RdmaReceivedMessage? _reading;
    private int _readOffset;
    private bool _ended;
    private bool _disposed;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.IsEmpty) return 0;
        while (_reading == null)
        {
            if (_ended) return 0;
            _reading = await channel.ReceiveAsync(cancellationToken).ConfigureAwait(false);
            _readOffset = 0;
            if (_reading == null) _ended = true;
        }
        int n = Math.Min(buffer.Length, _reading.Length - _readOffset);
        _reading.Memory.Slice(_readOffset, n).CopyTo(buffer);
        _readOffset += n;
        if (_readOffset == _reading.Length)
        {
            _reading.Dispose();
            _reading = null;
        }
        return n;
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        while (!buffer.IsEmpty)
        {
            _writing ??= await channel.GetSendBufferAsync(cancellationToken).ConfigureAwait(false);
            int n = Math.Min(buffer.Length, _writing.Memory.Length - _written);
            buffer[..n].CopyTo(_writing.Memory[_written..]);
            _written += n;
            buffer = buffer[n..];
            if (_written == _writing.Memory.Length) SendCurrent();
        }
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        SendCurrent();
        return Task.CompletedTask;
    }

    private void SendCurrent()
    {
        if (_writing == null) return;
        if (_written > 0) _writing.Send(_written);
        else _writing.Return();
        _writing = null;
        _written = 0;
    }

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override void Flush() => SendCurrent();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _reading?.Dispose();
        _reading = null;
        try
        {
            if (!channel.IsClosed) SendCurrent();
        }
        finally
        {
            if (!leaveOpen) await channel.DisposeAsync().ConfigureAwait(false);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) DisposeAsync().AsTask().GetAwaiter().GetResult();
        base.Dispose(disposing);
    }
}
