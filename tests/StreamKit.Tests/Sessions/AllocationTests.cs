using StreamKit.Device;
using StreamKit.Transport;
using Xunit;
using Xunit.Abstractions;
using static StreamKit.Tests.Sessions.SessionTestKit;

namespace StreamKit.Tests.Sessions;

/// <summary>
/// The hot loops allocate nothing per chunk: each pump thread (read → CRC → queue) and each writer
/// thread (check → write) measures what it allocated with GC.GetAllocatedBytesForCurrentThread. The
/// process-wide figure (socket loops included) is measured by the benchmark (bench: migrate).
/// </summary>
public class AllocationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task PumpAndWriterThreadsDoNotAllocatePerChunk(int channels)
    {
        // Round 0 warms up (JIT, statics, pools). A per-chunk allocation shows in every measured round; a wait path
        // that allocates once in a while (a contended monitor on a loaded machine) may show in one, so the quietest
        // of three measured rounds is what must stay under a byte per chunk.
        double pumpPerChunk = double.MaxValue, writerPerChunk = double.MaxValue;
        for (int round = 0; round < 4; round++)
        {
            var (source, destination) = Pair("sim:profile=bulk,size=16MiB,seed=61");
            using (source)
            using (destination)
            {
                MigrationSender? s = null;
                MigrationReceiver? r = null;
                var outcome = await RunAsync(source, destination, Sender(chunkSize: 64 << 10), Receiver(), LoopbackTcp(), channels,
                    started: (sender, receiver) => (s, r) = (sender, receiver));
                Assert.Null(outcome.SendError);
                Assert.Null(outcome.ReceiveError);
                long chunksSent = s!.Session.ChunksSent, chunksApplied = r!.Session.ChunksApplied;
                long pumpBytes = s.Session.PumpAllocatedBytes, writerBytes = r.Session.WriterAllocatedBytes;
                output.WriteLine($"round {round}, {channels} channel(s): {chunksSent} chunks sent, pump threads allocated {pumpBytes} B; {chunksApplied} applied, writer threads allocated {writerBytes} B");
                Assert.True(chunksSent > 250);
                if (round == 0) continue;
                pumpPerChunk = Math.Min(pumpPerChunk, pumpBytes / (double)chunksSent);
                writerPerChunk = Math.Min(writerPerChunk, writerBytes / (double)chunksApplied);
            }
        }
        Assert.True(pumpPerChunk < 1, $"pump threads allocated {pumpPerChunk:0.##} B per chunk in their quietest round");
        Assert.True(writerPerChunk < 1, $"writer threads allocated {writerPerChunk:0.##} B per chunk in their quietest round");
    }
}
