using System.Runtime.InteropServices;

namespace StreamKit.Transport.Native;

/// <summary>
/// <c>struct msghdr</c> for LP64 Linux (glibc; musl has the same offsets on little-endian, with
/// its 32-bit length fields followed by zero padding we leave zeroed), 56 bytes:
/// <code>
/// off size field
///   0   8  msg_name        peer address (null: connected stream socket)
///   8   4  msg_namelen     (+4 padding)
///  16   8  msg_iov         struct iovec*
///  24   8  msg_iovlen      number of iovecs
///  32   8  msg_control     ancillary data buffer (cmsghdr sequence), 8-byte aligned
///  40   8  msg_controllen  its length in bytes (in: capacity, out: bytes used)
///  48   4  msg_flags       out: MSG_CTRUNC, MSG_TRUNC, … (+4 padding)
/// </code>
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 56)]
internal unsafe struct MessageHeader
{
    [FieldOffset(0)] internal void* Name;
    [FieldOffset(8)] internal uint NameLength;
    [FieldOffset(16)] internal IoVector* Vectors;
    [FieldOffset(24)] internal nuint VectorCount;
    [FieldOffset(32)] internal void* Control;
    [FieldOffset(40)] internal nuint ControlLength;
    [FieldOffset(48)] internal int Flags;
}

/// <summary><c>struct iovec</c>: 0 void* iov_base | 8 size_t iov_len (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct IoVector
{
    internal void* Base;
    internal nuint Length;
}

/// <summary>
/// Ancillary-data arithmetic (<c>CMSG_*</c> macros) for LP64 Linux. A <c>struct cmsghdr</c> is
/// <code>
/// off size field
///   0   8  cmsg_len    CMSG_LEN(data bytes) = 16 + data bytes (musl: u32 + 4 zero bytes)
///   8   4  cmsg_level  SOL_SOCKET
///  12   4  cmsg_type   SCM_RIGHTS
///  16   …  data        int fds[n]
/// </code>
/// CMSG_ALIGN rounds up to sizeof(size_t) = 8 on both x86_64 and arm64, so the header occupies
/// CMSG_ALIGN(16) = 16 bytes, CMSG_SPACE(n) = 16 + CMSG_ALIGN(n), and the next header of a
/// sequence starts CMSG_ALIGN(cmsg_len) bytes after the current one.
/// </summary>
internal static class ControlMessageLayout
{
    internal const int HeaderSize = 16;
    internal const int LengthOffset = 0;
    internal const int LevelOffset = 8;
    internal const int TypeOffset = 12;
    internal const int DataOffset = 16;

    /// <summary>CMSG_ALIGN: round up to a multiple of sizeof(size_t).</summary>
    internal static int Align(int length) => (length + 7) & ~7;

    /// <summary>CMSG_LEN: header plus <paramref name="dataLength"/> bytes, unpadded (the cmsg_len value).</summary>
    internal static int Length(int dataLength) => HeaderSize + dataLength;

    /// <summary>CMSG_SPACE: bytes a message with <paramref name="dataLength"/> data bytes occupies in the buffer.</summary>
    internal static int Space(int dataLength) => HeaderSize + Align(dataLength);
}
