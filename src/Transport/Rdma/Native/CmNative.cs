using System.Runtime.InteropServices;

namespace StreamKit.Transport.Rdma.Native;

/// <summary>
/// librdmacm (Debian package librdmacm1), by its versioned soname (see <see cref="VerbsNative"/>
/// for why there is no resolver). Calls return 0, or -1 with errno set.
/// </summary>
internal static unsafe partial class CmNative
{
    internal const string Soname = "librdmacm.so.1";

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial RdmaEventChannel* rdma_create_event_channel();

    [LibraryImport(Soname)]
    internal static partial void rdma_destroy_event_channel(RdmaEventChannel* channel);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_create_id(RdmaEventChannel* channel, RdmaCmId** id, nint context, int portSpace);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_destroy_id(RdmaCmId* id);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_bind_addr(RdmaCmId* id, byte* addr);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_resolve_addr(RdmaCmId* id, byte* srcAddr, byte* dstAddr, int timeoutMs);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_resolve_route(RdmaCmId* id, int timeoutMs);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_create_qp(RdmaCmId* id, nint pd, IbvQpInitAttr* attr);

    [LibraryImport(Soname)]
    internal static partial void rdma_destroy_qp(RdmaCmId* id);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_connect(RdmaCmId* id, RdmaConnParam* param);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_listen(RdmaCmId* id, int backlog);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_accept(RdmaCmId* id, RdmaConnParam* param);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_reject(RdmaCmId* id, byte* privateData, byte privateDataLen);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_disconnect(RdmaCmId* id);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_get_cm_event(RdmaEventChannel* channel, RdmaCmEvent** evt);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_ack_cm_event(RdmaCmEvent* evt);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int rdma_migrate_id(RdmaCmId* id, RdmaEventChannel* channel);

    [LibraryImport(Soname)]
    internal static partial byte* rdma_event_str(RdmaCmEventType evt);

    internal static string EventName(RdmaCmEventType evt) => Marshal.PtrToStringUTF8((nint)rdma_event_str(evt)) ?? evt.ToString();
}
