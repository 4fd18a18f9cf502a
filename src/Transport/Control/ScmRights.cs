using System.Runtime.InteropServices;
using StreamKit.Device;
using StreamKit.Transport.Native;

namespace StreamKit.Transport.Control;

/// <summary>
/// Sends and receives bytes with file descriptors attached (SCM_RIGHTS ancillary data) on a
/// connected AF_UNIX stream socket, by calling sendmsg/recvmsg on the socket's descriptor.
/// Both calls are non-blocking (MSG_DONTWAIT): callers wait for readiness themselves, because
/// the runtime may have switched the socket to O_NONBLOCK for its own async operations.
/// </summary>
internal static unsafe class ScmRights
{
    /// <summary>CMSG_SPACE for <see cref="ControlLimits.MaxFdsPerLine"/> ints: 16 + 32 = 48 bytes.</summary>
    private static readonly int ControlCapacity = ControlMessageLayout.Space(ControlLimits.MaxFdsPerLine * sizeof(int));

    /// <summary>What one recvmsg returned.</summary>
    internal readonly record struct ReceiveResult(int Bytes, int FdCount, bool FdsTruncated, bool WouldBlock)
    {
        /// <summary>True at end of stream (peer closed its side).</summary>
        internal bool EndOfStream => !WouldBlock && Bytes == 0;
    }

