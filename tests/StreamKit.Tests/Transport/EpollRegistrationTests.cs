using System.Globalization;
using StreamKit.Transport;
using Xunit;
using static StreamKit.Tests.Transport.TransportTestKit;

namespace StreamKit.Tests.Transport;

/// <summary>
/// An accepted TCP/Unix channel is read by a blocking receive loop. Had its preamble read waited
/// asynchronously, the runtime would have registered the socket with its epoll thread for good, and
/// every segment of the bulk stream would then wake that thread and a thread-pool worker. The tests
/// read the kernel's own list of what each epoll instance of this process watches.
/// </summary>
public class EpollRegistrationTests
{
    [Theory]
    [InlineData(TransportScheme.Tcp)]
    [InlineData(TransportScheme.Unix)]
    public async Task AChannelWhosePreambleCameLateIsNotWatchedByTheRuntimesEpoll(TransportScheme scheme)
    {
        var ct = Deadline();
        var address = scheme == TransportScheme.Tcp ? LoopbackTcp() : TempUnix();
        var kind = scheme == TransportScheme.Tcp ? TransportKind.Tcp : TransportKind.Unix;
        await using var listener = TransportListener.Bind(address, new TransportOptions { HandshakeTimeout = TimeSpan.FromSeconds(15) });
        var accepting = listener.AcceptAsync(ct).AsTask();
        var socket = await SocketFactory.ConnectAsync(listener.Address, TransportOptions.Default, ct);
        await using var client = new SocketConnection(socket, kind, ConnectionSettings.Unbounded);
        await Task.Delay(300, ct); // the listener's preamble read is waiting by now: an async read would have registered
        await PreambleExchange.WriteAsync(client, NewPreamble(), ct);
        await using var group = await accepting;
        var accepted = Assert.IsType<SocketConnection>(group[0]);
        int fd = (int)accepted.Socket.SafeHandle.DangerousGetHandle();
        Assert.DoesNotContain(fd, FdsWatchedByEpoll());

        // The check sees a registration when there is one: an async receive that has to wait makes it.
        var pending = accepted.ReceiveAsync(new byte[1], ct).AsTask();
        Assert.Contains(fd, FdsWatchedByEpoll());
        await client.SendAsync(new byte[] { 7 }, ct);
        Assert.Equal(1, await pending);
    }

    /// <summary>Target fds of every epoll instance this process holds (the "tfd:" lines of /proc/self/fdinfo).</summary>
    private static HashSet<int> FdsWatchedByEpoll()
    {
        var watched = new HashSet<int>();
        foreach (var link in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(link).LinkTarget != "anon_inode:[eventpoll]") continue;
                foreach (var line in File.ReadLines($"/proc/self/fdinfo/{Path.GetFileName(link)}"))
                {
                    if (!line.StartsWith("tfd:", StringComparison.Ordinal)) continue;
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    watched.Add(int.Parse(fields[1], CultureInfo.InvariantCulture));
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // An fd that closed while we looked (other tests run in parallel).
            }
        }
        return watched;
    }
}
