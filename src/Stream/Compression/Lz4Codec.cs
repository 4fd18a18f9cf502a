namespace StreamKit.Wire;

/// <summary>
/// LZ4 block compression of one chunk payload, through the system's native liblz4.
/// Decoding uses <c>LZ4_decompress_safe</c>, which is bounds-checked against hostile input.
/// </summary>
public static unsafe class Lz4Codec
{
    private static readonly Lazy<bool> Loaded = new(Lz4Native.TryLoad);

    /// <summary>True when liblz4 could be loaded.</summary>
    public static bool IsAvailable => Loaded.Value;

    /// <summary>Throws a clear error naming the Debian package when liblz4 is missing.</summary>
    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.CodecUnavailable"/>.</exception>
    public static void EnsureAvailable()
    {
        if (!IsAvailable)
            throw new StreamFormatException(StreamErrorCode.CodecUnavailable, -1,
                "LZ4 needs the native library liblz4.so.1: install the Debian package liblz4-1 " +
                "(apt-get install liblz4-1), or send without compression");
    }

    /// <summary>Largest output <see cref="Compress"/> can produce for <paramref name="rawLength"/> bytes.</summary>
    public static int MaxCompressedLength(int rawLength)
    {
        EnsureAvailable();
        return Lz4Native.LZ4_compressBound(rawLength);
    }

    /// <summary>
    /// Compresses <paramref name="source"/> into <paramref name="destination"/>.
    /// </summary>
    /// <returns>Bytes written, or 0 when the result does not fit (callers then store raw).</returns>
    public static int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int acceleration = 1)
    {
        EnsureAvailable();
        if (source.IsEmpty) return 0;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
            return Lz4Native.LZ4_compress_fast(src, dst, source.Length, destination.Length, acceleration);
    }

    /// <summary>Decodes one LZ4 block.</summary>
    /// <returns>Bytes produced, or -1 when the block is malformed or does not fit <paramref name="destination"/>.</returns>
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
