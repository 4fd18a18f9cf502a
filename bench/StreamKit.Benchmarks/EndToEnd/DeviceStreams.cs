using StreamKit.Device;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>The baselines' view of a source device: its whole state stream in STOP_COPY (RUNNING → STOP → STOP_COPY), read to the final end.</summary>
internal sealed class SourceReader(IMigrationDataChannel channel)
{
    public long Bytes { get; private set; }

    /// <summary>One read(): up to buffer.Length bytes, 0 at the final end.</summary>
    public int Read(Span<byte> buffer)
    {
        var r = channel.Read(buffer);
        switch (r.Status)
        {
            case DataReadStatus.Data:
                Bytes += r.Count;
                return r.Count;
            case DataReadStatus.FinalEnd:
                return 0;
            default:
                throw new InvalidOperationException($"source read returned {r.Status}");
        }
    }

    /// <summary>Fills <paramref name="buffer"/> unless the stream ends first; returns the bytes read.</summary>
    public int ReadFull(Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}

/// <summary>A read-only <see cref="Stream"/> over a <see cref="SourceReader"/> (what a naive Stream.CopyTo user would write).</summary>
internal sealed class DeviceReadStream(SourceReader source) : Stream
{
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => source.Bytes; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => source.Read(buffer.AsSpan(offset, count));
    public override int Read(Span<byte> buffer) => source.Read(buffer);
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A write-only <see cref="Stream"/> into a resuming data channel.</summary>
internal sealed class DeviceWriteStream(IMigrationDataChannel channel) : Stream
{
    public long Bytes { get; private set; }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => Bytes; set => throw new NotSupportedException(); }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        channel.Write(buffer);
        Bytes += buffer.Length;
    }

    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>A blocking single-producer single-consumer hand-off of filled buffers, with a free list (no allocation per item).</summary>
internal sealed class Handoff
{
    private readonly object _gate = new();
    private readonly Queue<(byte[] Buffer, int Length)> _full;
    private readonly Stack<byte[]> _free;

    public Handoff(int buffers, int size)
    {
        _full = new Queue<(byte[], int)>(buffers + 1);
        _free = new Stack<byte[]>(buffers);
        for (int i = 0; i < buffers; i++) _free.Push(GC.AllocateUninitializedArray<byte>(size, pinned: true));
    }

    public byte[] TakeFree()
    {
        lock (_gate)
        {
            while (_free.Count == 0) Monitor.Wait(_gate);
            return _free.Pop();
        }
    }

    public void PutFree(byte[] buffer)
    {
        lock (_gate)
        {
            _free.Push(buffer);
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Queues a filled buffer; a length below the buffer size (0 included) marks the last one.</summary>
    public void PutFull(byte[] buffer, int length)
    {
        lock (_gate)
        {
            _full.Enqueue((buffer, length));
            Monitor.PulseAll(_gate);
        }
    }

    public (byte[] Buffer, int Length) TakeFull()
    {
        lock (_gate)
        {
            while (_full.Count == 0) Monitor.Wait(_gate);
            return _full.Dequeue();
        }
    }
}
