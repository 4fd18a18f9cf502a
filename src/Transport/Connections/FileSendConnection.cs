using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace StreamKit.Transport;

/// <summary>
/// The send half of a <c>file:</c> address: the stream, in exactly the format it has on a socket,
/// written sequentially to a file with one <c>pwritev</c> per chunk (header + payload), straight from
/// the caller's buffers (no FileStream buffering). Writes are synchronous, as page-cache writes are;
/// <see cref="TransportConnection.CompleteSendAsync"/> fsyncs. There is no receive direction.
/// An existing FIFO or character device (<c>file:/dev/stdout</c>, a named pipe into <c>ssh</c>) is
/// written with <c>writev</c> instead; a reader that goes away is <see cref="TransportErrorKind.ConnectionReset"/>.
/// </summary>
internal sealed class FileSendConnection : TransportConnection
{
    private const int MaxSegmentsPerWrite = 1024;
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly bool _seekable;
    private long _offset;

    private FileSendConnection(SafeFileHandle file, string path)
        : base(TransportKind.File, "(this process)", $"file:{path}", ConnectionSettings.Unbounded)
    {
        _file = file;
        _path = path;
        _seekable = FileNative.IsSeekable(file);
    }

    public override bool CanSend => true;
    public override bool CanReceive => false;

    /// <summary>
    /// Creates the file (or replaces it when <paramref name="overwrite"/>); an existing pipe or device is
    /// opened as it is. Opening a FIFO blocks until its reader opens it, as open(2) does.
    /// </summary>
    /// <exception cref="TransportException">It exists and may not be replaced, or cannot be created.</exception>
    public static FileSendConnection Create(string path, bool overwrite)
    {
        try
        {
            if (File.Exists(path))
            {
                var existing = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.Read);
                if (!FileNative.IsSeekable(existing)) return new FileSendConnection(existing, path);
                existing.Dispose();
                if (!overwrite)
                    throw new TransportException(TransportErrorKind.IoFailed, "the file already exists; refusing to overwrite it (set TransportOptions.OverwriteFile)", $"file:{path}");
                return new FileSendConnection(File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.Read), path);
            }
            return new FileSendConnection(File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.Read), path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw TransportErrors.Classify(e, "creating the file", $"file:{path}");
        }
    }

    protected override ValueTask SendCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, long totalBytes, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (FileNative.IsSupported) WriteGather(segments);
        else
        {
            RandomAccess.Write(_file, segments, _offset);
            _offset += totalBytes;
        }
        return ValueTask.CompletedTask;
    }

    private unsafe void WriteGather(IReadOnlyList<ReadOnlyMemory<byte>> segments)
    {
        Span<FileNative.IoVector> vectors = stackalloc FileNative.IoVector[Math.Min(segments.Count, 16)];
        int index = 0;
        int skip = 0;
        while (index < segments.Count)
        {
            // Pin up to 16 segments per pwritev (a chunk is 1 or 2; longer lists loop).
            int count = Math.Min(Math.Min(segments.Count - index, vectors.Length), MaxSegmentsPerWrite);
            using var pins = new PinSet(segments, index, count);
            long requested = 0;
            for (int i = 0; i < count; i++)
            {
                var memory = segments[index + i];
                int start = i == 0 ? skip : 0;
                vectors[i].Base = (byte*)pins[i].Pointer + start;
                vectors[i].Length = (nuint)(memory.Length - start);
                requested += memory.Length - start;
            }
            long written;
            fixed (FileNative.IoVector* iov = vectors)
                written = _seekable ? FileNative.PWriteV(_file, iov, count, _offset) : FileNative.WriteV(_file, iov, count);
            if (written < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == FileNative.EINTR) continue; // retry the same range
                if (errno == FileNative.EPIPE)
                    throw new TransportException(TransportErrorKind.ConnectionReset, "the reader of the pipe went away (EPIPE)", $"file:{_path}");
                throw FileNative.Error("write to", _path);
            }
            _offset += written;
            if (written == requested) { index += count; skip = 0; continue; }
            // Short write (disk nearly full, signal): step over what went, retry the rest.
            SegmentCursor.Advance(segments, written, ref index, ref skip);
        }
    }

    protected override ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        throw new NotSupportedException("a file being written has no receive direction");

    protected override ValueTask CompleteSendCoreAsync(CancellationToken cancellationToken)
    {
        // No peer acknowledges a file, so durability is the end of the send: fsync (pipes have nothing to sync).
        if (_seekable) RandomAccess.FlushToDisk(_file);
        return ValueTask.CompletedTask;
    }

    protected override void AbortCore(TransportException reason) => _file.Dispose();

    protected override ValueTask DisposeCoreAsync()
    {
        _file.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Pins up to 16 memories for one native call without allocating.</summary>
    private ref struct PinSet
    {
        private Handles _handles;
        private readonly int _count;

        public PinSet(IReadOnlyList<ReadOnlyMemory<byte>> segments, int start, int count)
        {
            _count = count;
            for (int i = 0; i < count; i++) _handles[i] = segments[start + i].Pin();
        }

        public readonly System.Buffers.MemoryHandle this[int i] => _handles[i];

        public void Dispose()
        {
            for (int i = 0; i < _count; i++) _handles[i].Dispose();
        }
    }

    [System.Runtime.CompilerServices.InlineArray(16)]
    private struct Handles
    {
        private System.Buffers.MemoryHandle _element;
    }
}
