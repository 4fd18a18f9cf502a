using System.Runtime.InteropServices;
using StreamKit.Transport.Native;
using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

// The progress thread: sleeps in poll(2) on the completion channel, the connection's cm event
// channel and a wake-up eventfd; turns completions into freed send buffers, delivered
// messages and credits, and cm events into end-of-connection decisions.
internal sealed unsafe partial class RdmaChannel
{
    private void ProgressLoop()
    {
        PollFd* fds = stackalloc PollFd[3];
        fds[0] = new PollFd { Fd = _compChannel->Fd, Events = LibC.POLLIN };
        fds[1] = new PollFd { Fd = _cm!.Fd, Events = LibC.POLLIN };
        fds[2] = new PollFd { Fd = _wakeFd, Events = LibC.POLLIN };
        try
        {
            ArmAndDrain();
            while (!_stopping)
            {
                fds[0].ReturnedEvents = fds[1].ReturnedEvents = fds[2].ReturnedEvents = 0;
                if (LibC.Poll(fds, 3, -1) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == 4) continue; // EINTR
                    throw new RdmaException(RdmaErrorKind.WorkRequestFailed, "poll in the progress loop failed", errno);
                }
                if (fds[2].ReturnedEvents != 0)
                {
                    ulong value;
                    LibC.Read(_wakeFd, (byte*)&value, sizeof(ulong));
                }
                if (fds[0].ReturnedEvents != 0)
                {
                    IbvCq* cq;
                    nint context;
                    if (VerbsNative.ibv_get_cq_event(_compChannel, &cq, &context) == 0)
                    {
                        VerbsNative.ibv_ack_cq_events(cq, 1);
                        ArmAndDrain();
                    }
                }
                if (fds[1].ReturnedEvents != 0) HandleConnectionEvents();
            }
        }
        catch (RdmaException e)
        {
            Fail(e);
        }
        catch (Exception e)
        {
            Fail(new RdmaException(RdmaErrorKind.WorkRequestFailed, "the RDMA progress loop failed: " + e.Message, 0, e));
        }
    }

    /// <summary>Drain, re-arm the notification, drain again: a completion that lands between the two is not missed.</summary>
    private void ArmAndDrain()
    {
        DrainCompletions();
        int rc = VerbsNative.ReqNotifyCq(_cq, solicitedOnly: false);
        if (rc != 0) throw new RdmaException(RdmaErrorKind.WorkRequestFailed, "ibv_req_notify_cq failed", rc);
        DrainCompletions();
    }

    private void DrainCompletions()
    {
        while (true)
        {
            int count = VerbsNative.PollCq(_cq, CompletionBatch, _completions);
            if (count < 0) throw new RdmaException(RdmaErrorKind.WorkRequestFailed, $"ibv_poll_cq failed ({count})");
            if (count == 0) return;
            lock (_sync)
            {
                for (int i = 0; i < count; i++)
                {
                    try
                    {
                        HandleCompletionLocked(in _completions[i]);
                    }
                    catch (RdmaException e)
                    {
                        Fail(e);
                    }
                }
            }
        }
    }

    private void HandleCompletionLocked(in IbvWc wc)
    {
        var work = (WorkKind)(wc.WrId >> 32);
        int slot = (int)(uint)wc.WrId;
        bool ok = wc.Status == Ibv.WcSuccess;
        switch (work)
        {
            case WorkKind.SendData:
                _sendsInFlight--;
                FreeSlotLocked(slot);
                _sendSignal.Set();
                break;
            case WorkKind.SendExternal:
                _sendsInFlight--;
                _externalOutstanding--;
                _externalFree[_externalFreeCount++] = slot;
                _sendSignal.Set();
                break;
            case WorkKind.SendEnd:
                _sendsInFlight--;
                _endCompleted = ok;
                _sendSignal.Set();
                break;
            case WorkKind.SendCredit:
                _controlInFlight--;
                break;
            case WorkKind.Receive:
                if (ok) OnMessageLocked(slot, wc);
                break;
            default:
                throw new RdmaException(RdmaErrorKind.WorkRequestFailed, $"completion with unknown work id 0x{wc.WrId:X16}");
        }
        if (!ok)
        {
            // Requests flushed by a disconnect after both streams ended are the normal close.
            if (!(wc.Status == Ibv.WcWrFlushErr && _peerEnded && _endCompleted)) Fail(WorkFailure(work, wc));
            return;
        }
        DrainPendingLocked();
        MaybeSendCreditLocked();
    }

    private void OnMessageLocked(int slot, in IbvWc wc)
    {
        if ((wc.WcFlags & Ibv.WcWithImm) == 0)
            throw new RdmaException(RdmaErrorKind.ProtocolViolation, $"message of {wc.ByteLen} bytes without immediate data (not a StreamKit peer?)");
        var word = MessageWord.FromWire(wc.ImmData);
        if (!word.IsKnownKind)
            throw new RdmaException(RdmaErrorKind.ProtocolViolation, $"unknown message kind {(byte)word.Kind}");
        _ledger.OnCreditsReturned(word.DataCredits, word.ControlCredits);
        switch (word.Kind)
        {
            case MessageKind.Data:
                if (wc.ByteLen == 0) throw new RdmaException(RdmaErrorKind.ProtocolViolation, "empty data message");
                if (_peerEnded) throw new RdmaException(RdmaErrorKind.ProtocolViolation, "data message after the peer's end marker");
                _ledger.OnDataReceived();
                _received[slot].Length = (int)wc.ByteLen;
                _ready.Enqueue(slot);
                _receiveSignal.Set();
                break;
            case MessageKind.Credit:
                if (wc.ByteLen != 0) throw new RdmaException(RdmaErrorKind.ProtocolViolation, $"credit message with {wc.ByteLen} bytes");
                _ledger.OnControlReceived();
                PostReceiveLocked(slot);
                break;
            case MessageKind.End:
                if (wc.ByteLen != 0) throw new RdmaException(RdmaErrorKind.ProtocolViolation, $"end message with {wc.ByteLen} bytes");
                if (_peerEnded) throw new RdmaException(RdmaErrorKind.ProtocolViolation, "second end marker");
                _ledger.OnDataReceived();
                _peerEnded = true;
                _receiveSignal.Set();
                break;
        }
    }

    private RdmaException WorkFailure(WorkKind work, in IbvWc wc)
    {
        string what = work == WorkKind.Receive ? "a receive" : $"a send ({work})";
        return wc.Status switch
        {
            Ibv.WcWrFlushErr => new RdmaException(RdmaErrorKind.PeerDisconnected,
                $"the connection closed with {what} outstanding: the peer disconnected, aborted or died before the streams ended"),
            Ibv.WcRetryExcErr => new RdmaException(RdmaErrorKind.PeerDisconnected,
                "the peer stopped acknowledging (transport retries exhausted): it died, or the link is down"),
            Ibv.WcRnrRetryExcErr => new RdmaException(RdmaErrorKind.ProtocolViolation,
                "the peer had no receive buffer posted for our message (receiver not ready): the credit protocol was broken"),
            _ => new RdmaException(RdmaErrorKind.WorkRequestFailed,
                $"{what} failed: {VerbsNative.StatusText(wc.Status)} (status {wc.Status}, vendor error 0x{wc.VendorErr:X})"),
        };
    }

    private void HandleConnectionEvents()
    {
        while (_cm!.TryRead(0) is { } evt)
        {
            switch (evt.Type)
            {
                case RdmaCmEventType.Disconnected:
                    DrainCompletions(); // deliver whatever arrived before the disconnect first
                    lock (_sync)
                    {
                        _disconnectIssued = true;
                        if (!_peerEnded)
                            Fail(new RdmaException(RdmaErrorKind.PeerDisconnected,
                                "the peer disconnected before ending its stream (it died, aborted, or closed early)"));
                        else if (!_endCompleted)
                            Fail(new RdmaException(RdmaErrorKind.PeerDisconnected,
                                "the peer disconnected before our stream was complete"));
                    }
                    _receiveSignal.Set();
                    _sendSignal.Set();
                    break;
                case RdmaCmEventType.DeviceRemoval:
                    Fail(new RdmaException(RdmaErrorKind.PeerDisconnected, "the RDMA device was removed"));
                    break;
                default:
                    break; // ESTABLISHED repeats, TIMEWAIT_EXIT: nothing to do
            }
        }
    }
}
