using System.Net;
using System.Runtime.InteropServices;
using StreamKit.Transport.Native;
using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

// Native resources of a channel: their creation (before the handshake), the start once the
// peer's parameters are known, posting work requests, and teardown.
internal sealed unsafe partial class RdmaChannel
{
    private RdmaCmId* _id;
    private CmEventChannel? _cm;
    private nint _pd;
    private IbvCompChannel* _compChannel;
    private IbvCq* _cq;
    private IbvQp* _qp;
    private RegisteredMemory? _receiveMemory;
    private RegisteredMemory? _sendMemory;
    private byte* _scratch;          // work requests + SGEs (under _sync) and the poll array (progress thread)
    private IbvSendWr* _sendWr;
    private IbvSge* _sendSge;
    private IbvRecvWr* _recvWr;
    private IbvSge* _recvSge;
    private IbvWc* _completions;
    private int _wakeFd = -1;
    private Thread? _progress;
    private volatile bool _stopping;
    private bool _disconnectIssued;
    private bool _ownsIdAndEvents;

    private const int CompletionBatch = 16;
    private static readonly int ScratchSize = sizeof(IbvSendWr) + sizeof(IbvSge) + sizeof(IbvRecvWr) + sizeof(IbvSge) + CompletionBatch * sizeof(IbvWc);

    internal RdmaCmId* Id => _id;
    internal CmEventChannel Events => _cm!;

    private RdmaChannel(RdmaChannelOptions options, IPEndPoint? remote)
    {
        _options = options;
        RemoteEndPoint = remote;
        int receiveSlots = options.ReceiveDepth + options.ControlDepth;
        _received = new RdmaReceivedMessage[receiveSlots];
        _ready = new IntRing(receiveSlots);
    }

    /// <summary>
    /// Creates the protection domain, completion queue, RC queue pair and registered receive
    /// buffers on a cm id whose device is known (address resolved, or a connect request), and
    /// posts every receive buffer, so the credits announced in the handshake are real.
    /// On success the channel owns <paramref name="id"/> and <paramref name="events"/>; on
    /// failure the caller still does (it may reject the request first).
    /// </summary>
    internal static RdmaChannel Create(RdmaCmId* id, CmEventChannel events, RdmaChannelOptions options, IPEndPoint? remote)
    {
        var channel = new RdmaChannel(options, remote) { _id = id, _cm = events };
        try
        {
            channel.CreateResources();
        }
        catch
        {
            channel.DestroyResources();
            throw;
        }
        channel._ownsIdAndEvents = true;
        return channel;
    }

    private void CreateResources()
    {
        IbvContext* context = _id->Verbs;
        if (context == null) throw new RdmaException(RdmaErrorKind.SetupFailed, "the cm id has no device yet (address not resolved)");

        _scratch = (byte*)NativeMemory.AllocZeroed((nuint)ScratchSize);
        _sendWr = (IbvSendWr*)_scratch;
        _sendSge = (IbvSge*)(_sendWr + 1);
        _recvWr = (IbvRecvWr*)(_sendSge + 1);
        _recvSge = (IbvSge*)(_recvWr + 1);
        _completions = (IbvWc*)(_recvSge + 1);

        _wakeFd = LibC.EventFd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (_wakeFd < 0) throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, "eventfd failed");