    /// <summary>
    /// One sendmsg of <paramref name="data"/> with <paramref name="fds"/> (0 to 8) attached to its first byte.
    /// Returns the bytes sent (possibly fewer than offered; the fds went with the first of them),
    /// or -1 when the socket buffer is full (EAGAIN; nothing was sent, fds not passed).
    /// </summary>
    /// <exception cref="ArgumentException">More than 8 fds, or fds with no data.</exception>
    /// <exception cref="IOException">sendmsg failed (EPIPE, ECONNRESET, EBADF, …).</exception>
    internal static int Send(SafeHandle socket, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        LibC.EnsureSupported();
        if (fds.Length > ControlLimits.MaxFdsPerLine)
            throw new ArgumentException($"at most {ControlLimits.MaxFdsPerLine} fds per message", nameof(fds));
        if (data.IsEmpty && !fds.IsEmpty)
            throw new ArgumentException("fds must travel with at least one byte on a stream socket", nameof(data));

        // 8-byte aligned ancillary buffer: the kernel walks it with CMSG_NXTHDR arithmetic.
        ulong* control = stackalloc ulong[ControlCapacity / 8];
        new Span<byte>(control, ControlCapacity).Clear();
        MessageHeader header = default;
        fixed (byte* dataPtr = data)
        {
            IoVector vector = new() { Base = dataPtr, Length = (nuint)data.Length };
            header.Vectors = &vector;
            header.VectorCount = 1;
            if (!fds.IsEmpty)
            {
                byte* cmsg = (byte*)control;
                int dataBytes = fds.Length * sizeof(int);
                *(nuint*)(cmsg + ControlMessageLayout.LengthOffset) = (nuint)ControlMessageLayout.Length(dataBytes);
                *(int*)(cmsg + ControlMessageLayout.LevelOffset) = LibC.SOL_SOCKET;
                *(int*)(cmsg + ControlMessageLayout.TypeOffset) = LibC.SCM_RIGHTS;
                fds.CopyTo(new Span<int>(cmsg + ControlMessageLayout.DataOffset, fds.Length));
                header.Control = control;
                header.ControlLength = (nuint)ControlMessageLayout.Space(dataBytes);
            }

            bool added = false;
            socket.DangerousAddRef(ref added);
            try
            {
                int fd = (int)socket.DangerousGetHandle();
                while (true)
                {
                    nint sent = LibC.SendMsg(fd, &header, LibC.MSG_DONTWAIT | LibC.MSG_NOSIGNAL);
                    if (sent >= 0) return (int)sent;
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR) continue;
                    if (errno == Errno.EAGAIN) return -1;
                    throw new IOException($"sendmsg on the control socket failed: {Errno.Name(errno)}", errno);
                }
            }
            finally
            {
                if (added) socket.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// One non-blocking recvmsg into <paramref name="buffer"/>. Received fds (close-on-exec) are
    /// written to <paramref name="fds"/> (capacity ≥ 8) and become the caller's to close. When the
    /// sender attached more fds than fit (MSG_CTRUNC) the ones that did arrive are closed here and
    /// <see cref="ReceiveResult.FdsTruncated"/> is set; the kernel already closed the rest.
    /// </summary>
    /// <exception cref="IOException">recvmsg failed (ECONNRESET, EBADF, …).</exception>
    internal static ReceiveResult Receive(SafeHandle socket, Span<byte> buffer, Span<int> fds)
    {
        LibC.EnsureSupported();
        if (fds.Length < ControlLimits.MaxFdsPerLine) throw new ArgumentException("fd buffer too small", nameof(fds));
        ulong* control = stackalloc ulong[ControlCapacity / 8];
        MessageHeader header = default;
        nint received;
        fixed (byte* bufferPtr = buffer)
        {
            IoVector vector = new() { Base = bufferPtr, Length = (nuint)buffer.Length };
            header.Vectors = &vector;
            header.VectorCount = 1;
            header.Control = control;
            header.ControlLength = (nuint)ControlCapacity;

            bool added = false;
            socket.DangerousAddRef(ref added);
            try
            {
                int fd = (int)socket.DangerousGetHandle();
                while (true)
                {
                    received = LibC.RecvMsg(fd, &header, LibC.MSG_DONTWAIT | LibC.MSG_CMSG_CLOEXEC);
                    if (received >= 0) break;
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR) continue;
                    if (errno == Errno.EAGAIN) return new ReceiveResult(0, 0, false, WouldBlock: true);
                    throw new IOException($"recvmsg on the control socket failed: {Errno.Name(errno)}", errno);
                }
            }
            finally
            {
                if (added) socket.DangerousRelease();
            }
        }

        int count = ExtractFds((byte*)control, (int)header.ControlLength, fds);
        bool truncated = (header.Flags & LibC.MSG_CTRUNC) != 0;
        if (truncated || (received == 0 && count > 0))
        {
            // Part of the set is gone: none of it can be used, and none may leak.
            for (int i = 0; i < count; i++) LibC.Close(fds[i]);
            return new ReceiveResult((int)received, 0, FdsTruncated: truncated, WouldBlock: false);
        }
        return new ReceiveResult((int)received, count, false, false);
    }

    /// <summary>Walks the cmsghdr sequence (CMSG_FIRSTHDR/CMSG_NXTHDR) and copies every SCM_RIGHTS fd.</summary>
    private static int ExtractFds(byte* control, int length, Span<int> fds)
    {
        int count = 0, offset = 0;
        while (offset + ControlMessageLayout.HeaderSize <= length)
        {
            byte* cmsg = control + offset;
            long cmsgLength = (long)*(nuint*)(cmsg + ControlMessageLayout.LengthOffset);
            if (cmsgLength < ControlMessageLayout.HeaderSize || offset + cmsgLength > length) break;
            int level = *(int*)(cmsg + ControlMessageLayout.LevelOffset);
            int type = *(int*)(cmsg + ControlMessageLayout.TypeOffset);
            if (level == LibC.SOL_SOCKET && type == LibC.SCM_RIGHTS)
            {
                int n = (int)(cmsgLength - ControlMessageLayout.HeaderSize) / sizeof(int);
                var source = new ReadOnlySpan<int>(cmsg + ControlMessageLayout.DataOffset, n);
                foreach (int fd in source)
                {
                    if (count < fds.Length) fds[count++] = fd;
                    else LibC.Close(fd); // cannot happen with our control buffer size; never leak
                }
            }
            offset += ControlMessageLayout.Align((int)cmsgLength);
        }
        return count;
    }
}
