using System.Runtime.InteropServices;

namespace StreamKit.Wire;

/// <summary>
/// One loaded copy of liblz4 and the block-API entry points StreamKit calls, bound as unmanaged
/// function pointers. Only the versioned soname is guaranteed on Debian (package liblz4-1, a
/// dependency of apt itself); the unversioned name comes from liblz4-dev.
/// </summary>
/// <remarks>
/// An instance per candidate list rather than <c>LibraryImport</c> plus a DllImport resolver:
/// the resolver slot is one per assembly and set-once, whereas instances let tests load a bogus
/// list and exercise the missing-library path for real, in-process. Calls cost the same.
/// </remarks>
internal sealed unsafe class Lz4Native
{
    /// <summary>Environment variable that replaces the candidate list with one path (read once).</summary>
    internal const string OverrideVariable = "STREAMKIT_LZ4_LIBRARY";

    internal static readonly string[] DefaultCandidates = ["liblz4.so.1", "liblz4.so", "liblz4.1.dylib", "lz4"];

    /// <summary>The process-wide library, loaded on first use from the default list or the override.</summary>
    internal static Lz4Native Default => DefaultHolder.Instance;

    private readonly delegate* unmanaged<int, int> _compressBound;
    private readonly delegate* unmanaged<byte*, byte*, int, int, int, int> _compressFast;
    private readonly delegate* unmanaged<byte*, byte*, int, int, int> _decompressSafe;
    private readonly string _failures = "";

    internal Lz4Native(IReadOnlyList<string> candidates)
    {
        Candidates = candidates;
        var failures = new List<string>();
        foreach (string candidate in candidates)
        {
            if (!NativeLibrary.TryLoad(candidate, typeof(Lz4Native).Assembly, null, out nint handle))
            {
                failures.Add($"{candidate} (not found)");
                continue;
            }
            // A library of the right name but the wrong content (e.g. a bad override) must not be called blindly.
            if (NativeLibrary.TryGetExport(handle, "LZ4_versionNumber", out nint version)
                && NativeLibrary.TryGetExport(handle, "LZ4_compressBound", out nint bound)
                && NativeLibrary.TryGetExport(handle, "LZ4_compress_fast", out nint compress)
                && NativeLibrary.TryGetExport(handle, "LZ4_decompress_safe", out nint decompress))
            {
                _compressBound = (delegate* unmanaged<int, int>)bound;
                _compressFast = (delegate* unmanaged<byte*, byte*, int, int, int, int>)compress;
                _decompressSafe = (delegate* unmanaged<byte*, byte*, int, int, int>)decompress;
                Version = ((delegate* unmanaged<int>)version)();
                LoadedFrom = candidate;
                return;
            }
            NativeLibrary.Free(handle);
            failures.Add($"{candidate} (loaded, but has no LZ4 block API)");
        }
        _failures = string.Join(", ", failures);
    }

    /// <summary>The candidate list: the override path alone when set, else the default sonames.</summary>
    internal static IReadOnlyList<string> CandidatesFor(string? overridePath) =>
        string.IsNullOrWhiteSpace(overridePath) ? DefaultCandidates : [overridePath];

    internal IReadOnlyList<string> Candidates { get; }

    internal bool IsLoaded => LoadedFrom is not null;

    /// <summary>The candidate that loaded, or null.</summary>
    internal string? LoadedFrom { get; }

    /// <summary>LZ4_versionNumber(), e.g. 10904 for 1.9.4; 0 when not loaded.</summary>
    internal int Version { get; }

    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.CodecUnavailable"/>, naming the Debian package.</exception>
    internal void EnsureLoaded()
    {
        if (!IsLoaded) ThrowUnavailable();
    }

    internal int MaxCompressedLength(int rawLength)
    {
        EnsureLoaded();
        return _compressBound(rawLength);
    }

    internal int Compress(ReadOnlySpan<byte> source, Span<byte> destination, int acceleration)
    {
        EnsureLoaded();
        // Nothing fits in no room; do not hand the library a null output pointer.
        if (source.IsEmpty || destination.IsEmpty) return 0;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
            return _compressFast(src, dst, source.Length, destination.Length, acceleration);
    }

    internal int Decompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        EnsureLoaded();
        if (source.IsEmpty) return -1;
        fixed (byte* src = source)
        fixed (byte* dst = destination)
        {
            // decompress_safe is the bounds-checked decoder: it never reads past source or writes past capacity.
            int n = _decompressSafe(src, dst, source.Length, destination.Length);
            return n < 0 ? -1 : n;
        }
    }

    private void ThrowUnavailable()
    {
        string origin = Candidates.Count == 1 && !DefaultCandidates.Contains(Candidates[0])
            ? $" (path from {OverrideVariable})" : "";
        throw new StreamFormatException(StreamErrorCode.CodecUnavailable, -1,
            "LZ4 needs the native library liblz4.so.1: install the Debian package liblz4-1 " +
            $"(apt-get install liblz4-1), or send without compression. Tried{origin}: {_failures}");
    }

    // Separate holder so the environment is read and the library loaded on first use, exactly once.
    private static class DefaultHolder
    {
        internal static readonly Lz4Native Instance =
            new(CandidatesFor(Environment.GetEnvironmentVariable(OverrideVariable)));
    }
}
