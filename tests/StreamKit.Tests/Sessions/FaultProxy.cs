using System.Net;
using System.Net.Sockets;
using StreamKit.Transport;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// A TCP proxy on loopback that forwards connections to a target and injects one fault into one of
/// them: cut the connection (both directions, with a reset) once a number of bytes went through in one
/// direction, flip one bit of the byte at a given offset, or freeze it there (both directions stop
/// forwarding, the sockets stay open: a peer that hangs), stop reading from the sender there (its
/// socket buffers fill: a receiver that stops reading), or overwrite the bytes from there with given
/// ones (garbage, a forged header). Connections are numbered in accept order.
/// </summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Socket> _sockets = [];
    private readonly Task _acceptLoop;
    private int _accepted;

    public enum Direction { Forward, Return }

    public enum Kind { Cut, Flip, Freeze, StopReading, Overwrite }

    /// <summary>Which connection (accept order), which direction, at which byte offset of that direction, and what happens there.</summary>
    /// <param name="Bytes">For <see cref="Kind.Overwrite"/>: the bytes that replace those from <paramref name="Offset"/> on (same length).</param>
    public sealed record Fault(int Connection, Direction Direction, long Offset, Kind What, byte[]? Bytes = null);

    private volatile bool _frozen;

    private readonly Fault _fault;

    public FaultProxy(IPEndPoint target, Fault fault)
    {
        _target = target;
        _fault = fault;
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The proxy's address with <paramref name="channels"/> channels.</summary>
    public TransportAddress Address(int channels) => TransportAddress.Tcp("127.0.0.1", ((IPEndPoint)_listener.LocalEndPoint!).Port, channels);

    /// <summary>True once the fault was injected.</summary>
    public bool Fired { get; private set; }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try { client = await _listener.AcceptAsync(_stop.Token); }
            catch (Exception) { return; }
            int index = _accepted++;
            var upstream = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try { await upstream.ConnectAsync(_target, _stop.Token); }
            catch (Exception) { client.Dispose(); upstream.Dispose(); continue; }
            lock (_sockets) { _sockets.Add(client); _sockets.Add(upstream); }
            _ = PumpAsync(index, Direction.Forward, client, upstream);
            _ = PumpAsync(index, Direction.Return, upstream, client);
        }
    }

    private async Task PumpAsync(int connection, Direction direction, Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        long position = 0;
        bool faulty = connection == _fault.Connection && direction == _fault.Direction;
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    if (!(_frozen && connection == _fault.Connection)) to.Shutdown(SocketShutdown.Send);
                    return;
                }
                if (_frozen && connection == _fault.Connection) continue; // swallowed: the peer hangs
                if (faulty && _fault.What == Kind.Overwrite)
                {
                    byte[] with = _fault.Bytes!;
                    for (int i = 0; i < n; i++)
                    {
                        long at = position + i - _fault.Offset;
                        if (at < 0 || at >= with.Length) continue;
                        buffer[i] = with[at];
                        Fired = true;
                    }
                    await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                    position += n;
                    continue;
                }
                if (faulty && !Fired && position + n > _fault.Offset)
                {
                    int at = (int)(_fault.Offset - position);
                    if (_fault.What == Kind.Flip)
                    {
                        buffer[at] ^= 0x10;
                        Fired = true;
                    }
                    else if (_fault.What == Kind.StopReading)
                    {
                        if (at > 0) await to.SendAsync(buffer.AsMemory(0, at), SocketFlags.None, _stop.Token);
                        Fired = true;
                        await Task.Delay(Timeout.Infinite, _stop.Token); // never read from the sender again
                    }
                    else if (_fault.What == Kind.Freeze)
                    {
                        if (at > 0) await to.SendAsync(buffer.AsMemory(0, at), SocketFlags.None, _stop.Token);
                        Fired = true;
                        _frozen = true;
                        continue;
                    }
                    else
                    {
                        if (at > 0) await to.SendAsync(buffer.AsMemory(0, at), SocketFlags.None, _stop.Token);
                        Fired = true;
                        Cut(from, to);
                        return;
                    }
                }
                await to.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                position += n;
            }
        }
        catch (Exception)
        {
            if (!(_frozen && connection == _fault.Connection)) Cut(from, to); // a hung link passes nothing on, not even a close
        }
    }

    private static void Cut(Socket a, Socket b)
    {
        foreach (var s in new[] { a, b })
        {
            try
            {
                s.LingerState = new LingerOption(true, 0); // close with a reset, as a crashed peer's kernel would
                s.Close();
            }
            catch (Exception) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Dispose();
        lock (_sockets) foreach (var s in _sockets) s.Dispose();
        try { await _acceptLoop; } catch (Exception) { }
        _stop.Dispose();
    }
}
