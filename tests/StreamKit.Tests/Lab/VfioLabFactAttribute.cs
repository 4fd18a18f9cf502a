using Xunit;

namespace StreamKit.Tests.Lab;

/// <summary>A fact that needs the VFIO lab; skipped, with the reason shown, where the lab cannot run.</summary>
public sealed class VfioLabFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the lab is missing (xunit 2 has no runtime skip).</summary>
    public VfioLabFactAttribute()
    {
        if (VfioLabEnvironment.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs the VFIO lab; every row is skipped, with the reason shown, where the lab cannot run.</summary>
public sealed class VfioLabTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the lab is missing.</summary>
    public VfioLabTheoryAttribute()
    {
        if (VfioLabEnvironment.SkipReason is { } reason) Skip = reason;
    }
}

/// <summary>A fact that needs the lab with soft-RoCE (<c>run.sh --rdma</c>); skipped, with the reason shown, where it cannot run.</summary>
public sealed class RdmaLabFactAttribute : FactAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the lab or the RDMA packages are missing.</summary>
    public RdmaLabFactAttribute()
    {
        if (VfioLabEnvironment.RdmaSkipReason is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs the lab with soft-RoCE (<c>run.sh --rdma</c>); skipped, with the reason shown, where it cannot run.</summary>
public sealed class RdmaLabTheoryAttribute : TheoryAttribute
{
    /// <summary>Sets <see cref="FactAttribute.Skip"/> when the lab or the RDMA packages are missing.</summary>
    public RdmaLabTheoryAttribute()
    {
        if (VfioLabEnvironment.RdmaSkipReason is { } reason) Skip = reason;
    }
}
