using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using StreamKit.Device;
using StreamKit.Transport.Control;
using StreamKit.Transport.Native;
using LibC = StreamKit.Transport.Native.LibC;
using StreamKit.Wire;

namespace StreamKit.Tests.Control;

/// <summary>A real pipe (O_CLOEXEC) standing in for a data_fd: the read end plays a saving fd, the write end a resuming one.</summary>
internal sealed unsafe class TestPipe : IDisposable
{
    private TestPipe(int read, int write)
    {
        Read = new PassedFd(read);
        Write = new PassedFd(write);
    }

    public PassedFd Read { get; }
    public PassedFd Write { get; }

    public static TestPipe Create(bool nonBlockingRead = false)
    {
        int* fds = stackalloc int[2];
        if (LibC.Pipe2(fds, LibC.O_CLOEXEC) != 0) throw new IOException($"pipe2 failed: {Marshal.GetLastPInvokeError()}");
        if (nonBlockingRead) LibC.Fcntl(fds[0], LibC.F_SETFL, LibC.O_NONBLOCK);
        return new TestPipe(fds[0], fds[1]);
    }

    public void WriteAll(ReadOnlySpan<byte> data) => WriteAll(Write.Fd, data);

    public static void WriteAll(int fd, ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            nint n;
            fixed (byte* p = data) n = LibC.Write(fd, p, (nuint)data.Length);
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR) continue;
                throw new IOException($"write failed: {Errno.Name(errno)}", errno);
            }
            data = data[(int)n..];
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> bytes from <paramref name="fd"/> (blocking).</summary>
    public static byte[] ReadExactly(int fd, int count)
    {
        var buffer = new byte[count];
        int done = 0;
        while (done < count)
        {
            nint n;
            fixed (byte* p = &buffer[done]) n = LibC.Read(fd, p, (nuint)(count - done));
            if (n == 0) throw new EndOfStreamException($"EOF after {done} of {count} bytes");
            if (n < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR) continue;
                throw new IOException($"read failed: {Errno.Name(errno)}", errno);
            }
            done += (int)n;
        }
        return buffer;
    }

    /// <summary>
    /// True when no process holds the read end any more: a write then fails with EPIPE (the runtime
    /// ignores SIGPIPE). Proves a passed copy of the read end was closed, not leaked. Writes one byte otherwise.
    /// </summary>
    public bool ReadEndClosedEverywhere()
    {
        byte b = 0x55;
        nint n = LibC.Write(Write.Fd, &b, 1);
        if (n == 1) return false;
        int errno = Marshal.GetLastPInvokeError();
        return errno == Errno.EPIPE ? true : throw new IOException($"unexpected write error {Errno.Name(errno)}");
    }

    public void Dispose()
    {
        Read.Dispose();
        Write.Dispose();
    }
}

/// <summary>A session that records what the control layer asked of it.</summary>
internal sealed class RecordingSession : ISourceControlSession, IDestinationControlSession
{
    private readonly List<string> _calls = [];

    public IReadOnlyList<ControlledDevice> Devices { get; private set; } = [];
    public IControlEventSink? Events { get; private set; }
    public TaskCompletionSource<bool>? SwitchoverGate { get; set; }
    public Exception? StartFailure { get; set; }
    public TaskCompletionSource<string> Cancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public string Phase { get; set; } = "setup";

    public IReadOnlyList<string> Calls { get { lock (_calls) return [.. _calls]; } }

    private void Record(string call) { lock (_calls) _calls.Add(call); }

    public ValueTask StartAsync(IReadOnlyList<ControlledDevice> devices, IControlEventSink events, CancellationToken cancellationToken)
    {
        Record($"start:{string.Join(",", devices.Select(d => d.Id))}");
        if (StartFailure is not null) throw StartFailure;
        Devices = devices;
        Events = events;
        Phase = "pre-copy";
        return ValueTask.CompletedTask;
    }

    public async ValueTask<bool> SwitchoverAsync(bool waitForAck, CancellationToken cancellationToken)
    {
        Record($"switchover:{waitForAck}");
        if (!waitForAck || SwitchoverGate is null) return false;
        return await SwitchoverGate.Task.WaitAsync(cancellationToken);
    }

    public SessionProgress GetProgress() => new(Phase, 1234, 1000);

    public ValueTask CancelAsync(string reason, CancellationToken cancellationToken)
    {
        Record($"cancel:{reason}");
        SwitchoverGate?.TrySetCanceled(); // a waiting switchover ends as "cancelled"
        Events?.Publish(new FailedEvent(StreamErrorCode.Cancelled, reason));
        Cancelled.TrySetResult(reason);
        return ValueTask.CompletedTask;
    }
}

