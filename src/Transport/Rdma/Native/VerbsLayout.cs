using System.Runtime.InteropServices;

namespace StreamKit.Transport.Rdma.Native;

// Layouts of the libibverbs structures this transport touches, for rdma-core v44 (Debian 12)
// on x86_64 / LP64. Offsets were printed with offsetof()/sizeof() by a C program compiled
// against libibverbs-dev 44.0 (tests/StreamKit.Tests/Rdma/layout-probe.c), and are pinned by
// tests/StreamKit.Tests/Rdma/NativeLayoutTests.cs. These structures are part of the verbs ABI
// (IBVERBS_1.1): providers compiled against older headers use the same layout, which is why
// the inline verbs may index the ops table directly.
// Structures the library owns are declared only up to the fields we read; structures we
// fill (work requests, SGEs, QP attributes) are declared with their full size.

/// <summary>
/// <c>struct ibv_context</c> (328 bytes). The hot-path verbs <c>ibv_post_send</c>,
/// <c>ibv_post_recv</c>, <c>ibv_poll_cq</c> and <c>ibv_req_notify_cq</c> are static inline in
/// verbs.h and not exported; they call through <c>ops</c> (<c>struct ibv_context_ops</c>, 256
/// bytes at offset 8), so we read the four function pointers from here.
/// <code>
/// off size field
///   0   8  device             struct ibv_device *
///   8 256  ops                struct ibv_context_ops; within it:
///  96   8    ops.poll_cq        (ops + 88)  int (*)(ibv_cq *, int num_entries, ibv_wc *)
/// 104   8    ops.req_notify_cq  (ops + 96)  int (*)(ibv_cq *, int solicited_only)
/// 208   8    ops.post_send      (ops + 200) int (*)(ibv_qp *, ibv_send_wr *, ibv_send_wr **bad)
/// 216   8    ops.post_recv      (ops + 208) int (*)(ibv_qp *, ibv_recv_wr *, ibv_recv_wr **bad)
/// 264   4  cmd_fd
/// 268   4  async_fd
/// 272   4  num_comp_vectors
/// 280  40  mutex              pthread_mutex_t
/// 320   8  abi_compat
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit)]
internal unsafe struct IbvContext
{
    internal const int OpsOffset = 8;
    internal const int PollCqOffset = OpsOffset + 88;
    internal const int ReqNotifyCqOffset = OpsOffset + 96;
    internal const int PostSendOffset = OpsOffset + 200;
    internal const int PostRecvOffset = OpsOffset + 208;

    [FieldOffset(0)] public nint Device;
    [FieldOffset(PollCqOffset)] public delegate* unmanaged<IbvCq*, int, IbvWc*, int> PollCq;
    [FieldOffset(ReqNotifyCqOffset)] public delegate* unmanaged<IbvCq*, int, int> ReqNotifyCq;
    [FieldOffset(PostSendOffset)] public delegate* unmanaged<IbvQp*, IbvSendWr*, IbvSendWr**, int> PostSend;
    [FieldOffset(PostRecvOffset)] public delegate* unmanaged<IbvQp*, IbvRecvWr*, IbvRecvWr**, int> PostRecv;
    [FieldOffset(264)] public int CmdFd;
    [FieldOffset(268)] public int AsyncFd;
    [FieldOffset(272)] public int NumCompVectors;
}

/// <summary>
/// <c>struct ibv_sge</c> (16 bytes): one scatter/gather element.
/// <code>
/// off size field
///   0   8  addr    virtual address inside a registered region
///   8   4  length  bytes
///  12   4  lkey    the region's local key
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct IbvSge
{
    [FieldOffset(0)] public ulong Addr;
    [FieldOffset(8)] public uint Length;
    [FieldOffset(12)] public uint Lkey;
}

