namespace StreamKit.Device;

/// <summary>
/// One shared, never-written block of zero bytes: the source of every zero write (a ZERO_RUN applied to a
/// device). 256 KiB: large writes, and small enough to stay in L2 while the kernel copies it repeatedly.
/// </summary>
internal static class ZeroBlock
{
    private static readonly byte[] Bytes = new byte[256 * 1024];

    internal static int Length => Bytes.Length;

    /// <summary>The first <paramref name="length"/> (≤ <see cref="Length"/>) zero bytes.</summary>
    internal static ReadOnlySpan<byte> Span(int length) => Bytes.AsSpan(0, length);
}
