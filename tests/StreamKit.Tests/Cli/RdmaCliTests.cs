using Xunit;

namespace StreamKit.Tests.Cli;

/// <summary>
/// rdma:// through the command on a host without an RDMA device (this one; CI has the libraries
/// but no device): a transport error naming what is missing and the packages, on both ends. The
/// working path runs in the soft-RoCE lab (Lab/RdmaLabTests).
/// </summary>
public sealed class RdmaCliTests
{
    private static bool HasRdmaDevice =>
        Directory.Exists("/sys/class/infiniband") && Directory.EnumerateFileSystemEntries("/sys/class/infiniband").Any();

    [Fact]
    public async Task ReceiveOnRdmaWithoutADeviceSaysWhatIsMissing()
    {
        if (HasRdmaDevice) return;
        await using var p = await StreamkitProcess.RunAsync("receive", "--listen", "rdma://10.0.0.2:7471", "--device", "sim:profile=mtty");
        p.AssertExit(4);
        Assert.Contains("NotAvailable", p.Stderr);
        Assert.Contains("no RDMA device", p.Stderr);
        Assert.Contains("ibverbs-providers", p.Stderr);
        Assert.Contains("librdmacm1", p.Stderr);
    }

    [Fact]
    public async Task SendOnRdmaWithoutADeviceSaysWhatIsMissing()
    {
        if (HasRdmaDevice) return;
        await using var p = await StreamkitProcess.RunAsync("send", "--to", "rdma://10.0.0.2:7471?channels=2", "--device", "sim:profile=mtty");
        p.AssertExit(4);
        Assert.Contains("no RDMA device", p.Stderr);
        Assert.Contains("ibverbs-providers", p.Stderr);
        Assert.Contains("librdmacm1", p.Stderr);
    }
}
