using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using StreamKit.Transport.Native;
using StreamKit.Transport.Rdma.Native;
using Xunit;

namespace StreamKit.Tests.Rdma;

/// <summary>
/// Pins the declared native layouts to what layout-probe.c printed against rdma-core 44.0
/// headers on x86_64 (Debian 12). A wrong offset here would make the adapter read garbage or
/// post corrupt work requests, so every field we touch is checked.
/// </summary>
public unsafe class NativeLayoutTests
{
    private static int Offset<T>(string field) where T : unmanaged => (int)Marshal.OffsetOf<T>(field);

    [Fact]
    public void ContextOpsTableEntries()
    {
        // ibv_context.ops at 8; within ops: poll_cq 88, req_notify_cq 96, post_send 200, post_recv 208.
        Assert.Equal(0, Offset<IbvContext>(nameof(IbvContext.Device)));
        Assert.Equal(8 + 88, Offset<IbvContext>(nameof(IbvContext.PollCq)));
        Assert.Equal(8 + 96, Offset<IbvContext>(nameof(IbvContext.ReqNotifyCq)));
        Assert.Equal(8 + 200, Offset<IbvContext>(nameof(IbvContext.PostSend)));
        Assert.Equal(8 + 208, Offset<IbvContext>(nameof(IbvContext.PostRecv)));
        Assert.Equal(264, Offset<IbvContext>(nameof(IbvContext.CmdFd)));
        Assert.Equal(268, Offset<IbvContext>(nameof(IbvContext.AsyncFd)));
        Assert.Equal(272, Offset<IbvContext>(nameof(IbvContext.NumCompVectors)));
    }

    [Fact]
    public void WorkRequestsAndSge()
    {
        Assert.Equal(16, sizeof(IbvSge));
        Assert.Equal([0, 8, 12], new[] { Offset<IbvSge>("Addr"), Offset<IbvSge>("Length"), Offset<IbvSge>("Lkey") });

        Assert.Equal(128, sizeof(IbvSendWr));
        Assert.Equal([0, 8, 16, 24, 28, 32, 36], new[]
        {
            Offset<IbvSendWr>("WrId"), Offset<IbvSendWr>("Next"), Offset<IbvSendWr>("SgList"), Offset<IbvSendWr>("NumSge"),
            Offset<IbvSendWr>("Opcode"), Offset<IbvSendWr>("SendFlags"), Offset<IbvSendWr>("ImmData"),
        });

        Assert.Equal(32, sizeof(IbvRecvWr));
        Assert.Equal([0, 8, 16, 24], new[] { Offset<IbvRecvWr>("WrId"), Offset<IbvRecvWr>("Next"), Offset<IbvRecvWr>("SgList"), Offset<IbvRecvWr>("NumSge") });
    }

    [Fact]
    public void WorkCompletion()
    {
        Assert.Equal(48, sizeof(IbvWc));
        Assert.Equal([0, 8, 12, 16, 20, 24, 28, 32, 36], new[]
        {
            Offset<IbvWc>("WrId"), Offset<IbvWc>("Status"), Offset<IbvWc>("Opcode"), Offset<IbvWc>("VendorErr"), Offset<IbvWc>("ByteLen"),
            Offset<IbvWc>("ImmData"), Offset<IbvWc>("QpNum"), Offset<IbvWc>("SrcQp"), Offset<IbvWc>("WcFlags"),
        });
    }

    [Fact]
    public void LibraryOwnedObjects()
    {
        Assert.Equal(48, sizeof(IbvMr));
        Assert.Equal([16, 24, 36, 40], new[] { Offset<IbvMr>("Addr"), Offset<IbvMr>("Length"), Offset<IbvMr>("Lkey"), Offset<IbvMr>("Rkey") });
        Assert.Equal([0, 8, 28], new[] { Offset<IbvCq>("Context"), Offset<IbvCq>("Channel"), Offset<IbvCq>("Cqe") });
        Assert.Equal([0, 52, 56, 60], new[] { Offset<IbvQp>("Context"), Offset<IbvQp>("QpNum"), Offset<IbvQp>("State"), Offset<IbvQp>("QpType") });
        Assert.Equal(16, sizeof(IbvCompChannel));
        Assert.Equal(8, Offset<IbvCompChannel>("Fd"));
    }

