using System.Net;
using StreamKit.LabTests;

namespace StreamKit.RdmaLabTests;

/// <summary>
/// The command over RDMA: <c>streamkit receive --listen rdma://ADDR:0</c> and
/// <c>streamkit send --to rdma://ADDR:PORT?channels=2</c> as two processes, simulated devices on
/// both ends. The destination commits only if the end record's digest and size match what it
/// received (spec/simulated-devices.md), so "committed" means the state arrived intact.
/// </summary>
internal sealed class CliCheck(IPAddress address)
{
    // Each dotnet process JITs its whole path under TCG emulation (`streamkit --help` alone takes ~8 s on a
    // quiet host, several times that on a loaded CI runner), and an RDMA connection is only accepted once the
    // receiver's user space has run its accept path: every deadline here is generous on purpose.
    private static readonly TimeSpan ProcessTimeout = TimeSpan.FromSeconds(420);
    private const string Source = "sim:profile=mlx5,size=1MiB,seed=61,chunk=256KiB";
    private const string Destination = "sim:profile=mlx5,size=1MiB,seed=61,chunk=256KiB,state=blank";

    internal IEnumerable<LabCheck> All()
    {
        yield return new("cli-send-receive-rdma", TimeSpan.FromSeconds(480), SendReceive);
    }

    private Task<IReadOnlyList<string>> SendReceive(CancellationToken ct) => Task.Run<IReadOnlyList<string>>(() =>
    {
        string[] slow = ["--connect-timeout", "300s", "--handshake-timeout", "300s", "--idle-timeout", "300s", "--json"];
        using var receiver = StreamkitChild.Start(["receive", "--listen", $"rdma://{address}:0", "--device", Destination, .. slow]);
        string listening = receiver.WaitForJson("listening", ProcessTimeout).GetProperty("address").GetString()!;
        Expect.True(listening.StartsWith("rdma://", StringComparison.Ordinal), $"receiver listens on {listening}");
        using var sender = StreamkitChild.Start(["send", "--to", $"{listening}?channels=2", "--device", Source, .. slow]);
        int sent = sender.WaitForExit(ProcessTimeout), received = receiver.WaitForExit(ProcessTimeout);
        Expect.True(sent == 0 && received == 0, $"send exited {sent}, receive exited {received}\nsend: {sender.Describe()}\nreceive: {receiver.Describe()}");
        var result = receiver.WaitForJson("result", TimeSpan.Zero);
        var device = result.GetProperty("devices")[0];
        Expect.True(device.GetProperty("committed").GetBoolean(), $"the receiver did not commit: {receiver.Describe()}");
        return [$"streamkit receive --listen rdma://{address}:0 → {listening}; streamkit send --to {listening}?channels=2: both exit 0, destination committed",
                $"send took {sender.Elapsed.TotalSeconds:0.0} s"];
    }, ct);
}
