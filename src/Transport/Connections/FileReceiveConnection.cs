using Microsoft.Win32.SafeHandles;

namespace StreamKit.Transport;

/// <summary>
/// The receive half of a <c>file:</c> address: reads a saved stream back with <c>pread</c> straight
/// into the caller's buffer; end of file is the end of the stream. A pipe, FIFO or character device
/// (<c>file:/dev/stdin</c>) is read with <c>read</c>. There is no send direction.
/// </summary>
internal sealed class FileReceiveConnection : TransportConnection
{
    private readonly SafeFileHandle _file;
    private readonly string _path;
    private readonly bool _seekable;
    private long _offset;

    private FileReceiveConnection(SafeFileHandle file, string path)
        : base(TransportKind.File, "(this process)", $"file:{path}", ConnectionSettings.Unbounded)
    {
        _file = file;
        _path = path;
        _seekable = FileNative.IsSeekable(file);
    }

    public override bool CanSend => false;
    public override bool CanReceive => true;

    /// <summary>Opens an existing file for reading.</summary>
    /// <exception cref="TransportException">It does not exist or cannot be read.</exception>
    public static FileReceiveConnection Open(string path)
    {
        try
        {
            return new FileReceiveConnection(File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read), path);
        }
        catch (FileNotFoundException e)
        {
            throw new TransportException(TransportErrorKind.IoFailed, "the file does not exist", $"file:{path}", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw TransportErrors.Classify(e, "opening the file", $"file:{path}");
        }
    }

    protected override ValueTask SendCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, long totalBytes, CancellationToken cancellationToken) =>
        throw new NotSupportedException("a file being read has no send direction");

    protected override ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        int read = _seekable ? RandomAccess.Read(_file, buffer.Span, _offset) : ReadPipe(buffer.Span);
        _offset += read;
        return new ValueTask<int>(read);
    }

    private unsafe int ReadPipe(Span<byte> buffer)
    {
        while (true)
        {
            nint read;
            fixed (byte* p = buffer) read = FileNative.Read(_file, p, (nuint)buffer.Length);
            if (read >= 0) return (int)read;
            if (System.Runtime.InteropServices.Marshal.GetLastPInvokeError() != FileNative.EINTR) throw FileNative.Error("read from", _path);
        }
    }

    protected override ValueTask CompleteSendCoreAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

    protected override void AbortCore(TransportException reason) => _file.Dispose();

    protected override ValueTask DisposeCoreAsync()
    {
        _file.Dispose();
        return ValueTask.CompletedTask;
    }
}