/// <summary>
/// <c>struct ibv_send_wr</c> (128 bytes). We use SEND / SEND_WITH_IMM only, so the <c>wr</c>
/// union (rdma/atomic/ud), <c>qp_type</c> union and the bind_mw/tso union stay zero.
/// <code>
/// off size field
///   0   8  wr_id       returned in the completion
///   8   8  next        struct ibv_send_wr * (NULL: one request)
///  16   8  sg_list     struct ibv_sge *
///  24   4  num_sge
///  28   4  opcode      enum ibv_wr_opcode (SEND = 2, SEND_WITH_IMM = 3)
///  32   4  send_flags  IBV_SEND_SIGNALED = 2
///  36   4  imm_data    __be32 (union with invalidate_rkey)
///  40  32  wr          union { rdma, atomic, ud }
///  72   4  qp_type     union { xrc.remote_srqn }
///  80  48  bind_mw / tso union
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal unsafe struct IbvSendWr
{
    [FieldOffset(0)] public ulong WrId;
    [FieldOffset(8)] public IbvSendWr* Next;
    [FieldOffset(16)] public IbvSge* SgList;
    [FieldOffset(24)] public int NumSge;
    [FieldOffset(28)] public int Opcode;
    [FieldOffset(32)] public int SendFlags;
    [FieldOffset(36)] public uint ImmData;
}

/// <summary>
/// <c>struct ibv_recv_wr</c> (32 bytes).
/// <code>
/// off size field
///   0   8  wr_id
///   8   8  next      struct ibv_recv_wr *
///  16   8  sg_list   struct ibv_sge *
///  24   4  num_sge
///  28   4  (padding)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal unsafe struct IbvRecvWr
{
    [FieldOffset(0)] public ulong WrId;
    [FieldOffset(8)] public IbvRecvWr* Next;
    [FieldOffset(16)] public IbvSge* SgList;
    [FieldOffset(24)] public int NumSge;
}

/// <summary>
/// <c>struct ibv_wc</c> (48 bytes): one work completion.
/// <code>
/// off size field
///   0   8  wr_id
///   8   4  status          enum ibv_wc_status (0 = success, 5 = flushed, 12 = retry exceeded, 13 = RNR retry exceeded)
///  12   4  opcode          enum ibv_wc_opcode (SEND = 0, RECV = 128)
///  16   4  vendor_err
///  20   4  byte_len        bytes received (RECV)
///  24   4  imm_data        __be32, valid when wc_flags has IBV_WC_WITH_IMM
///  28   4  qp_num
///  32   4  src_qp
///  36   4  wc_flags        IBV_WC_WITH_IMM = 2
///  40   2  pkey_index
///  42   2  slid
///  44   1  sl
///  45   1  dlid_path_bits
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct IbvWc
{
    [FieldOffset(0)] public ulong WrId;
    [FieldOffset(8)] public int Status;
    [FieldOffset(12)] public int Opcode;
    [FieldOffset(16)] public uint VendorErr;
    [FieldOffset(20)] public uint ByteLen;
    [FieldOffset(24)] public uint ImmData;
    [FieldOffset(28)] public uint QpNum;
    [FieldOffset(32)] public uint SrcQp;
    [FieldOffset(36)] public uint WcFlags;
}

/// <summary>
/// <c>struct ibv_mr</c> (48 bytes), owned by the library.
/// <code>
/// off size field
///   0   8  context
///   8   8  pd
///  16   8  addr
///  24   8  length
///  32   4  handle
///  36   4  lkey
///  40   4  rkey
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
internal struct IbvMr
{
    [FieldOffset(0)] public nint Context;
    [FieldOffset(8)] public nint Pd;
    [FieldOffset(16)] public nint Addr;
    [FieldOffset(24)] public nuint Length;
    [FieldOffset(32)] public uint Handle;
    [FieldOffset(36)] public uint Lkey;
    [FieldOffset(40)] public uint Rkey;
}

