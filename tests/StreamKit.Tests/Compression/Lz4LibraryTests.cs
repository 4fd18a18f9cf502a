using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Compression;

/// <summary>Loading liblz4, and the error a user sees when it is missing (run for real on fresh instances).</summary>
public class Lz4LibraryTests
{
    [Fact]
    public void MissingLibraryNamesTheDebianPackage()
    {
        var missing = new Lz4Native(["/nonexistent/streamkit-test/liblz4.so.1", "liblz4-streamkit-bogus.so.9"]);
        Assert.False(missing.IsLoaded);
        Assert.Null(missing.LoadedFrom);

        var e = Assert.Throws<StreamFormatException>(missing.EnsureLoaded);
        Assert.Equal(StreamErrorCode.CodecUnavailable, e.Code);
        Assert.Contains("liblz4-1", e.Message);
        Assert.Contains("liblz4-streamkit-bogus.so.9 (not found)", e.Message);

        // Every entry point refuses the same way instead of calling through a null pointer.
        Assert.Equal(StreamErrorCode.CodecUnavailable, Assert.Throws<StreamFormatException>(() => missing.MaxCompressedLength(10)).Code);
        Assert.Equal(StreamErrorCode.CodecUnavailable, Assert.Throws<StreamFormatException>(() => missing.Compress(new byte[10], new byte[64], 1)).Code);
        Assert.Equal(StreamErrorCode.CodecUnavailable, Assert.Throws<StreamFormatException>(() => missing.Decompress(new byte[10], new byte[64])).Code);
    }

    [Fact]
    public void LibraryWithoutLz4SymbolsIsRefused()
    {
        // libc loads fine but is not liblz4: an override pointing at the wrong file must not be trusted.
        var wrong = new Lz4Native(Lz4Native.CandidatesFor("libc.so.6"));
        Assert.False(wrong.IsLoaded);
        var e = Assert.Throws<StreamFormatException>(wrong.EnsureLoaded);
        Assert.Contains("libc.so.6 (loaded, but has no LZ4 block API)", e.Message);
        Assert.Contains(Lz4Native.OverrideVariable, e.Message);
        Assert.Contains("liblz4-1", e.Message);
    }

    [Fact]
    public void OverrideReplacesTheCandidateList()
    {
        Assert.Equal(["/opt/lz4/liblz4.so.1"], Lz4Native.CandidatesFor("/opt/lz4/liblz4.so.1"));
        Assert.Equal(Lz4Native.DefaultCandidates, Lz4Native.CandidatesFor(null));
        Assert.Equal(Lz4Native.DefaultCandidates, Lz4Native.CandidatesFor("  "));
        Assert.Equal("liblz4.so.1", Lz4Native.DefaultCandidates[0]);
    }

    [Lz4Fact]
    public void DefaultCandidatesLoadTheVersionedSoname()
    {
        var lz4 = new Lz4Native(Lz4Native.DefaultCandidates);
        Assert.True(lz4.IsLoaded);
        Assert.Equal("liblz4.so.1", lz4.LoadedFrom);
        Assert.True(lz4.Version >= 10700, $"version {lz4.Version}");
        lz4.EnsureLoaded();

        // A later candidate is used when the earlier ones are missing.
        var fallback = new Lz4Native(["liblz4-streamkit-bogus.so.9", "liblz4.so.1"]);
        Assert.Equal("liblz4.so.1", fallback.LoadedFrom);
        Assert.Equal(lz4.MaxCompressedLength(65536), fallback.MaxCompressedLength(65536));
    }

    [Lz4Fact]
    public void OverrideWithAnAbsolutePathLoads()
    {
        string? path = new[] { "/usr/lib/x86_64-linux-gnu/liblz4.so.1", "/usr/lib/aarch64-linux-gnu/liblz4.so.1", "/lib/x86_64-linux-gnu/liblz4.so.1" }
            .FirstOrDefault(File.Exists);
        Assert.True(path is not null, "liblz4.so.1 not at a Debian multiarch path");
        var lz4 = new Lz4Native(Lz4Native.CandidatesFor(path));
        Assert.Equal(path, lz4.LoadedFrom);
    }
}