/// <summary>A control server on a socket in a fresh temp directory, with a recording session and a connected client.</summary>
internal sealed class ControlFixture : IAsyncDisposable
{
    private ControlFixture(string directory, ControlServer server, ControlHandlerBase handler, RecordingSession session)
    {
        Directory = directory;
        Server = server;
        Handler = handler;
        Session = session;
    }

    public string Directory { get; }
    public string SocketPath => Server.Path;
    public ControlServer Server { get; }
    public ControlHandlerBase Handler { get; }
    public RecordingSession Session { get; }
    public ControlClient Client { get; private set; } = null!;
    public CancellationToken Timeout { get; } = new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token;

    public static async Task<ControlFixture> StartAsync(ControlRole role, bool hello = true)
    {
        string directory = NewDirectory();
        var session = new RecordingSession();
        ControlHandlerBase handler = role == ControlRole.Source ? new SourceControlHandler(session) : new DestinationControlHandler(session);
        var server = new ControlServer(Path.Combine(directory, "control.sock"), handler, "streamkit-test");
        server.Start();
        var fixture = new ControlFixture(directory, server, handler, session);
        fixture.Client = await ControlClient.ConnectAsync(fixture.SocketPath, fixture.Timeout);
        if (hello) (await fixture.Client.HelloAsync(cancellationToken: fixture.Timeout)).EnsureOk();
        return fixture;
    }

    public static string NewDirectory()
    {
        string directory = Path.Combine(Path.GetTempPath(), "skctl-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        return directory;
    }

    public Task<ControlResponse> Request(string op, Action<Utf8JsonWriter>? fields = null, params SafeHandle[] fds) =>
        Client.RequestAsync(op, fields, fds, Timeout);

    /// <summary>Sends one raw line (LF appended) and returns the next message (its reply, for raw lines).</summary>
    public async Task<JsonElement> RawLine(string text, params SafeHandle[] fds)
    {
        await Client.SendRawAsync(Encoding.UTF8.GetBytes(text + "\n"), fds, Timeout);
        return await Client.NextMessageAsync(Timeout);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        Handler.Dispose();
        try { System.IO.Directory.Delete(Directory, recursive: true); } catch (IOException) { }
    }
}

internal static class ControlAssert
{
    public static void Error(ControlResponse response, ControlErrorCode expected)
    {
        Xunit.Assert.False(response.Ok, $"expected {expected.Name()}, got {response.Body.GetRawText()}");
        Xunit.Assert.Equal(expected, response.ErrorCode);
        Xunit.Assert.False(string.IsNullOrEmpty(response.ErrorMessage));
    }

    public static void Error(JsonElement message, ControlErrorCode expected, long? id)
    {
        Xunit.Assert.True(message.TryGetProperty("ok", out var ok) && ok.ValueKind == JsonValueKind.False, message.GetRawText());
        Xunit.Assert.Equal(expected.Name(), message.GetProperty("error").GetProperty("code").GetString());
        var idElement = message.GetProperty("id");
        if (id is null) Xunit.Assert.Equal(JsonValueKind.Null, idElement.ValueKind);
        else Xunit.Assert.Equal(id.Value, idElement.GetInt64());
    }

    public static void Event(JsonElement message, string name) =>
        Xunit.Assert.True(message.TryGetProperty("event", out var e) && e.GetString() == name, $"expected event {name}, got {message.GetRawText()}");
}

internal static class Fields
{
    public static Action<Utf8JsonWriter> SourceDevice(ushort id, string name, ulong flags = 5, ulong? estimate = 4096) => w =>
    {
        w.WriteNumber("device", id);
        w.WriteString("name", name);
        w.WriteString("driver", "mtty");
        w.WriteNumber("migration_flags", flags);
        if (estimate is { } e) w.WriteNumber("stop_copy_estimate", e);
    };

    public static Action<Utf8JsonWriter> Device(ushort id) => w => w.WriteNumber("device", id);
}

/// <summary>
/// Runs a blocking device call (SetState waiting for the VMM) on its own thread, as sessions do:
/// parking thread-pool threads on 2 cores starves the pool and stalls every test for seconds.
/// </summary>
/// <summary>Finds a file of the checkout above the test's output directory (the tests run inside the checkout).</summary>
internal static class SourceTree
{
    public static string Find(params string[] relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine([dir.FullName, .. relative]);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"{Path.Combine(relative)} not found above {AppContext.BaseDirectory}");
    }
}

internal static class Blocking
{
    public static Task<T> Run<T>(Func<T> call) => Task.Factory.StartNew(call, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
}