/// <summary>
/// <c>struct ibv_cq</c> (128 bytes), owned by the library; first fields only.
/// <code>
/// off size field
///   0   8  context     struct ibv_context *
///   8   8  channel     struct ibv_comp_channel *
///  16   8  cq_context
///  24   4  handle
///  28   4  cqe         actual depth
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit)]
internal unsafe struct IbvCq
{
    [FieldOffset(0)] public IbvContext* Context;
    [FieldOffset(8)] public IbvCompChannel* Channel;
    [FieldOffset(16)] public nint CqContext;
    [FieldOffset(24)] public uint Handle;
    [FieldOffset(28)] public int Cqe;
}

/// <summary>
/// <c>struct ibv_qp</c> (160 bytes), owned by the library; first fields only.
/// <code>
/// off size field
///   0   8  context     struct ibv_context *
///   8   8  qp_context
///  16   8  pd
///  24   8  send_cq
///  32   8  recv_cq
///  40   8  srq
///  48   4  handle
///  52   4  qp_num
///  56   4  state       enum ibv_qp_state
///  60   4  qp_type     enum ibv_qp_type (RC = 2)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit)]
internal unsafe struct IbvQp
{
    [FieldOffset(0)] public IbvContext* Context;
    [FieldOffset(8)] public nint QpContext;
    [FieldOffset(16)] public nint Pd;
    [FieldOffset(24)] public IbvCq* SendCq;
    [FieldOffset(32)] public IbvCq* RecvCq;
    [FieldOffset(52)] public uint QpNum;
    [FieldOffset(56)] public int State;
    [FieldOffset(60)] public int QpType;
}

/// <summary>
/// <c>struct ibv_comp_channel</c> (16 bytes): the fd that becomes readable when an armed CQ
/// gets a completion.
/// <code>
/// off size field
///   0   8  context
///   8   4  fd
///  12   4  refcnt
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal unsafe struct IbvCompChannel
{
    [FieldOffset(0)] public IbvContext* Context;
    [FieldOffset(8)] public int Fd;
    [FieldOffset(12)] public int RefCount;
}

/// <summary>
/// <c>struct ibv_qp_init_attr</c> (64 bytes), with <c>struct ibv_qp_cap</c> (20 bytes) inlined
/// at offset 32.
/// <code>
/// off size field
///   0   8  qp_context
///   8   8  send_cq
///  16   8  recv_cq
///  24   8  srq
///  32   4  cap.max_send_wr
///  36   4  cap.max_recv_wr
///  40   4  cap.max_send_sge
///  44   4  cap.max_recv_sge
///  48   4  cap.max_inline_data
///  52   4  qp_type         IBV_QPT_RC = 2
///  56   4  sq_sig_all      0: only IBV_SEND_SIGNALED requests complete
///  60   4  (padding)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal unsafe struct IbvQpInitAttr
{
    [FieldOffset(0)] public nint QpContext;
    [FieldOffset(8)] public IbvCq* SendCq;
    [FieldOffset(16)] public IbvCq* RecvCq;
    [FieldOffset(24)] public nint Srq;
    [FieldOffset(32)] public uint MaxSendWr;
    [FieldOffset(36)] public uint MaxRecvWr;
    [FieldOffset(40)] public uint MaxSendSge;
    [FieldOffset(44)] public uint MaxRecvSge;
    [FieldOffset(48)] public uint MaxInlineData;
    [FieldOffset(52)] public int QpType;
    [FieldOffset(56)] public int SqSigAll;
}

/// <summary>Constants from verbs.h used by this transport.</summary>
internal static class Ibv
{
    internal const int QptRc = 2;
    internal const int WrSend = 2;
    internal const int WrSendWithImm = 3;
    internal const int SendSignaled = 2;
    internal const int WcSuccess = 0;
    internal const int WcWrFlushErr = 5;
    internal const int WcRetryExcErr = 12;
    internal const int WcRnrRetryExcErr = 13;
    internal const int WcOpcodeSend = 0;
    internal const int WcOpcodeRecv = 128;
    internal const uint WcWithImm = 2;
    internal const int AccessLocalWrite = 1;
}
