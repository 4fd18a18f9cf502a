using System.Net.Sockets;
using StreamKit.Device;
using StreamKit.Transport;
using StreamKit.Transport.Fuzzing;
using StreamKit.Wire;
using StreamKit.Wire.Fuzzing;
using Xunit;

namespace StreamKit.Tests.Fuzzing;

/// <summary>
/// What the receiver-session fuzz target found, pinned down over the in-process connection (the target
/// itself) and over a real TCP socket into a <see cref="MigrationReceiver"/>. The inputs also sit in the seed
/// corpus (corpus/receiver-session/crash-*.bin).
/// </summary>
public sealed class ReceiverSessionRegressionTests
{
    /// <summary>
    /// receiver-session, seed 20260815: a forward preamble the handshake accepts but the channel's chunk
    /// reader refuses (max_payload 4095 below the 4096 minimum; SWITCHOVER_ACK without RETURN_PATH). The
    /// reader's check ran outside the channel loop's try, the faulted loop task was awaited again in the
    /// failure path, and a raw StreamFormatException escaped MigrationReceiver.RunAsync.
    /// </summary>
    internal static byte[] PreambleOnly(uint maxPayload, StreamCapabilities capabilities)
    {
        var bytes = new byte[Preamble.Size];
        new Preamble(Guid.Parse("5354524d-4b49-5400-8000-0000000f0221"), 0, 1, capabilities, maxPayload, 8, PreambleRole.Forward).Encode(bytes);
        return bytes;
    }

    public static TheoryData<uint, StreamCapabilities, string> ReaderOnlyPreambleFaults => new()
    {
        { 4095, StreamCapabilities.None, "max_payload" },
        { 0, StreamCapabilities.None, "max_payload" },
        { 65536, StreamCapabilities.SwitchoverAck, "SWITCHOVER_ACK" },
    };

    [Theory]
    [MemberData(nameof(ReaderOnlyPreambleFaults))]
    public void TheSessionTargetHoldsOnAPreambleOnlyTheReaderRefuses(uint maxPayload, StreamCapabilities capabilities, string _)
    {
        ReceiverSessionFuzzTarget.Fuzz(FuzzInput.Pack([PreambleOnly(maxPayload, capabilities)], 0, 0, 0));
    }

    [Theory]
    [MemberData(nameof(ReaderOnlyPreambleFaults))]
    public async Task ALiveReceiverFailsTypedOnAPreambleOnlyTheReaderRefuses(uint maxPayload, StreamCapabilities capabilities, string field)
    {
        var ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;
        using var destination = SimulatedDevice.Create(ReceiverSessionFuzzTarget.MttySpec + ",state=blank");
        ulong before = destination.StateDigest;
        await using var receiver = new MigrationReceiver(new ReceiverOptions { Transport = Sessions.SessionTestKit.FastTransport() });
        receiver.AddDevice(1, destination);
        await receiver.ListenAsync(TransportAddress.Tcp("127.0.0.1", 0), ct);
        var run = receiver.RunAsync(ct);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync("127.0.0.1", receiver.BoundAddress!.Port, ct);
        await socket.SendAsync(PreambleOnly(maxPayload, capabilities), ct);
        socket.Shutdown(SocketShutdown.Send);
        var e = await Assert.ThrowsAsync<MigrationException>(() => run);
        Assert.Equal(StreamErrorCode.BadPreambleField, e.Code);
        Assert.Equal(MigrationFailureOrigin.Peer, e.Origin);
        Assert.Contains(field, e.Reason);
        Assert.Equal(MigrationState.Running, destination.GetState());
        Assert.Equal(before, destination.StateDigest);
    }
}
