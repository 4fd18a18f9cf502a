using System.Buffers;
using System.IO.Pipelines;

namespace StreamKit.Transport;

/// <summary>
/// One end of an in-process duplex byte stream over two <see cref="Pipe"/>s, for tests and for
/// running a sender and receiver in one process. Sends copy into the pipe (with back-pressure at
/// <c>pauseWriterThreshold</c>); an abort on one end surfaces as <see cref="TransportErrorKind.ConnectionReset"/>
/// on the other, a completed send as end of stream.
/// </summary>
internal sealed class MemoryConnection : TransportConnection
{
    private readonly PipeReader _input;
    private readonly PipeWriter _output;

    private MemoryConnection(PipeReader input, PipeWriter output, string local, string remote, ConnectionSettings settings)
        : base(TransportKind.Memory, local, remote, settings)
    {
        _input = input;
        _output = output;
    }

    public override bool CanSend => true;
    public override bool CanReceive => true;

    /// <summary>Creates two connected ends.</summary>
    /// <param name="name">Names the pair in messages.</param>
    /// <param name="bufferBytes">Bytes a sender may get ahead of its receiver before it waits.</param>
    /// <param name="settings">Timeouts and bandwidth for end A (default: none).</param>
    /// <param name="settingsB">Timeouts and bandwidth for end B (default: as A).</param>
    public static (MemoryConnection A, MemoryConnection B) CreatePair(string name = "memory", long bufferBytes = 4 << 20,
        ConnectionSettings? settings = null, ConnectionSettings? settingsB = null)
    {
        var options = new PipeOptions(pauseWriterThreshold: bufferBytes, resumeWriterThreshold: bufferBytes / 2, minimumSegmentSize: 64 * 1024, useSynchronizationContext: false);
        var aToB = new Pipe(options);
        var bToA = new Pipe(options);
        settings ??= ConnectionSettings.Unbounded;
        return (new MemoryConnection(bToA.Reader, aToB.Writer, $"{name}:a", $"{name}:b", settings),
                new MemoryConnection(aToB.Reader, bToA.Writer, $"{name}:b", $"{name}:a", settingsB ?? settings));
    }

    protected override async ValueTask SendCoreAsync(IReadOnlyList<ReadOnlyMemory<byte>> segments, long totalBytes, CancellationToken cancellationToken)
    {
        FlushResult flushed;
        try
        {
            for (int i = 0; i < segments.Count; i++) _output.Write(segments[i].Span);
            flushed = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException e) when (AbortReason is { } reason)
        {
            // The pipe was completed under us by an abort on another thread.
            throw new TransportException(reason.Kind, reason.Detail, reason.Endpoint, e);
        }
        if (flushed.IsCanceled) throw AbortedHere();
        if (flushed.IsCompleted)
            throw new TransportException(TransportErrorKind.ConnectionReset, "the peer closed its receive side", RemoteEndPoint);
    }

    protected override async ValueTask<int> ReceiveCoreAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                ReadResult result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (result.IsCanceled) throw AbortedHere();
                var available = result.Buffer;
                if (!available.IsEmpty)
                {
                    int count = (int)Math.Min(available.Length, buffer.Length);
                    var slice = available.Slice(0, count);
                    slice.CopyTo(buffer.Span);
                    _input.AdvanceTo(slice.End);
                    return count;
                }
                _input.AdvanceTo(available.End);
                if (result.IsCompleted) return 0;
            }
        }
        catch (InvalidOperationException e) when (AbortReason is { } reason)
        {
            throw new TransportException(reason.Kind, reason.Detail, reason.Endpoint, e);
        }
    }

    private TransportException AbortedHere() =>
        AbortReason?.Echo() ?? new TransportException(TransportErrorKind.Aborted, "the operation was cancelled by an abort", RemoteEndPoint);

    protected override ValueTask CompleteSendCoreAsync(CancellationToken cancellationToken) => _output.CompleteAsync();

    protected override void AbortCore(TransportException reason)
    {
        // Wake our own pending operations first, then close both pipes: the peer's receive sees a
        // reset, and its sends see a completed reader instead of waiting on a full pipe forever.
        _input.CancelPendingRead();
        _output.CancelPendingFlush();
        _output.Complete(new TransportException(TransportErrorKind.ConnectionReset, $"the peer aborted: {reason.Detail}", LocalEndPoint));
        _input.Complete();
    }

    protected override async ValueTask DisposeCoreAsync()
    {
        await _output.CompleteAsync().ConfigureAwait(false);
        await _input.CompleteAsync().ConfigureAwait(false);
    }
}
