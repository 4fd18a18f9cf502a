using System.Buffers;
using System.Net;
using System.Net.Sockets;
using StreamKit.Transport;
using StreamKit.Transport.Fuzzing;
using StreamKit.Wire;
using StreamKit.Wire.Fuzzing;
using Xunit;
using Xunit.Abstractions;

namespace StreamKit.Tests.Fuzzing;

/// <summary>
/// The receiver probe (<c>streamkit fuzz --target tcp://…</c>) against real sockets: a tiny receiver
/// written here that validates with <see cref="StreamValidator"/> and answers ERROR or FINAL_ACK on the
/// return path, and the real <see cref="TransportListener"/>, whose refusals must be readable answers.
/// </summary>
public sealed class ReceiverProbeTests(ITestOutputHelper output)
{
    /// <summary>
    /// Accepts the connections of one case (they arrive together: the probe connects every channel
    /// before sending), reads each to its end, validates them in connection order, answers on the first
    /// connection with a return path (ERROR with the validator's code, or FINAL_ACK), then closes.
    /// </summary>
    private sealed class TinyReceiver : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public TinyReceiver()
        {
            _listener.Start();
            _loop = Task.Run(ServeAsync);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;
        public int Answered;

        private async Task ServeAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket first;
                try
                {
                    first = await _listener.AcceptSocketAsync(_stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                var sockets = new List<Socket> { first };
                // The probe connects every channel before it sends a byte: once the first connection has data
                // (or after 3 s), every channel of the case is in the accept queue. (A fixed 100 ms window split
                // cases on a loaded machine.)
                for (int waited = 0; first.Available == 0 && waited < 3000 && !_stop.IsCancellationRequested; waited += 10)
                {
                    while (_listener.Pending()) sockets.Add(await _listener.AcceptSocketAsync(_stop.Token));
                    await Task.Delay(10);
                }
                while (_listener.Pending()) sockets.Add(await _listener.AcceptSocketAsync(_stop.Token));
                await AnswerAsync(sockets);
            }
        }

        private async Task AnswerAsync(List<Socket> sockets)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            deadline.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                var channels = await Task.WhenAll(sockets.Select(s => ReadToEndAsync(s, deadline.Token)));
                var output = new ArrayBufferWriter<byte>();
                Guid id = channels[0].Length >= 32 ? new Guid(channels[0].AsSpan(16, 16), bigEndian: true) : Guid.Empty;
                var writer = new ReturnPathWriter(output, id, StreamCapabilities.ReturnPath);
                try
                {
                    var summary = StreamValidator.Verify(channels.Select(c => new ReadOnlySequence<byte>(c)).ToList());
                    writer.WriteFinalAck(new FinalAckRecord(StreamErrorCode.None, (uint)summary.Devices.Count, 0));
                }
                catch (StreamFormatException e)
                {
                    writer.WriteError(e.Code, e.Message);
                }
                await sockets[0].SendAsync(output.WrittenMemory, SocketFlags.None, deadline.Token);
                sockets[0].Shutdown(SocketShutdown.Send);
                Interlocked.Increment(ref Answered);
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // the probe gave up on this case; nothing to answer
            }
            finally
            {
                foreach (var s in sockets) s.Dispose();
            }
        }

        private static async Task<byte[]> ReadToEndAsync(Socket socket, CancellationToken ct)
        {
            var data = new MemoryStream();
            var buffer = new byte[65536];
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, ct)) > 0) data.Write(buffer, 0, n);
            return data.ToArray();
        }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            _listener.Stop();
            await _loop;
        }
    }

    [Fact]
    public async Task EveryCaseIsAnsweredAsTheReferenceValidatorPredicts()
    {
        await using var receiver = new TinyReceiver();
        var options = new ReceiverProbeOptions
        {
            Target = TransportAddress.Tcp("127.0.0.1", receiver.Port),
            Seed = 8,
            Count = 30,
            Generator = new MalformedStreamOptions { ValidPercent = 20 },
        };
        var results = await ReceiverProbe.RunAsync(options, cancellationToken: new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token);
        output.WriteLine(ReceiverProbe.Format(results));
        Assert.Equal(30, results.Count);
        Assert.Equal(Enumerable.Range(0, 30).Select(i => (long)i), results.Select(r => r.Iteration));
        foreach (var r in results)
        {
            Assert.True(r.Answer is ProbeAnswer.Error or ProbeAnswer.FinalAck, r.ToString());
            Assert.True(r.AgreesWithReference, r.ToString());
            Assert.Equal(0, r.AnsweringChannel);
            Assert.Equal(r.Channels, r.Connected);
        }
        Assert.Contains(results, r => r.Answer == ProbeAnswer.FinalAck);
        Assert.Contains(results, r => r.Answer == ProbeAnswer.Error && (uint)r.Code / 100 == 4);
        Assert.Equal(30, receiver.Answered);
    }

    [Fact]
    public async Task SilenceAndRefusalAreClassified()
    {
        var generator = new MalformedStreamGenerator();
        var c = generator.GenerateValid(1, 0);

        // Nobody listens: connect fails.
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        int port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var refused = await ReceiverProbe.ProbeAsync(c, new ReceiverProbeOptions { Target = TransportAddress.Tcp("127.0.0.1", port) }, CancellationToken.None);
        Assert.Equal(ProbeAnswer.ConnectFailed, refused.Answer);

        // A listener that accepts and never answers: timed out.
        var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        try
        {
            var quiet = await ReceiverProbe.ProbeAsync(c, new ReceiverProbeOptions
            {
                Target = TransportAddress.Tcp("127.0.0.1", ((IPEndPoint)silent.LocalEndpoint).Port),
                AnswerTimeout = TimeSpan.FromMilliseconds(500),
            }, CancellationToken.None);
            Assert.Equal(ProbeAnswer.TimedOut, quiet.Answer);
            Assert.Null(quiet.Reference);
        }
        finally
        {
            silent.Stop();
        }
    }

    [Fact]
    public async Task TheTransportListenersRefusalsAreReadableAnswers()
    {
        // A 2-channel stream whose second connection claims channel 0 again: the real listener refuses it
        // with a rejection notice, which the probe must read as ERROR BadChannel (before the fix in
        // RejectionNotice it was a malformed return path: max_payload 0).
        var generator = new MalformedStreamGenerator(new MalformedStreamOptions { MaxChannels = 2 });
        var valid = Enumerable.Range(0, 50).Select(i => generator.GenerateValid(2, i)).First(v => v.Channels.Count == 2);
        var c = new MalformedCase(2, valid.Iteration, PreambleRole.Forward, [valid.Channels[0], valid.Channels[0]], valid.Baseline, ["ch1 is a copy of ch0"], true);

        var rejections = new List<TransportException>();
        await using var listener = TransportListener.Bind(TransportAddress.Tcp("127.0.0.1", 0),
            new TransportOptions { ChannelGroupTimeout = TimeSpan.FromSeconds(10) }, e => { lock (rejections) rejections.Add(e); });
        var result = await ReceiverProbe.ProbeAsync(c, new ReceiverProbeOptions { Target = listener.Address, AnswerTimeout = TimeSpan.FromSeconds(5) }, CancellationToken.None);
        output.WriteLine(result.ToString());
        Assert.Equal(ProbeAnswer.Error, result.Answer);
        Assert.Equal(StreamErrorCode.BadChannel, result.Code);
        // Both connections claim channel 0 and race to the listener: whichever is assembled second is refused.
        Assert.InRange(result.AnsweringChannel, 0, 1);
        Assert.Contains("duplicate", result.Text);
    }
}
