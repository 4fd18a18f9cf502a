using System.Diagnostics;
using System.Text.Json;
using StreamKit.Device;
using StreamKit.Transport.Control;
using Xunit;

namespace StreamKit.Tests.Control;

/// <summary>
/// The control socket driven from a separate process (python3, as a non-.NET VMM would) with real
/// fds: the driver passes a pipe's read end with add-device and writes the "device state" into
/// the write end; a minimal sender here reads it through the ControlledDevice.
/// </summary>
public sealed class ExternalDriverTests
{
    /// <summary>A minimal sender: pumps pre-copy until the VMM hands over STOP_COPY, then drains to the final end.</summary>
    private sealed class PumpingSession : ISourceControlSession
    {
        public readonly MemoryStream Received = new();
        public readonly TaskCompletionSource Done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public int TemporaryEnds;

        public ValueTask StartAsync(IReadOnlyList<ControlledDevice> devices, IControlEventSink events, CancellationToken cancellationToken)
        {
            var device = devices.Single();
            new Thread(() =>
            {
                try
                {
                    Pump(device);
                    Done.TrySetResult();
                }
                catch (Exception e)
                {
                    Done.TrySetException(e);
                }
            }) { IsBackground = true, Name = "test sender" }.Start();
            return ValueTask.CompletedTask;
        }

        private void Pump(ControlledDevice device)
        {
            using var channel = device.SetState(MigrationState.PreCopy)!;
            var buffer = new byte[16 * 1024];
            bool stopCopy = false;
            while (true)
            {
                var r = channel.Read(buffer);
                switch (r.Status)
                {
                    case DataReadStatus.Data:
                        Received.Write(buffer, 0, r.Count);
                        break;
                    case DataReadStatus.TemporaryEnd when !stopCopy && device.StopCopyHandedOver.IsCompleted:
                        Assert.Null(device.SetState(MigrationState.StopCopy));
                        stopCopy = true;
                        break;
                    case DataReadStatus.TemporaryEnd:
                        TemporaryEnds++;
                        Thread.Sleep(1);
                        break;
                    case DataReadStatus.FinalEnd:
                        device.SetState(MigrationState.Stop);
                        return;
                    default:
                        throw new InvalidOperationException($"unexpected {r.Status}");
                }
            }
        }

        public ValueTask<bool> SwitchoverAsync(bool waitForAck, CancellationToken cancellationToken) => ValueTask.FromResult(false);
        public SessionProgress GetProgress() => new("pre-copy", (ulong)Received.Length, 0);
        public ValueTask CancelAsync(string reason, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }

    [Fact]
    public async Task PythonVmmPassesAPipeAndItsBytesArriveThroughTheHandler()
    {
        const int payload = 200_000; // > 3 pipe buffers: the driver blocks until StreamKit reads
        string directory = ControlFixture.NewDirectory();
        var session = new PumpingSession();
        await using var server = new ControlServer(Path.Combine(directory, "c.sock"), new SourceControlHandler(session));
        server.Start();

        var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(SourceTree.Find("tests", "StreamKit.Tests", "Control", "driver.py"));
        start.ArgumentList.Add(server.Path);
        start.ArgumentList.Add(payload.ToString());
        using var python = Process.Start(start)!;
        var stdout = python.StandardOutput.ReadToEndAsync();
        var stderr = python.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await python.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            if (!python.HasExited) python.Kill();
        }
        Assert.True(python.ExitCode == 0, $"driver.py exited {python.ExitCode}: {await stderr}");
        await session.Done.Task.WaitAsync(timeout.Token);

        var expected = new byte[payload];
        for (int i = 0; i < payload; i++) expected[i] = (byte)((i * 7 + 3) % 251);
        Assert.Equal(expected, session.Received.ToArray());

        using var summary = JsonDocument.Parse(await stdout);
        var done = summary.RootElement.GetProperty("device_done");
        Assert.Equal(1, done.GetProperty("device").GetInt32());
        Assert.Equal(payload, done.GetProperty("precopy_bytes").GetInt64() + done.GetProperty("stop_copy_bytes").GetInt64());
        Assert.True(done.GetProperty("stop_copy_bytes").GetInt64() > 0);
        Assert.Equal("done", summary.RootElement.GetProperty("status")[0].GetProperty("state").GetString());
        Directory.Delete(directory, true);
    }
}
