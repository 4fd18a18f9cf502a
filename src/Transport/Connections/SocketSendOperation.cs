using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace StreamKit.Transport;

/// <summary>
/// A reusable gather send (the role of Kestrel's SocketSender/SocketAwaitableEventArgs): one
/// <see cref="SocketAsyncEventArgs"/> whose <c>BufferList</c> is refilled from a reused list, awaited
/// through a reset-able value-task source. The runtime turns a buffer list into one <c>sendmsg</c> with one
/// iovec per segment, pinning the arrays on the stack for small lists, so a send allocates nothing.
/// Completions run inline: on Unix the socket engine already dispatches them to the thread pool.
/// </summary>
internal sealed class SocketSendOperation : SocketAsyncEventArgs, IValueTaskSource<int>
{
    /// <summary>Linux IOV_MAX; larger lists are sent in batches.</summary>
    internal const int MaxSegmentsPerSend = 1024;

    private readonly List<ArraySegment<byte>> _segments = new(4);
    private ManualResetValueTaskSourceCore<int> _core;

    public SocketSendOperation() : base(unsafeSuppressExecutionContextFlow: true) { }

    /// <summary>
    /// Loads segments [<paramref name="start"/>..] (the first one from <paramref name="skip"/> bytes in)
    /// into the buffer list, up to <see cref="MaxSegmentsPerSend"/>, stopping before the first segment
    /// that is not array-backed (gather sends need arrays). <paramref name="loaded"/> counts the
    /// segments consumed (0 means segment <paramref name="start"/> itself is not an array).
    /// </summary>
    public void Load(IReadOnlyList<ReadOnlyMemory<byte>> segments, int start, int skip, out int loaded, out long bytes)
    {
        _segments.Clear();
        loaded = 0;
        bytes = 0;
        for (int i = start; i < segments.Count && _segments.Count < MaxSegmentsPerSend; i++)
        {
            var memory = segments[i];
            if (i == start) memory = memory[skip..];
            if (memory.IsEmpty) { loaded++; continue; }
            if (!MemoryMarshal.TryGetArray(memory, out var array)) break;
            _segments.Add(array);
            loaded++;
            bytes += array.Count;
        }
        if (_segments.Count > 0) BufferList = _segments;
    }

    /// <summary>Starts the send; the result is bytes transferred.</summary>
    public ValueTask<int> SendAsync(Socket socket)
    {
        _core.Reset();
        if (socket.SendAsync(this)) return new ValueTask<int>(this, _core.Version);
        return SocketError == SocketError.Success
            ? new ValueTask<int>(BytesTransferred)
            : ValueTask.FromException<int>(new SocketException((int)SocketError));
    }

    protected override void OnCompleted(SocketAsyncEventArgs e)
    {
        if (SocketError == SocketError.Success) _core.SetResult(BytesTransferred);
        else _core.SetException(new SocketException((int)SocketError));
    }

    int IValueTaskSource<int>.GetResult(short token) => _core.GetResult(token);
    ValueTaskSourceStatus IValueTaskSource<int>.GetStatus(short token) => _core.GetStatus(token);
    void IValueTaskSource<int>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
