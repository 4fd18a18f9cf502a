using System.Reflection;
using System.Runtime.InteropServices;

namespace StreamKit.Wire;

/// <summary>
/// liblz4 block API through <c>LibraryImport</c>. Only the versioned soname is guaranteed on
/// Debian (package liblz4-1, a dependency of apt itself); the unversioned name comes from -dev.
/// </summary>
internal static unsafe partial class Lz4Native
{
    internal const string LogicalName = "streamkit-lz4";
    private static readonly string[] Candidates = ["liblz4.so.1", "liblz4.so", "liblz4.1.dylib", "lz4"];

    [LibraryImport(LogicalName)]
    internal static partial int LZ4_versionNumber();

    [LibraryImport(LogicalName)]
    internal static partial int LZ4_compressBound(int inputSize);

    [LibraryImport(LogicalName)]
    internal static partial int LZ4_compress_fast(byte* src, byte* dst, int srcSize, int dstCapacity, int acceleration);

    [LibraryImport(LogicalName)]
    internal static partial int LZ4_decompress_safe(byte* src, byte* dst, int compressedSize, int dstCapacity);

    internal static nint Handle { get; private set; }


    private static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != LogicalName) return 0;
        if (Handle != 0) return Handle;
        foreach (string candidate in Candidates)
        {
            if (NativeLibrary.TryLoad(candidate, assembly, path, out nint handle))
                return Handle = handle;
        }
        return 0;
    }

    /// <summary>Registers the resolver for the logical name and loads the library; call once, before any import.</summary>
    internal static bool TryLoad()
    {
        NativeLibrary.SetDllImportResolver(typeof(Lz4Native).Assembly, Resolve);
        return Resolve(LogicalName, typeof(Lz4Native).Assembly, null) != 0;
    }
}
