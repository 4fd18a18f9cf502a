using System.Buffers;
using StreamKit.Wire;

namespace StreamKit.Cli;

/// <summary>
/// One channel image on disk, read sequentially through a bounded buffer: the unread bytes are
/// offered as a <see cref="ReadOnlySequence{T}"/> to a <see cref="ChunkReader"/>. The buffer grows
/// only to hold one whole chunk, and the reader has checked the chunk's length against the limit
/// before asking for more, so a hostile length never sizes an allocation.
/// </summary>
internal sealed class ChannelFile : IDisposable
{
    private const int InitialBuffer = 1 << 20;
    private readonly FileStream _file;
    private byte[] _buffer = new byte[InitialBuffer];
    private int _start, _end;
    private bool _eof;

    /// <summary>Opens <paramref name="path"/> for reading.</summary>
    /// <exception cref="IOException">The file cannot be opened.</exception>
    internal ChannelFile(string path, ChunkReaderOptions options)
    {
        Path = path;
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        Reader = new ChunkReader(options);
    }

    /// <summary>The file's path.</summary>
    internal string Path { get; }

    /// <summary>The channel's reader (its position is the absolute channel offset).</summary>
    internal ChunkReader Reader { get; }

    /// <summary>True once the channel's end was checked (terminal chunk and end of file).</summary>
    internal bool Done { get; set; }

    /// <summary>The bytes read from the file and not yet consumed.</summary>
    internal ReadOnlySequence<byte> Unread => new(_buffer, _start, _end - _start);

    /// <summary>Marks everything before <paramref name="remaining"/> as consumed (its chunks must no longer be used).</summary>
    internal void Consume(in ReadOnlySequence<byte> remaining) => _start = _end - (int)remaining.Length;

    /// <summary>
    /// Reads more of the file: compacts the buffer, grows it if a pending chunk needs more room, and
    /// reads. Returns false at the end of the file.
    /// </summary>
    internal bool Fill()
    {
        if (_eof) return false;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            // Only a chunk whose header passed the length checks can fill the buffer: ≤ 48 + max payload.
            long needed = Math.Min((long)_buffer.Length * 2, ChunkHeader.Size + (long)WireLimits.DefaultMaxPayload + 4096);
            if (needed <= _buffer.Length) throw new InvalidOperationException("chunk larger than the reader's limit");
            Array.Resize(ref _buffer, (int)needed);
        }
        int n = _file.Read(_buffer, _end, _buffer.Length - _end);
        if (n == 0)
        {
            _eof = true;
            return false;
        }
        _end += n;
        return true;
    }

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();
}
