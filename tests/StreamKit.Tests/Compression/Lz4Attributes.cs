using StreamKit.Wire;
using Xunit;

namespace StreamKit.Tests.Compression;

// xunit 2 has no runtime skip: these attributes skip, visibly, when liblz4 cannot be loaded.
// The missing-library error path itself is tested unconditionally (Lz4LibraryTests).

/// <summary>A fact that needs liblz4.so.1.</summary>
public sealed class Lz4FactAttribute : FactAttribute
{
    public Lz4FactAttribute()
    {
        if (!Lz4Codec.IsAvailable) Skip = Lz4Skip.Reason;
    }
}

/// <summary>A theory that needs liblz4.so.1.</summary>
public sealed class Lz4TheoryAttribute : TheoryAttribute
{
    public Lz4TheoryAttribute()
    {
        if (!Lz4Codec.IsAvailable) Skip = Lz4Skip.Reason;
    }
}

internal static class Lz4Skip
{
    internal const string Reason = "liblz4.so.1 missing: apt-get install liblz4-1";
}
