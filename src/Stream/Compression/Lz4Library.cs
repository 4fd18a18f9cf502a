using System.Runtime.InteropServices;

namespace StreamKit.Wire;

/// <summary>
/// Finds and loads liblz4: the first candidate that loads AND exports the block API wins.
/// Only the versioned soname is guaranteed on Debian (package liblz4-1, a dependency of apt
/// itself); the unversioned name comes from liblz4-dev. Instances exist so tests can load a
/// bogus list and exercise the missing-library path for real; the process uses <see cref="Default"/>.
/// </summary>
internal sealed class Lz4Library
{
    /// <summary>Environment variable that replaces the candidate list with one path (read once).</summary>
    internal const string OverrideVariable = "STREAMKIT_LZ4_LIBRARY";

    internal static readonly string[] DefaultCandidates = ["liblz4.so.1", "liblz4.so", "liblz4.1.dylib", "lz4"];

    private static readonly string[] RequiredExports =
        ["LZ4_versionNumber", "LZ4_compressBound", "LZ4_compress_fast", "LZ4_decompress_safe"];

    private readonly string _failures = "";

    internal Lz4Library(IReadOnlyList<string> candidates)
    {
        Candidates = candidates;
        var failures = new List<string>();
        foreach (string candidate in candidates)
        {
            if (!NativeLibrary.TryLoad(candidate, typeof(Lz4Library).Assembly, null, out nint handle))
            {
                failures.Add($"{candidate} (not found)");
                continue;
            }
            // A library of the right name but the wrong content (e.g. a bad override) must not be called blindly.
            if (RequiredExports.All(name => NativeLibrary.TryGetExport(handle, name, out _)))
            {
                Handle = handle;
                LoadedFrom = candidate;
                unsafe { Version = ((delegate* unmanaged<int>)NativeLibrary.GetExport(handle, "LZ4_versionNumber"))(); }
                return;
            }
            NativeLibrary.Free(handle);
            failures.Add($"{candidate} (loaded, but has no LZ4 block API)");
        }
        _failures = string.Join(", ", failures);
    }

    /// <summary>The process-wide library, loaded on first use from the default list or the override.</summary>
    internal static Lz4Library Default => DefaultHolder.Instance;

    /// <summary>The candidate list: the override path alone when set, else the default sonames.</summary>
    internal static IReadOnlyList<string> CandidatesFor(string? overridePath) =>
        string.IsNullOrWhiteSpace(overridePath) ? DefaultCandidates : [overridePath];

    internal IReadOnlyList<string> Candidates { get; }

    internal nint Handle { get; }

    internal bool IsLoaded => Handle != 0;

    /// <summary>The candidate that loaded, or null.</summary>
    internal string? LoadedFrom { get; }

    /// <summary>LZ4_versionNumber(), e.g. 10904 for 1.9.4; 0 when not loaded.</summary>
    internal int Version { get; }

    /// <exception cref="StreamFormatException"><see cref="StreamErrorCode.CodecUnavailable"/>, naming the Debian package.</exception>
    internal void EnsureLoaded()
    {
        if (!IsLoaded) ThrowUnavailable();
    }

    private void ThrowUnavailable()
    {
        string origin = Candidates.Count == 1 && !DefaultCandidates.Contains(Candidates[0])
            ? $" (path from {OverrideVariable})" : "";
        throw new StreamFormatException(StreamErrorCode.CodecUnavailable, -1,
            "LZ4 needs the native library liblz4.so.1: install the Debian package liblz4-1 " +
            $"(apt-get install liblz4-1), or send without compression. Tried{origin}: {_failures}");
    }

    // Separate holder so the environment is read and the library loaded on first use, exactly once;
    // the LibraryImport declarations in Lz4Native resolve to this handle.
    private static class DefaultHolder
    {
        internal static readonly Lz4Library Instance = LoadDefault();

        private static Lz4Library LoadDefault()
        {
            var library = new Lz4Library(CandidatesFor(Environment.GetEnvironmentVariable(OverrideVariable)));
            NativeLibrary.SetDllImportResolver(typeof(Lz4Library).Assembly,
                (name, _, _) => name == Lz4Native.LogicalName ? library.Handle : 0);
            return library;
        }
    }
}
