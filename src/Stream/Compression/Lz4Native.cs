using System.Runtime.InteropServices;

namespace StreamKit.Wire;

/// <summary>
/// liblz4's block API through <c>LibraryImport</c>. The logical name resolves to
/// <see cref="Lz4Library.Default"/>'s handle (registered when it loads), so every call must be
/// preceded by <see cref="Lz4Library.EnsureLoaded"/> — <see cref="Lz4Codec"/> does that.
/// </summary>
internal static unsafe partial class Lz4Native
{
    internal const string LogicalName = "streamkit-lz4";

    [LibraryImport(LogicalName)]
    internal static partial int LZ4_compressBound(int inputSize);

    [LibraryImport(LogicalName)]
    internal static partial int LZ4_compress_fast(byte* src, byte* dst, int srcSize, int dstCapacity, int acceleration);

    // decompress_safe is the bounds-checked decoder: it never reads past source or writes past capacity.
    [LibraryImport(LogicalName)]
    internal static partial int LZ4_decompress_safe(byte* src, byte* dst, int compressedSize, int dstCapacity);
}
