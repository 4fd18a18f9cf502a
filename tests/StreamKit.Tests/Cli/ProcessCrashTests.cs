using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using StreamKit.Device;
using Xunit;

namespace StreamKit.Tests.Cli;

/// <summary>
/// The failure rule when a whole process dies (SIGKILL: no handler runs, the kernel closes its sockets): the survivor
/// fails with a typed transport error, leaves its devices Running, and a source keeps its state while a destination
/// is reset. Sender and receiver are separate `streamkit` processes, as an operator runs them.
/// </summary>
public sealed class ProcessCrashTests
{
    // Slow reads and a manual switchover hold the migration in pre-copy long enough to kill a process inside it.
    private const string Source = "sim:profile=mlx5,size=16MiB,seed=31,zero=20%,slow-read=2ms";
    private const string Destination = "sim:profile=mlx5,size=16MiB,seed=31,zero=20%,state=blank";

    [Fact]
    public async Task ReceiverKilledMidPrecopyLeavesTheSourceRunningWithItsState()
    {
        await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--json", "--device", Destination);
        string address = await receiver.ListeningAddressAsync();
        await using var sender = StreamkitProcess.Start("send", "--to", address, "--switchover", "manual", "--json", "--device", Source);
        await WaitForPrecopyBytesAsync(sender);

        Kill(receiver.Id);
        int exit = await sender.WaitForExitAsync();

        Assert.NotEqual(0, exit);
        var result = sender.LastEvent("result");
        Assert.False(result.GetProperty("ok").GetBoolean());
        Assert.Equal(exit, result.GetProperty("exit_code").GetInt32());
        string code = result.GetProperty("error").GetProperty("code").GetString()!;
        Assert.Contains(code, new[] { "ConnectionFailed", "PeerError", "Timeout" });
        var device = result.GetProperty("devices")[0];
        Assert.Equal(nameof(MigrationState.Running), device.GetProperty("state").GetString());
        Assert.Equal(SpecDigest(Source), device.GetProperty("state_digest").GetString());
    }

    [Fact]
    public async Task SenderKilledMidPrecopyResetsTheDestination()
    {
        await using var receiver = StreamkitProcess.Start("receive", "--listen", "tcp://127.0.0.1:0", "--json", "--device", Destination);
        string address = await receiver.ListeningAddressAsync();
        await using var sender = StreamkitProcess.Start("send", "--to", address, "--switchover", "manual", "--json", "--device", Source);
        await WaitForPrecopyBytesAsync(sender);

        Kill(sender.Id);
        int exit = await receiver.WaitForExitAsync();

        Assert.NotEqual(0, exit);
        var result = receiver.LastEvent("result");
        Assert.False(result.GetProperty("ok").GetBoolean());
        string code = result.GetProperty("error").GetProperty("code").GetString()!;
        Assert.Contains(code, new[] { "ConnectionFailed", "TruncatedStream", "Timeout" });
        var device = result.GetProperty("devices")[0];
        Assert.Equal(nameof(MigrationState.Running), device.GetProperty("state").GetString());
        // Reset: nothing of the half-received stream stays in the destination.
        Assert.Equal(SpecDigest(Destination), device.GetProperty("state_digest").GetString());
    }

    private static async Task WaitForPrecopyBytesAsync(StreamkitProcess sender) =>
        await sender.WaitForLineAsync(line =>
        {
            if (!line.Contains("\"event\":\"progress\"", StringComparison.Ordinal)) return false;
            using var progress = JsonDocument.Parse(line);
            return progress.RootElement.GetProperty("devices")[0].GetProperty("precopy_bytes").GetInt64() >= 1 << 20;
        });

    private static void Kill(int pid)
    {
        using var kill = Process.Start("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)])!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    private static string SpecDigest(string spec) =>
        new SimulatedDevice(SimulatedDeviceSpec.Parse(spec)).StateDigest.ToString("x16", CultureInfo.InvariantCulture);
}
