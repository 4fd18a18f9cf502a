namespace StreamKit.Wire;

/// <summary>
/// LZ4 block compression of one chunk payload, through the system's native liblz4
/// (Debian package liblz4-1). Decoding uses <c>LZ4_decompress_safe</c>, which is
/// bounds-checked against hostile input. The library path can be forced with the
/// environment variable <c>STREAMKIT_LZ4_LIBRARY</c> (read once, at first use).
/// </summary>
public static unsafe class Lz4Codec
{
    /// <summary>True when liblz4 could be loaded.</summary>
    public static bool IsAvailable => Lz4Library.Default.IsLoaded;

    /// <summary>Throws a clear error naming the Debian package when liblz4 is missing.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.CodecUnavailable"/>.</exception>
    public static void EnsureAvailable() => Lz4Library.Default.EnsureLoaded();

    /// <summary>
    /// Largest output <see cref="Compress"/> can produce for <paramref name="rawLength"/> bytes;
    /// 0 when the length is negative or above LZ4's limit (0x7E000000).
    /// </summary>
    /// <exception cref="StreamFormatException">liblz4 is missing (<see cref="StreamErrorCode.CodecUnavailable"/>).</exception>
    public static int MaxCompressedLength(int rawLength)
    {
        EnsureAvailable();
        return Lz4Native.LZ4_compressBound(rawLength);
    }

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/> as one LZ4 block.</summary>
    /// <param name="source">Raw bytes.</param>
    /// <param name="destination">Output; <see cref="MaxCompressedLength"/> bytes always suffice.</param>
    /// <param name="acceleration">LZ4's speed/ratio knob; 1 is the default level, higher is faster.</param>
    /// <returns>Bytes written, or 0 when the result does not fit (callers then store raw).</returns>
    /// <exception cref="StreamFormatException">liblz4 is missing (<see cref="StreamErrorCode.CodecUnavailable"/>).</exception>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int acceleration = 1)
    {
        EnsureAvailable();
        // Nothing fits in no room; do not hand the library a null output pointer.
        if (source.IsEmpty || destination.IsEmpty) return 0;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
            return Lz4Native.LZ4_compress_fast(src, dst, source.Length, destination.Length, acceleration);
    }

    /// <summary>
    /// Decodes one LZ4 block. A block cut at a sequence boundary is still well-formed and decodes
    /// to fewer bytes, so callers must compare the result with the expected raw length.
    /// </summary>
    /// <returns>Bytes produced (never more than <paramref name="destination"/>.Length), or -1 when the block is malformed or does not fit.</returns>
    /// <exception cref="StreamFormatException">liblz4 is missing (<see cref="StreamErrorCode.CodecUnavailable"/>).</exception>
    public static int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        EnsureAvailable();
        if (source.IsEmpty) return -1;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            int n = Lz4Native.LZ4_decompress_safe(src, dst, source.Length, destination.Length);
            return n < 0 ? -1 : n;
        }
    }
}
