using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Compression;

/// <summary>Loading liblz4, and the error a user sees when it is missing (run for real on fresh instances).</summary>
public class Lz4LibraryTests
{
    [Fact]
    public void MissingLibraryNamesTheDebianPackage()
    {
        var missing = new Lz4Library(["/nonexistent/streamkit-test/liblz4.so.1", "liblz4-streamkit-bogus.so.9"]);
        Assert.False(missing.IsLoaded);
        Assert.Null(missing.LoadedFrom);

        var e = Assert.Throws<StreamFormatException>(missing.EnsureLoaded);
        Assert.Equal(StreamErrorCode.CodecUnavailable, e.Code);
        Assert.Contains("liblz4-1", e.Message);
        Assert.Contains("liblz4-streamkit-bogus.so.9 (not found)", e.Message);

        // Every entry point refuses the same way instead of calling through a null pointer.
    }

    [Fact]
    public void LibraryWithoutLz4SymbolsIsRefused()
    {
        // libc loads fine but is not liblz4: an override pointing at the wrong file must not be trusted.
        var wrong = new Lz4Library(Lz4Library.CandidatesFor("libc.so.6"));
        Assert.False(wrong.IsLoaded);
        var e = Assert.Throws<StreamFormatException>(wrong.EnsureLoaded);
        Assert.Contains("libc.so.6 (loaded, but has no LZ4 block API)", e.Message);
        Assert.Contains(Lz4Library.OverrideVariable, e.Message);
        Assert.Contains("liblz4-1", e.Message);
    }

    [Fact]
    public void OverrideReplacesTheCandidateList()
    {
        Assert.Equal(["/opt/lz4/liblz4.so.1"], Lz4Library.CandidatesFor("/opt/lz4/liblz4.so.1"));
        Assert.Equal(Lz4Library.DefaultCandidates, Lz4Library.CandidatesFor(null));
        Assert.Equal(Lz4Library.DefaultCandidates, Lz4Library.CandidatesFor("  "));
        Assert.Equal("liblz4.so.1", Lz4Library.DefaultCandidates[0]);
    }

    [Lz4Fact]
    public void DefaultCandidatesLoadTheVersionedSoname()
    {
        var lz4 = new Lz4Library(Lz4Library.DefaultCandidates);
        Assert.True(lz4.IsLoaded);
        Assert.Equal("liblz4.so.1", lz4.LoadedFrom);
        Assert.True(lz4.Version >= 10700, $"version {lz4.Version}");
        lz4.EnsureLoaded();

        // A later candidate is used when the earlier ones are missing.
        var fallback = new Lz4Library(["liblz4-streamkit-bogus.so.9", "liblz4.so.1"]);
        Assert.Equal("liblz4.so.1", fallback.LoadedFrom);
        Assert.Equal(lz4.Version, fallback.Version);
    }

    [Lz4Fact]
    public void OverrideWithAnAbsolutePathLoads()
    {
        string? path = new[] { "/usr/lib/x86_64-linux-gnu/liblz4.so.1", "/usr/lib/aarch64-linux-gnu/liblz4.so.1", "/lib/x86_64-linux-gnu/liblz4.so.1" }
            .FirstOrDefault(File.Exists);
        Assert.True(path is not null, "liblz4.so.1 not at a Debian multiarch path");
        var lz4 = new Lz4Library(Lz4Library.CandidatesFor(path));
        Assert.Equal(path, lz4.LoadedFrom);
    }
}
