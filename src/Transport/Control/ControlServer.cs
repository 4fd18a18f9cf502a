using System.Net.Sockets;
using StreamKit.Transport.Native;

namespace StreamKit.Transport.Control;

/// <summary>
/// The control socket of one `streamkit send` / `streamkit receive` process: listens on a Unix
/// socket path, serves one VMM connection at a time (a second concurrent one is answered with
/// <c>busy</c> and closed), and accepts only peers running as the server's uid or root
/// (SO_PEERCRED). Events published while no VMM is connected are dropped.
/// </summary>
internal sealed class ControlServer : IControlEventSink, IAsyncDisposable
{
    private readonly IControlHandler _handler;
    private readonly string _serverName;
    private readonly uint _allowedUid;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private ControlConnection? _active;
    private Task? _activeTask;
    private Task? _acceptTask;
    private bool _disposed;

    /// <summary>Binds and listens on <paramref name="path"/>; a stale socket file (nobody listening) is replaced.</summary>
    /// <param name="path">Socket path.</param>
    /// <param name="handler">Receives the requests.</param>
    /// <param name="serverName">Reported in hello replies.</param>
    /// <param name="allowedUid">The uid besides root that may connect; default: this process's effective uid.</param>
    /// <exception cref="IOException">The path is in use by a live server or is not a socket.</exception>
    internal ControlServer(string path, IControlHandler handler, string serverName = "streamkit", uint? allowedUid = null)
    {
        LibC.EnsureSupported();
        Path = path;
        _allowedUid = allowedUid ?? LibC.GetEffectiveUserId();
        _handler = handler;
        _serverName = serverName;
        handler.Attach(this);
        RemoveStaleSocket(path);
        _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            // Only the owner may connect (the peer uid check below is the second line of defence).
            if (OperatingSystem.IsLinux()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            _listener.Listen(4);
        }
        catch
        {
            _listener.Dispose();
            throw;
        }
    }

    /// <summary>The socket path.</summary>
    internal string Path { get; }

    /// <summary>True while a VMM connection that completed hello is open.</summary>
    internal bool HasClient => Volatile.Read(ref _active) is { HelloDone: true };

    /// <summary>Starts accepting connections in the background.</summary>
    internal void Start()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _acceptTask ??= AcceptLoopAsync(_stopping.Token);
    }

    /// <inheritdoc/>
    public bool Publish(ControlEvent controlEvent) => Volatile.Read(ref _active) is { } connection && connection.Publish(controlEvent);

    private async Task AcceptLoopAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (!cancellationToken.IsCancellationRequested)
            {
                // Transient (EMFILE, ECONNABORTED): the server must outlive one failed accept.
                await Task.Delay(100, CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            catch (SocketException)
            {
                return;
            }

            var connection = new ControlConnection(socket, _handler, _serverName);
            if (!PeerAllowed(socket, out string who))
            {
                _ = connection.RejectAsync(ControlErrorCode.PermissionDenied, $"{who} may not control this server");
                continue;
            }
            if (Volatile.Read(ref _active) is not null)
            {
                _ = connection.RejectAsync(ControlErrorCode.Busy, "another control connection is active");
                continue;
            }
            Volatile.Write(ref _active, connection);
            _activeTask = RunConnectionAsync(connection, cancellationToken);
        }
    }

    private async Task RunConnectionAsync(ControlConnection connection, CancellationToken cancellationToken)
    {
        await connection.RunAsync(cancellationToken).ConfigureAwait(false);
        Interlocked.CompareExchange(ref _active, null, connection);
    }

    /// <summary>SO_PEERCRED: struct ucred { 0 pid_t pid; 4 uid_t uid; 8 gid_t gid } (12 bytes).</summary>
    private bool PeerAllowed(Socket socket, out string who)
    {
        Span<byte> credentials = stackalloc byte[12];
        try
        {
            int length = socket.GetRawSocketOption(LibC.SOL_SOCKET, LibC.SO_PEERCRED, credentials);
            if (length < 12) { who = "a peer without credentials"; return false; }
        }
        catch (SocketException e)
        {
            who = $"a peer whose credentials cannot be read ({e.SocketErrorCode})";
            return false;
        }
        int pid = BitConverter.ToInt32(credentials);
        uint uid = BitConverter.ToUInt32(credentials[4..]);
        who = $"pid {pid} (uid {uid})";
        return uid == 0 || uid == _allowedUid;
    }

    private static void RemoveStaleSocket(string path)
    {
        int kind = LibC.FileType(path);
        if (kind < 0) return; // nothing there
        if (kind != LibC.S_IFSOCK) throw new IOException($"control socket path {path} exists and is not a socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path); // a previous server died without cleaning up
            return;
        }
        throw new IOException($"control socket path {path} is in use by a running server");
    }

    /// <summary>Stops accepting, closes the active connection and removes the socket file.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        _stopping.Cancel();
        _listener.Dispose();
        if (_acceptTask is not null) await _acceptTask.ConfigureAwait(false);
        if (_activeTask is not null) await _activeTask.ConfigureAwait(false);
        try { File.Delete(Path); } catch (IOException) { /* best effort */ }
        _stopping.Dispose();
    }
}