        _pd = VerbsNative.ibv_alloc_pd(context);
        if (_pd == 0) throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, "ibv_alloc_pd failed");
        _compChannel = VerbsNative.ibv_create_comp_channel(context);
        if (_compChannel == null) throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, "ibv_create_comp_channel failed");

        // Send queue: every send buffer, every zero-copy send from caller memory, every credit-only
        // message we allow in flight, the end marker.
        int sendWrs = 2 * _options.SendDepth + _options.ControlDepth + 1;
        int receiveWrs = _received.Length;
        _cq = VerbsNative.ibv_create_cq(context, sendWrs + receiveWrs, 0, _compChannel, 0);
        if (_cq == null) throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, $"ibv_create_cq({sendWrs + receiveWrs}) failed");

        var attr = new IbvQpInitAttr
        {
            SendCq = _cq,
            RecvCq = _cq,
            MaxSendWr = (uint)sendWrs,
            MaxRecvWr = (uint)receiveWrs,
            MaxSendSge = 1,
            MaxRecvSge = 1,
            QpType = Ibv.QptRc,
            SqSigAll = 0,
        };
        if (CmNative.rdma_create_qp(_id, _pd, &attr) != 0)
            throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed, $"rdma_create_qp (RC, {sendWrs} send / {receiveWrs} receive requests) failed");
        _qp = _id->Qp;

        _receiveMemory = new RegisteredMemory(_pd, _options.ReceiveBufferSize, receiveWrs, "receive buffers");
        for (int slot = 0; slot < receiveWrs; slot++)
        {
            _received[slot] = new RdmaReceivedMessage(this, slot, _receiveMemory.Slot(slot));
            PostReceiveLocked(slot);
        }
    }

    /// <summary>
    /// Called once the handshake delivered the peer's parameters: sizes and registers the send
    /// buffers (no larger than the peer's receive buffers), sets up the credits the peer
    /// granted, and starts the progress thread.
    /// </summary>
    internal void Start(ConnectionParameters peer)
    {
        MaxMessageSize = Math.Min(_options.MaxSendBufferSize, peer.BufferSize);
        _sendMemory = new RegisteredMemory(_pd, MaxMessageSize, _options.SendDepth, "send buffers");
        _sendBuffers = new RdmaSendBuffer[_options.SendDepth];
        _freeSlots = new int[_options.SendDepth];
        for (int slot = 0; slot < _sendBuffers.Length; slot++)
        {
            _sendBuffers[slot] = new RdmaSendBuffer(this, slot, _sendMemory.Slot(slot));
            _freeSlots[slot] = _sendBuffers.Length - 1 - slot;
        }
        _freeCount = _sendBuffers.Length;
        _pending = new IntRing(2 * _options.SendDepth + 1);
        _externalSends = new ExternalSend[_options.SendDepth];
        _externalFree = new int[_options.SendDepth];
        for (int i = 0; i < _externalFree.Length; i++) _externalFree[i] = i;
        _externalFreeCount = _externalFree.Length;
        _ledger = new CreditLedger(peer.DataCredits, peer.ControlCredits, _options.ReceiveDepth, _options.ControlDepth);
        _progress = new Thread(ProgressLoop) { IsBackground = true, Name = $"rdma-progress {RemoteEndPoint}" };
        _progress.Start();
    }

    private void PostReceiveLocked(int slot)
    {
        _recvSge->Addr = _receiveMemory!.SlotAddress(slot);
        _recvSge->Length = (uint)_receiveMemory.SlotSize;
        _recvSge->Lkey = _receiveMemory.Lkey;
        *_recvWr = default;
        _recvWr->WrId = WorkId(WorkKind.Receive, slot);
        _recvWr->SgList = _recvSge;
        _recvWr->NumSge = 1;
        IbvRecvWr* bad = null;
        int rc = VerbsNative.PostRecv(_qp, _recvWr, &bad);
        if (rc != 0) throw FailWith(new RdmaException(RdmaErrorKind.WorkRequestFailed, $"ibv_post_recv of buffer {slot} failed", rc));
    }

    private void PostSendLocked(WorkKind work, MessageKind kind, int slot, int length)
    {
        MessageWord word = _ledger.TakeReturns(kind);
        *_sendWr = default;
        _sendWr->WrId = WorkId(work, slot);
        if (length > 0)
        {
            if (work == WorkKind.SendExternal)
            {
                ref readonly var external = ref _externalSends[slot];
                _sendSge->Addr = external.Address;
                _sendSge->Lkey = external.Lkey;
            }
            else
            {
                _sendSge->Addr = _sendMemory!.SlotAddress(slot);
                _sendSge->Lkey = _sendMemory.Lkey;
            }
            _sendSge->Length = (uint)length;
            _sendWr->SgList = _sendSge;
            _sendWr->NumSge = 1;
        }
        _sendWr->Opcode = Ibv.WrSendWithImm;
        _sendWr->SendFlags = Ibv.SendSignaled;
        _sendWr->ImmData = word.ToWire();
        IbvSendWr* bad = null;
        int rc = VerbsNative.PostSend(_qp, _sendWr, &bad);
        if (rc != 0) throw FailWith(new RdmaException(RdmaErrorKind.WorkRequestFailed, $"ibv_post_send of a {kind} message failed", rc));
    }

    private RdmaException FailWith(RdmaException failure)
    {
        Fail(failure);
        return failure;
    }

    private void DisconnectLocked()
    {
        if (_disconnectIssued || _id == null || _progress == null) return;
        _disconnectIssued = true;
        CmNative.rdma_disconnect(_id); // fails harmlessly if the peer already disconnected
    }

    private void StopProgress()
    {
        if (_progress == null) return;
        _stopping = true;
        ulong one = 1;
        LibC.Write(_wakeFd, (byte*)&one, sizeof(ulong));
        _progress.Join();
    }

    private void DestroyResources()
    {
        if (_id != null && _id->Qp != null) CmNative.rdma_destroy_qp(_id);
        _qp = null;
        if (_cq != null) VerbsNative.ibv_destroy_cq(_cq);
        _cq = null;
        if (_compChannel != null) VerbsNative.ibv_destroy_comp_channel(_compChannel);
        _compChannel = null;
        _sendMemory?.Dispose();
        _receiveMemory?.Dispose();
        foreach (var region in _externalRegions) region.Dispose();
        _externalRegions.Clear();
        if (_pd != 0) VerbsNative.ibv_dealloc_pd(_pd);
        _pd = 0;
        if (_ownsIdAndEvents)
        {
            if (_id != null) CmNative.rdma_destroy_id(_id);
            _cm?.Dispose();
        }
        _id = null;
        _cm = null;
        if (_wakeFd >= 0) LibC.Close(_wakeFd);
        _wakeFd = -1;
        if (_scratch != null) NativeMemory.Free(_scratch);
        _scratch = null;
    }

    private static ulong WorkId(WorkKind kind, int slot) => (ulong)kind << 32 | (uint)slot;

    /// <summary>What a work request was, kept in the top half of its wr_id (the bottom half is the buffer slot).</summary>
    private enum WorkKind : uint
    {
        SendData = 1,
        SendEnd = 2,
        SendCredit = 3,
        Receive = 4,
        SendExternal = 5,
    }
}
