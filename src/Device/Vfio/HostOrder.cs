using System.Buffers.Binary;

namespace StreamKit.Device.Vfio;

/// <summary>
/// Reads and writes ioctl struct fields in host byte order (the kernel's <c>__u32</c>/<c>__aligned_u64</c>
/// are native-endian: little-endian on x86-64/arm64/riscv64/ppc64le, big-endian on s390x).
/// Struct buffers are built byte by byte at explicit offsets, never by struct marshalling.
/// </summary>
internal static class HostOrder
{
    internal static void WriteU32(Span<byte> buffer, int offset, uint value)
    {
        if (BitConverter.IsLittleEndian) BinaryPrimitives.WriteUInt32LittleEndian(buffer[offset..], value);
        else BinaryPrimitives.WriteUInt32BigEndian(buffer[offset..], value);
    }

    internal static void WriteS32(Span<byte> buffer, int offset, int value) => WriteU32(buffer, offset, unchecked((uint)value));

    internal static uint ReadU32(ReadOnlySpan<byte> buffer, int offset) => BitConverter.IsLittleEndian
        ? BinaryPrimitives.ReadUInt32LittleEndian(buffer[offset..])
        : BinaryPrimitives.ReadUInt32BigEndian(buffer[offset..]);

    internal static int ReadS32(ReadOnlySpan<byte> buffer, int offset) => unchecked((int)ReadU32(buffer, offset));

    internal static ulong ReadU64(ReadOnlySpan<byte> buffer, int offset) => BitConverter.IsLittleEndian
        ? BinaryPrimitives.ReadUInt64LittleEndian(buffer[offset..])
        : BinaryPrimitives.ReadUInt64BigEndian(buffer[offset..]);
}
