using System.Runtime.InteropServices;
using StreamKit.Transport.Native;
using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

/// <summary>A connection-manager event, copied out so the library's copy can be acknowledged at once.</summary>
internal readonly unsafe struct CmEvent(RdmaCmEventType type, int status, RdmaCmId* id, byte[] privateData)
{
    internal RdmaCmEventType Type { get; } = type;
    internal int Status { get; } = status;
    internal RdmaCmId* Id { get; } = id;
    internal byte[] PrivateData { get; } = privateData;
}

/// <summary>
/// An rdma_cm event channel. During setup it is read synchronously with a deadline; once a
/// channel is connected, its progress thread polls the fd alongside the completion channel.
/// </summary>
internal sealed unsafe class CmEventChannel : IDisposable
{
    private RdmaEventChannel* _handle;

    private CmEventChannel(RdmaEventChannel* handle) => _handle = handle;

    internal RdmaEventChannel* Handle => _handle;
    internal int Fd => _handle->Fd;

    /// <exception cref="RdmaException">The rdma_cm device (/dev/infiniband/rdma_cm) is unavailable.</exception>
    internal static CmEventChannel Create()
    {
        RdmaEventChannel* handle = CmNative.rdma_create_event_channel();
        if (handle == null)
            throw RdmaException.FromErrno(RdmaErrorKind.NoDevice,
                "rdma_create_event_channel failed: /dev/infiniband/rdma_cm is missing or not accessible (kernel module rdma_ucm)");
        return new CmEventChannel(handle);
    }

    /// <summary>Reads one event if one is queued within <paramref name="timeoutMs"/> (0: don't wait).</summary>
    internal CmEvent? TryRead(int timeoutMs)
    {
        var pfd = new PollFd { Fd = Fd, Events = LibC.POLLIN };
        int ready = LibC.Poll(&pfd, 1, timeoutMs);
        if (ready < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == 4) return null; // EINTR
            throw new RdmaException(RdmaErrorKind.SetupFailed, "poll on the rdma_cm event channel failed", errno);
        }
        if (ready == 0) return null;
        RdmaCmEvent* evt;
        if (CmNative.rdma_get_cm_event(_handle, &evt) != 0)
            throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, "rdma_get_cm_event failed");
        // Only connection events carry rdma_conn_param; for the others the union means nothing.
        bool hasPrivateData = evt->Event is RdmaCmEventType.ConnectRequest or RdmaCmEventType.ConnectResponse
            or RdmaCmEventType.Established or RdmaCmEventType.Rejected;
        var copy = new byte[!hasPrivateData || evt->Conn.PrivateData == null ? 0 : evt->Conn.PrivateDataLen];
        if (copy.Length > 0) new ReadOnlySpan<byte>(evt->Conn.PrivateData, copy.Length).CopyTo(copy);
        var result = new CmEvent(evt->Event, evt->Status, evt->Id, copy);
        CmNative.rdma_ack_cm_event(evt);
        return result;
    }

    /// <summary>Waits for the next event (<paramref name="timeout"/> may be <see cref="Timeout.InfiniteTimeSpan"/>).</summary>
    /// <exception cref="RdmaException"><see cref="RdmaErrorKind.ConnectTimeout"/> after <paramref name="timeout"/>.</exception>
    /// <exception cref="OperationCanceledException">Cancelled.</exception>
    internal CmEvent Wait(TimeSpan timeout, string waitingFor, CancellationToken cancellationToken)
    {
        bool forever = timeout == Timeout.InfiniteTimeSpan;
        long deadline = Environment.TickCount64 + (long)Math.Min(timeout.TotalMilliseconds, int.MaxValue);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long left = forever ? 100 : deadline - Environment.TickCount64;
            if (left <= 0)
                throw new RdmaException(RdmaErrorKind.ConnectTimeout, $"no answer within {timeout.TotalSeconds:0.#} s while waiting for {waitingFor}");
            // Short slices so cancellation is noticed without a wake-up fd.
            if (TryRead((int)Math.Min(left, 100)) is { } evt) return evt;
        }
    }

    public void Dispose()
    {
        if (_handle != null)
        {
            CmNative.rdma_destroy_event_channel(_handle);
            _handle = null;
        }
    }
}
