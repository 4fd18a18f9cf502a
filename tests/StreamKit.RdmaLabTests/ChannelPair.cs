using System.Net;
using StreamKit.Transport.Rdma;

namespace StreamKit.RdmaLabTests;

/// <summary>A listener, and one channel connected to it from this process, both over the lab's rxe0 address.</summary>
internal sealed class ChannelPair : IAsyncDisposable
{
    private readonly RdmaListener _listener;

    private ChannelPair(RdmaListener listener, RdmaChannel server, RdmaChannel client)
    {
        _listener = listener;
        Server = server;
        Client = client;
    }

    internal RdmaChannel Server { get; }
    internal RdmaChannel Client { get; }

    internal static async Task<ChannelPair> ConnectAsync(IPAddress address, RdmaChannelOptions serverOptions, RdmaChannelOptions clientOptions, CancellationToken ct)
    {
        var listener = RdmaListener.Bind(new IPEndPoint(address, 0), serverOptions);
        try
        {
            var accept = listener.AcceptAsync(ct);
            var client = await RdmaConnector.ConnectAsync(listener.LocalEndPoint, clientOptions, ct);
            return new ChannelPair(listener, await accept, client);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        Client.Dispose();
        Server.Dispose();
        _listener.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A device sink that is slow: sleeps before every write.</summary>
internal sealed class SlowStream(Stream inner, TimeSpan delay) : Stream
{
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() => inner.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Thread.Sleep(delay);
        inner.Write(buffer);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
        base.Dispose(disposing);
    }
}

/// <summary>An endless pattern source (a device that never runs dry), for the abort and death checks.</summary>
internal sealed class InfiniteSource(ulong seed) : Stream
{
    private readonly Pattern _pattern = new(seed);
    private long _offset;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _offset; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        _pattern.Fill(_offset, buffer);
        _offset += buffer.Length;
        return buffer.Length;
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
