using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace StreamKit.Transport.Rdma.Native;

/// <summary>
/// libibverbs (Debian package libibverbs1; device drivers in ibverbs-providers). Bound by its
/// versioned soname, which is the only name a runtime system is guaranteed to have (the
/// unversioned libibverbs.so comes from -dev). No DllImportResolver: one resolver per assembly
/// is allowed and StreamKit.Transport is shared with other transports; the versioned soname
/// loads as given. <see cref="RdmaLibraries"/> checks that it loads before anything here runs.
/// Functions returning a pointer report failure as NULL + errno; destroy functions return an
/// errno value.
/// </summary>
internal static unsafe partial class VerbsNative
{
    internal const string Soname = "libibverbs.so.1";

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial nint* ibv_get_device_list(int* numDevices);

    [LibraryImport(Soname)]
    internal static partial void ibv_free_device_list(nint* list);

    [LibraryImport(Soname)]
    internal static partial byte* ibv_get_device_name(nint device);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial nint ibv_alloc_pd(IbvContext* context);

    [LibraryImport(Soname)]
    internal static partial int ibv_dealloc_pd(nint pd);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial IbvMr* ibv_reg_mr(nint pd, void* addr, nuint length, int access);

    [LibraryImport(Soname)]
    internal static partial int ibv_dereg_mr(IbvMr* mr);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial IbvCompChannel* ibv_create_comp_channel(IbvContext* context);

    [LibraryImport(Soname)]
    internal static partial int ibv_destroy_comp_channel(IbvCompChannel* channel);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial IbvCq* ibv_create_cq(IbvContext* context, int cqe, nint cqContext, IbvCompChannel* channel, int compVector);

    [LibraryImport(Soname)]
    internal static partial int ibv_destroy_cq(IbvCq* cq);

    [LibraryImport(Soname, SetLastError = true)]
    internal static partial int ibv_get_cq_event(IbvCompChannel* channel, IbvCq** cq, nint* cqContext);

    [LibraryImport(Soname)]
    internal static partial void ibv_ack_cq_events(IbvCq* cq, uint count);

    [LibraryImport(Soname)]
    internal static partial byte* ibv_wc_status_str(int status);

    // The four inline verbs of verbs.h, through the context's ops table (see IbvContext).

    /// <summary><c>ibv_post_send</c>: returns 0 or an errno value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int PostSend(IbvQp* qp, IbvSendWr* wr, IbvSendWr** bad) => qp->Context->PostSend(qp, wr, bad);

    /// <summary><c>ibv_post_recv</c>: returns 0 or an errno value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int PostRecv(IbvQp* qp, IbvRecvWr* wr, IbvRecvWr** bad) => qp->Context->PostRecv(qp, wr, bad);

    /// <summary><c>ibv_poll_cq</c>: completions written, or negative on error.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int PollCq(IbvCq* cq, int count, IbvWc* wc) => cq->Context->PollCq(cq, count, wc);

    /// <summary><c>ibv_req_notify_cq</c>: returns 0 or an errno value.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int ReqNotifyCq(IbvCq* cq, bool solicitedOnly) => cq->Context->ReqNotifyCq(cq, solicitedOnly ? 1 : 0);

    internal static string StatusText(int status) => Marshal.PtrToStringUTF8((nint)ibv_wc_status_str(status)) ?? $"status {status}";
}
