using System.Runtime.InteropServices;

namespace StreamKit.Transport.Rdma.Native;

// Layouts of the librdmacm structures this transport touches (rdma-core v44, x86_64 / LP64;
// see VerbsLayout.cs for how they were measured and where they are pinned).

/// <summary>
/// <c>struct rdma_event_channel</c> (4 bytes): the fd that becomes readable when a
/// connection-manager event is queued.
/// <code>
/// off size field
///   0   4  fd
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 4)]
internal struct RdmaEventChannel
{
    [FieldOffset(0)] public int Fd;
}

/// <summary>
/// <c>struct rdma_cm_id</c> (416 bytes), owned by the library; the fields we read.
/// <code>
/// off size field
///   0   8  verbs            struct ibv_context * (set once the address is resolved / a request arrives)
///   8   8  channel          struct rdma_event_channel *
///  16   8  context          user pointer
///  24   8  qp               struct ibv_qp * (set by rdma_create_qp)
///  32 312  route            struct rdma_route; within it:
///  32 128    route.addr.src_addr  local sockaddr (union up to sockaddr_storage)
/// 160 128    route.addr.dst_addr  peer sockaddr
/// 344   4  ps               enum rdma_port_space
/// 348   1  port_num
/// 352   8  event            struct rdma_cm_event * (synchronous mode only)
/// 360  32  send_cq_channel, send_cq, recv_cq_channel, recv_cq
/// 392   8  srq
/// 400   8  pd
/// 408   4  qp_type
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit)]
internal unsafe struct RdmaCmId
{
    internal const int SrcAddrOffset = 32;
    internal const int DstAddrOffset = 160;

    [FieldOffset(0)] public IbvContext* Verbs;
    [FieldOffset(8)] public RdmaEventChannel* Channel;
    [FieldOffset(16)] public nint Context;
    [FieldOffset(24)] public IbvQp* Qp;
    [FieldOffset(SrcAddrOffset)] public byte SrcAddr;
    [FieldOffset(DstAddrOffset)] public byte DstAddr;
    [FieldOffset(344)] public int PortSpace;
    [FieldOffset(348)] public byte PortNum;
    [FieldOffset(400)] public nint Pd;
}

/// <summary>
/// <c>struct rdma_conn_param</c> (24 bytes): what rdma_connect / rdma_accept send, and what
/// connection events carry (the peer's private data).
/// <code>
/// off size field
///   0   8  private_data         const void *
///   8   1  private_data_len     ≤ 56 in a REQ, ≤ 196 in a REP (RDMA_PS_TCP over IB CM)
///   9   1  responder_resources  RDMA READ depth we accept (0: we use no READ)
///  10   1  initiator_depth      RDMA READ depth we issue (0)
///  11   1  flow_control
///  12   1  retry_count          transport retries before IBV_WC_RETRY_EXC_ERR (ignored by accept)
///  13   1  rnr_retry_count      receiver-not-ready retries (7 = forever)
///  14   1  srq
///  15   1  (padding)
///  16   4  qp_num               ignored when a QP is created on the id
///  20   4  (padding)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal unsafe struct RdmaConnParam
{
    [FieldOffset(0)] public byte* PrivateData;
    [FieldOffset(8)] public byte PrivateDataLen;
    [FieldOffset(9)] public byte ResponderResources;
    [FieldOffset(10)] public byte InitiatorDepth;
    [FieldOffset(11)] public byte FlowControl;
    [FieldOffset(12)] public byte RetryCount;
    [FieldOffset(13)] public byte RnrRetryCount;
    [FieldOffset(14)] public byte Srq;
    [FieldOffset(16)] public uint QpNum;
}

/// <summary>
/// <c>struct rdma_cm_event</c> (80 bytes), owned by the library until rdma_ack_cm_event.
/// <code>
/// off size field
///   0   8  id          struct rdma_cm_id * (for CONNECT_REQUEST: the new id)
///   8   8  listen_id   struct rdma_cm_id * (CONNECT_REQUEST: the listening id)
///  16   4  event       enum rdma_cm_event_type
///  20   4  status      0, or an errno / IB CM reject reason
///  24  56  param       union { struct rdma_conn_param conn (24); struct rdma_ud_param ud }
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 80)]
internal unsafe struct RdmaCmEvent
{
    [FieldOffset(0)] public RdmaCmId* Id;
    [FieldOffset(8)] public RdmaCmId* ListenId;
    [FieldOffset(16)] public RdmaCmEventType Event;
    [FieldOffset(20)] public int Status;
    [FieldOffset(24)] public RdmaConnParam Conn;
}

/// <summary><c>enum rdma_cm_event_type</c>.</summary>
internal enum RdmaCmEventType
{
    AddrResolved = 0,
    AddrError = 1,
    RouteResolved = 2,
    RouteError = 3,
    ConnectRequest = 4,
    ConnectResponse = 5,
    ConnectError = 6,
    Unreachable = 7,
    Rejected = 8,
    Established = 9,
    Disconnected = 10,
    DeviceRemoval = 11,
    MulticastJoin = 12,
    MulticastError = 13,
    AddrChange = 14,
    TimewaitExit = 15,
}

/// <summary>Constants from rdma_cma.h.</summary>
internal static class RdmaCm
{
    /// <summary>RDMA_PS_TCP: reliable connected, IP port space.</summary>
    internal const int PortSpaceTcp = 0x0106;
    /// <summary>IB CM reject reason when nobody listens on the service id (port).</summary>
    internal const int RejectInvalidServiceId = 8;
    /// <summary>IB CM reject reason "consumer defined" (rdma_reject).</summary>
    internal const int RejectConsumerDefined = 28;
}
