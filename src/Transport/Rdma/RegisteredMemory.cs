using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using StreamKit.Transport.Rdma.Native;

namespace StreamKit.Transport.Rdma;

/// <summary>
/// One pinned array on the pinned object heap, registered with the adapter as a single memory
/// region and cut into equal slots. Pinned managed memory (rather than native) so slots are
/// ordinary <see cref="Memory{T}"/> the rest of StreamKit can hand to device reads and writes;
/// the POH never moves it, and the array outlives the registration, so a slot used after the
/// channel closed is stale but never freed memory.
/// </summary>
internal sealed unsafe class RegisteredMemory : IDisposable
{
    private readonly byte[] _array;
    private readonly byte* _base;
    private IbvMr* _mr;

    /// <exception cref="RdmaException"><see cref="RdmaErrorKind.SetupFailed"/> when registration fails.</exception>
    internal RegisteredMemory(nint pd, int slotSize, int slotCount, string what)
        : this(pd, GC.AllocateUninitializedArray<byte>(checked(slotSize * slotCount), pinned: true), what)
    {
        SlotSize = slotSize;
        SlotCount = slotCount;
    }

    /// <summary>
    /// Registers memory the caller already owns: a pinned (POH) array, one slot. The session's
    /// device-read buffers come this way, so the adapter sends straight from where <c>read(data_fd)</c>
    /// put the bytes. Holding the array here keeps it alive for the registration's lifetime.
    /// </summary>
    /// <exception cref="RdmaException"><see cref="RdmaErrorKind.SetupFailed"/> when registration fails.</exception>
    internal RegisteredMemory(nint pd, byte[] pinnedArray, string what)
    {
        SlotSize = pinnedArray.Length;
        SlotCount = 1;
        _array = pinnedArray;
        _base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        _mr = VerbsNative.ibv_reg_mr(pd, _base, (nuint)_array.Length, Ibv.AccessLocalWrite);
        if (_mr == null)
            throw RdmaException.FromErrno(RdmaErrorKind.SetupFailed,
                $"ibv_reg_mr of {_array.Length} bytes of {what} failed (without CAP_IPC_LOCK, the memlock limit, ulimit -l, must cover it)");
        Lkey = _mr->Lkey;
    }

    /// <summary>The registered array.</summary>
    internal byte[] Array => _array;

    internal int SlotSize { get; }
    internal int SlotCount { get; }
    internal uint Lkey { get; }

    internal Memory<byte> Slot(int index) => _array.AsMemory(index * SlotSize, SlotSize);

    internal ulong SlotAddress(int index) => (ulong)(_base + (long)index * SlotSize);

    public void Dispose()
    {
        if (_mr != null)
        {
            VerbsNative.ibv_dereg_mr(_mr);
            _mr = null;
        }
    }
}
