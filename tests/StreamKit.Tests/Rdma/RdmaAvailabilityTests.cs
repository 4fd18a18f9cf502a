using System.Net;
using StreamKit.Transport.Rdma;
using StreamKit.Transport.Rdma.Native;
using Xunit;

namespace StreamKit.Tests.Rdma;

/// <summary>
/// The errors a machine without RDMA gets. The libraries are real (CI installs librdmacm1 and
/// ibverbs-providers); the missing-library case loads a soname that does not exist, through
/// the same check the transport runs first.
/// </summary>
public class RdmaAvailabilityTests
{
    private static bool KernelHasRdmaDevices =>
        Directory.Exists("/sys/class/infiniband") && Directory.EnumerateFileSystemEntries("/sys/class/infiniband").Any();

    [Fact]
    public void MissingVerbsLibraryNamesThePackages()
    {
        var e = RdmaLibraries.CheckLibraries("libibverbs-streamkit-absent.so.1", CmNative.Soname);
        Assert.NotNull(e);
        Assert.Equal(RdmaErrorKind.LibraryMissing, e.Kind);
        Assert.Contains("libibverbs-streamkit-absent.so.1", e.Message);
        Assert.Contains("ibverbs-providers", e.Message);
        Assert.Contains("librdmacm1", e.Message);
        Assert.IsAssignableFrom<IOException>(e);
    }

    [Fact]
    public void MissingConnectionManagerLibraryNamesItsPackage()
    {
        var e = RdmaLibraries.CheckLibraries(VerbsNative.Soname, "librdmacm-streamkit-absent.so.1");
        Assert.NotNull(e);
        Assert.Equal(RdmaErrorKind.LibraryMissing, e.Kind);
        Assert.Contains("librdmacm1", e.Message);
        Assert.Contains("connection manager", e.Message);
    }

    [Fact]
    public void InstalledLibrariesLoad() =>
        Assert.Null(RdmaLibraries.CheckLibraries(VerbsNative.Soname, CmNative.Soname));

    [Fact]
    public void NoDeviceIsTypedAndSaysWhy()
    {
        if (KernelHasRdmaDevices)
        {
            Assert.NotEmpty(RdmaLibraries.ListDevices());
            return;
        }
        var e = Assert.Throws<RdmaException>(() => RdmaLibraries.EnsureAvailable());
        Assert.Equal(RdmaErrorKind.NoDevice, e.Kind);
        Assert.Contains("no RDMA device", e.Message);
        Assert.Contains("rdma_rxe", e.Message);      // how to get soft-RoCE
        Assert.Contains("ibverbs-providers", e.Message);
    }

    [Fact]
    public async Task ConnectAndListenFailTypedWithoutADevice()
    {
        if (KernelHasRdmaDevices) return; // covered by the lab (tests/StreamKit.RdmaLabTests)
        var options = new RdmaChannelOptions { ConnectTimeout = TimeSpan.FromSeconds(2) };
        var connect = await Assert.ThrowsAsync<RdmaException>(() => RdmaConnector.ConnectAsync(new IPEndPoint(IPAddress.Loopback, 7471), options, default));
        Assert.Equal(RdmaErrorKind.NoDevice, connect.Kind);
        var listen = Assert.Throws<RdmaException>(() => RdmaListener.Bind(new IPEndPoint(IPAddress.Loopback, 0), options));
        Assert.Equal(RdmaErrorKind.NoDevice, listen.Kind);
        var endpoint = await Assert.ThrowsAsync<RdmaException>(() => RdmaConnector.ConnectAsync(RdmaEndpoint.Parse("rdma://127.0.0.1:7471?channels=3"), options, default));
        Assert.Equal(RdmaErrorKind.NoDevice, endpoint.Kind);
    }

    [Fact]
    public void OptionsAreValidatedBeforeAnyNativeCall()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RdmaChannelOptions { ReceiveBufferSize = 100 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RdmaChannelOptions { ReceiveDepth = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RdmaChannelOptions { ControlDepth = 0 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new RdmaChannelOptions { RnrRetryCount = 8 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => RdmaConnector.Connect(new IPEndPoint(IPAddress.Loopback, 1), new RdmaChannelOptions { SendDepth = 0 }, default));
        new RdmaChannelOptions().Validate();
    }
}
