using System.Runtime.InteropServices;
using StreamKit.Transport.Native;

namespace StreamKit.Transport.Control;

/// <summary>
/// A file descriptor received over the control socket (SCM_RIGHTS), owned by this process until
/// closed. The control layer closes every fd whose request is rejected or that nobody
/// <see cref="Claim"/>ed; whoever claims it closes it by disposing. Closing StreamKit's copy never
/// changes the device's state (the VMM keeps its own copy).
/// </summary>
internal sealed class PassedFd : SafeHandle
{
    private int _claimed;

    /// <summary>Takes ownership of <paramref name="fd"/> (closed when this is disposed).</summary>
    internal PassedFd(int fd) : base(invalidHandleValue: -1, ownsHandle: true) => SetHandle(fd);

    private PassedFd(int fd, bool ownsHandle) : base(-1, ownsHandle) => SetHandle(fd);

    /// <summary>A handle that never closes <paramref name="fd"/> (fuzzing and tests of the parser).</summary>
    internal static PassedFd NotOwned(int fd) => new(fd, ownsHandle: false);

    /// <summary>The descriptor number (valid while this handle is open).</summary>
    internal int Fd => (int)handle;

    /// <inheritdoc/>
    public override bool IsInvalid => handle == -1;

    /// <summary>True once a handler took ownership.</summary>
    internal bool IsClaimed => Volatile.Read(ref _claimed) != 0;

    /// <summary>Marks the fd as owned by the caller, who must dispose it. Returns this.</summary>
    /// <exception cref="InvalidOperationException">Already claimed, or already closed.</exception>
    internal PassedFd Claim()
    {
        if (Interlocked.Exchange(ref _claimed, 1) != 0) throw new InvalidOperationException($"fd {Fd} was already claimed");
        if (IsClosed) throw new InvalidOperationException("the fd was already closed");
        return this;
    }

    /// <summary>Closes the fd unless it was claimed.</summary>
    internal void DisposeUnlessClaimed()
    {
        if (!IsClaimed) Dispose();
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => LibC.Close((int)handle) == 0;

    /// <summary>Closes every fd of <paramref name="fds"/> nobody claimed.</summary>
    internal static void DisposeUnclaimed(IReadOnlyList<PassedFd> fds)
    {
        for (int i = 0; i < fds.Count; i++) fds[i].DisposeUnlessClaimed();
    }
}
