using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace StreamKit.Transport;

/// <summary>
/// The send half of a <c>file:</c> address: the stream, in exactly the format it has on a socket,
/// written sequentially to a file with one <c>pwritev</c> per chunk (header + payload), straight from
/// the caller's buffers (no FileStream buffering). Writes are synchronous, as page-cache writes are;
/// <see cref="TransportConnection.CompleteSendAsync"/> fsyncs. There is no receive direction.
/// </summary>
internal sealed class FileSendConnection : TransportConnection
{
    private const int MaxSegmentsPerWrite = 1024;
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private long _offset;

    private FileSendConnection(SafeFileHandle file, string path)
        : base(TransportKind.File, "(this process)", $"file:{path}", ConnectionSettings.Unbounded)
    {
        _file = file;
        _path = path;
    }

    public override bool CanSend => true;
    public override bool CanReceive => false;

    /// <summary>Creates the file (or replaces it when <paramref name="overwrite"/>).</summary>
    /// <exception cref="TransportException">It exists and may not be replaced, or cannot be created.</exception>
    public static FileSendConnection Create(string path, bool overwrite)
    {
        try
        {
            var handle = File.OpenHandle(path, overwrite ? FileMode.Create : FileMode.CreateNew, FileAccess.Write, FileShare.Read);
            return new FileSendConnection(handle, path);
        }
        catch (IOException e) when (!overwrite && File.Exists(path))
        {
            throw new TransportException(TransportErrorKind.IoFailed, "the file already exists; refusing to overwrite it (set TransportOptions.OverwriteFile)", $"file:{path}", e);
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
                written = FileNative.PWriteV(_file, iov, count, _offset);
            if (written < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == 4) continue; // EINTR: retry the same range
                throw new IOException($"write to {_path} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
            }
            _offset += written;
            if (written == requested) { index += count; skip = 0; continue; }
            // Short write (disk nearly full, signal): step over what went, retry the rest.
            long left = written;
            while (left > 0)
            {
                int available = segments[index].Length - skip;
                if (left < available) { skip += (int)left; break; }
                left -= available;
                index++;
                skip = 0;
            }
        }
    }

    protected override ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        throw new NotSupportedException("a file being written has no receive direction");

    protected override ValueTask CompleteSendCoreAsync(CancellationToken cancellationToken)
    {
        // No peer acknowledges a file, so durability is the end of the send: fsync.
        RandomAccess.FlushToDisk(_file);
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