    [Fact]
    public void QueuePairInitAttributes()
    {
        Assert.Equal(64, sizeof(IbvQpInitAttr));
        Assert.Equal([0, 8, 16, 24, 32, 36, 40, 44, 48, 52, 56], new[]
        {
            Offset<IbvQpInitAttr>("QpContext"), Offset<IbvQpInitAttr>("SendCq"), Offset<IbvQpInitAttr>("RecvCq"), Offset<IbvQpInitAttr>("Srq"),
            Offset<IbvQpInitAttr>("MaxSendWr"), Offset<IbvQpInitAttr>("MaxRecvWr"), Offset<IbvQpInitAttr>("MaxSendSge"), Offset<IbvQpInitAttr>("MaxRecvSge"),
            Offset<IbvQpInitAttr>("MaxInlineData"), Offset<IbvQpInitAttr>("QpType"), Offset<IbvQpInitAttr>("SqSigAll"),
        });
    }

    [Fact]
    public void ConnectionManagerStructures()
    {
        Assert.Equal([0, 8, 16, 24, 32, 160, 344, 348, 400], new[]
        {
            Offset<RdmaCmId>("Verbs"), Offset<RdmaCmId>("Channel"), Offset<RdmaCmId>("Context"), Offset<RdmaCmId>("Qp"),
            Offset<RdmaCmId>("SrcAddr"), Offset<RdmaCmId>("DstAddr"), Offset<RdmaCmId>("PortSpace"), Offset<RdmaCmId>("PortNum"), Offset<RdmaCmId>("Pd"),
        });
        Assert.Equal(80, sizeof(RdmaCmEvent));
        Assert.Equal([0, 8, 16, 20, 24], new[] { Offset<RdmaCmEvent>("Id"), Offset<RdmaCmEvent>("ListenId"), Offset<RdmaCmEvent>("Event"), Offset<RdmaCmEvent>("Status"), Offset<RdmaCmEvent>("Conn") });
        Assert.Equal(24, sizeof(RdmaConnParam));
        Assert.Equal([0, 8, 9, 10, 11, 12, 13, 14, 16], new[]
        {
            Offset<RdmaConnParam>("PrivateData"), Offset<RdmaConnParam>("PrivateDataLen"), Offset<RdmaConnParam>("ResponderResources"),
            Offset<RdmaConnParam>("InitiatorDepth"), Offset<RdmaConnParam>("FlowControl"), Offset<RdmaConnParam>("RetryCount"),
            Offset<RdmaConnParam>("RnrRetryCount"), Offset<RdmaConnParam>("Srq"), Offset<RdmaConnParam>("QpNum"),
        });
        Assert.Equal(4, sizeof(RdmaEventChannel));
        Assert.Equal(8, sizeof(PollFd));
        Assert.Equal(6, Offset<PollFd>("ReturnedEvents"));
    }

    [Fact]
    public void EventTypeNumbering()
    {
        // enum rdma_cm_event_type: ESTABLISHED is the 10th, DISCONNECTED the 11th.
        Assert.Equal(4, (int)RdmaCmEventType.ConnectRequest);
        Assert.Equal(8, (int)RdmaCmEventType.Rejected);
        Assert.Equal(9, (int)RdmaCmEventType.Established);
        Assert.Equal(10, (int)RdmaCmEventType.Disconnected);
        Assert.Equal(15, (int)RdmaCmEventType.TimewaitExit);
    }

    [Fact]
    public void WritingThroughTheStructsLandsAtTheDocumentedBytes()
    {
        var wr = new IbvSendWr { WrId = 0x1122334455667788, NumSge = 1, Opcode = Ibv.WrSendWithImm, SendFlags = Ibv.SendSignaled, ImmData = 0xAABBCCDD };
        var bytes = new ReadOnlySpan<byte>(&wr, sizeof(IbvSendWr));
        Assert.Equal(0x1122334455667788UL, MemoryMarshal.Read<ulong>(bytes));
        Assert.Equal(3, MemoryMarshal.Read<int>(bytes[28..]));
        Assert.Equal(2, MemoryMarshal.Read<int>(bytes[32..]));
        Assert.Equal(0xAABBCCDDu, MemoryMarshal.Read<uint>(bytes[36..]));
        Assert.True(bytes[40..].IndexOfAnyExcept((byte)0) < 0, "the wr union and everything after must stay zero");
        Assert.Equal(Unsafe.SizeOf<IbvWc>(), sizeof(IbvWc));
    }
}
