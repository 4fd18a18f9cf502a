using System.Diagnostics.Metrics;
using StreamKit.Transport;
using Xunit;

namespace StreamKit.Tests.Transport;

public class TransportMetricsTests
{
    [Fact]
    public async Task BytesChunksAndConnectionsAreCounted()
    {
        long bytesSent = 0, chunks = 0, opened = 0, errors = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TransportMetrics.MeterName) l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            // Other tests run in parallel: count only the in-memory transport (and errors of kind Timeout, which only this test raises in-memory... so just count ≥).
            bool memory = false;
            foreach (var tag in tags) if (tag.Key == "transport" && (string?)tag.Value == "memory") memory = true;
            switch (instrument.Name)
            {
                case "streamkit.transport.bytes_sent" when memory: Interlocked.Add(ref bytesSent, value); break;
                case "streamkit.transport.chunks_sent" when memory: Interlocked.Add(ref chunks, value); break;
                case "streamkit.transport.connections" when memory: Interlocked.Add(ref opened, value); break;
                case "streamkit.transport.errors": Interlocked.Add(ref errors, value); break;
            }
        });
        listener.Start();

        var (a, b) = MemoryConnection.CreatePair();
        await using (a)
        await using (b)
        {
            for (int i = 0; i < 10; i++) await a.SendAsync(new byte[48], new byte[1000]);
            a.Abort(new TransportException(TransportErrorKind.Timeout, "metrics test"));
        }
        Assert.True(Interlocked.Read(ref bytesSent) >= 10 * 1048);
        Assert.True(Interlocked.Read(ref chunks) >= 10);
        Assert.True(Interlocked.Read(ref opened) >= 2);
        Assert.True(Interlocked.Read(ref errors) >= 1);
    }
}
