namespace StreamKit.Device;

/// <summary>
/// The driver side of one resuming session: accepts the stream in any segmentation, validates as
/// bytes arrive (profile-specific), and decides at RESUMING → STOP whether the rebuilt state is
/// complete and exactly what a correct source sent. Called only under the device lock.
/// </summary>
internal abstract class LoadStream
{
    /// <summary>Bytes accepted so far.</summary>
    internal long Position { get; private set; }

    /// <summary>errno of the first failed write; once set, the session is poisoned.</summary>
    internal int FailedErrno { get; private set; }

    /// <summary>Why the session failed or would fail to commit (first problem).</summary>
    internal string? Problem { get; private protected set; }

    /// <summary>Per-unit versions rebuilt by this session (adopted by the device on a good commit).</summary>
    internal abstract uint[] StagedVersions { get; }

    /// <summary>Writes all of <paramref name="src"/>; 0 or the errno the driver returns. Never called once
    /// <see cref="FailedErrno"/> is set: the channel refuses further writes itself.</summary>
    internal int Write(ReadOnlySpan<byte> src) => FailedErrno != 0 ? FailedErrno : Accepted(WriteCore(src), src.Length);

    /// <summary><see cref="Write"/> of <paramref name="count"/> zero bytes, with the same result.</summary>
    internal int WriteZeros(long count) => FailedErrno != 0 ? FailedErrno : Accepted(WriteZerosCore(count), count);

    private int Accepted(int errno, long length)
    {
        if (errno != 0)
        {
            FailedErrno = errno;
            Problem ??= $"write failed ({Errno.Name(errno)})";
            return errno;
        }
        Position += length;
        return 0;
    }

    /// <summary>Fails the session as if the driver had refused a write (fault injection).</summary>
    internal void Poison(int errno, string why)
    {
        FailedErrno = errno;
        Problem ??= why;
    }

    /// <summary>RESUMING → STOP validation: 0 when the state is complete and correct, else EINVAL.</summary>
    internal int Validate()
    {
        if (FailedErrno != 0)
        {
            Problem ??= "an earlier write failed";
            return Errno.EINVAL;
        }
        return ValidateCore();
    }

    protected abstract int WriteCore(ReadOnlySpan<byte> src);

    /// <summary>Zeros through <see cref="WriteCore"/>; a profile that can check zeros without reading them overrides it.</summary>
    protected virtual int WriteZerosCore(long count)
    {
        while (count > 0)
        {
            int piece = (int)Math.Min(count, ZeroBlock.Length);
            int errno = WriteCore(ZeroBlock.Span(piece));
            if (errno != 0) return errno;
            count -= piece;
        }
        return 0;
    }

    protected abstract int ValidateCore();

    protected int Reject(int errno, string why)
    {
        Problem ??= why;
        return errno;
    }

    /// <summary>EINVAL for RESUMING → STOP, recording why.</summary>
    internal int RejectAtCommit(string why) => Reject(Errno.EINVAL, why);
}
