using StreamKit.Transport.Rdma;
using Xunit;

namespace StreamKit.Tests.Rdma;

/// <summary>
/// Runs the credit protocol between two real <see cref="CreditLedger"/>s over a modelled RC
/// link (in-order delivery per direction, send completions later) under random scheduling,
/// with the same rules <see cref="RdmaChannel"/> applies: queue sends and post while credits
/// last; after every receipt or completion, post pending sends, then a credit-only message if
/// one is due; re-post a data buffer when the application releases it. Checks, at every step,
/// that no message ever arrives without a posted receive buffer (the RNR a real adapter would
/// raise), and that the exchange never stalls while the applications are willing.
/// </summary>
public class CreditProtocolSimulationTests
{
    private sealed class Side(string name, int localData, int localControl, int sendDepth, int toSend)
    {
        internal readonly string Name = name;
        internal readonly int SendDepth = sendDepth;
        internal CreditLedger Ledger = null!;
        internal int Posted = localData + localControl;
        internal int FreeSlots = sendDepth;
        internal int Remaining = toSend;
        internal bool EndQueued, PeerEnded, EndCompleted;
        internal int ControlInFlight;
        internal readonly int ControlLimit = localControl;
        internal readonly Queue<MessageKind> Pending = new();
        internal readonly Queue<MessageKind> Completions = new();   // our sends, acknowledged later, in order
        internal readonly List<int> Held = [];
        internal int Received, NextExpected;
        internal Side Peer = null!;
        internal Queue<(MessageKind Kind, MessageWord Word, int Seq)> Wire = null!; // to the peer
        private int _sentSeq;

        internal void DrainPending()
        {
            while (Pending.Count > 0 && Ledger.TryConsumeDataCredit()) Post(Pending.Dequeue());
        }

        internal void MaybeSendCredit()
        {
            if (PeerEnded || !Ledger.CreditUpdateDue || ControlInFlight >= ControlLimit || !Ledger.TryConsumeControlCredit()) return;
            ControlInFlight++;
            Post(MessageKind.Credit);
        }

        private void Post(MessageKind kind)
        {
            Wire.Enqueue((kind, Ledger.TakeReturns(kind), kind == MessageKind.Data ? _sentSeq++ : -1));
            Completions.Enqueue(kind);
        }

        internal void AppSend()
        {
            FreeSlots--;
            Remaining--;
            Pending.Enqueue(MessageKind.Data);
            DrainPending();
        }

        internal void AppEnd()
        {
            EndQueued = true;
            Pending.Enqueue(MessageKind.End);
            DrainPending();
        }

        internal void Deliver()
        {
            var (kind, word, seq) = Peer.Wire.Dequeue();
            Assert.True(Posted > 0, $"{Name}: a {kind} message arrived with no receive buffer posted (RNR)");
            Posted--;
            Ledger.OnCreditsReturned(word.DataCredits, word.ControlCredits);
            switch (kind)
            {
                case MessageKind.Data:
                    Ledger.OnDataReceived();
                    Assert.Equal(NextExpected++, seq);
                    Held.Add(seq);
                    Received++;
                    break;
                case MessageKind.Credit:
                    Ledger.OnControlReceived();
                    Posted++;
                    break;
                case MessageKind.End:
                    Ledger.OnDataReceived();
                    PeerEnded = true;
                    break;
            }
            DrainPending();
            MaybeSendCredit();
        }

        internal void Complete()
        {
            switch (Completions.Dequeue())
            {
                case MessageKind.Data: FreeSlots++; break;
                case MessageKind.Credit: ControlInFlight--; break;
                case MessageKind.End: EndCompleted = true; break;
            }
            DrainPending();
            MaybeSendCredit();
        }

        internal void AppRelease(Random random)
        {
            Held.RemoveAt(random.Next(Held.Count));
            if (PeerEnded) return;
            Posted++;
            Ledger.OnDataBufferReposted();
            MaybeSendCredit();
        }
    }

    [Theory]
    [InlineData(1, 1, 1, 0.5)]
    [InlineData(1, 1, 8, 0.05)]
    [InlineData(2, 1, 4, 0.2)]
    [InlineData(3, 2, 2, 0.02)]
    [InlineData(8, 2, 8, 0.5)]
    [InlineData(8, 1, 16, 0.01)]
    [InlineData(16, 2, 4, 0.1)]
    public void NeverOverrunsNeverStalls(int receiveDepth, int controlDepth, int sendDepth, double releaseBias)
    {
        for (int seed = 0; seed < 60; seed++)
        {
            var random = new Random(seed * 7919 + receiveDepth);
            // A streams device state; B answers with a few return-path messages, as a session does.
            var a = new Side("A", receiveDepth, controlDepth, sendDepth, toSend: 400);
            var b = new Side("B", receiveDepth + seed % 3, controlDepth, sendDepth, toSend: 40);
            a.Ledger = new CreditLedger(receiveDepth + seed % 3, controlDepth, receiveDepth, controlDepth);
            b.Ledger = new CreditLedger(receiveDepth, controlDepth, receiveDepth + seed % 3, controlDepth);
            a.Peer = b;
            b.Peer = a;
            a.Wire = new();
            b.Wire = new();
            Run(a, b, random, releaseBias, seed);
            Assert.Equal(400, b.Received);
            Assert.Equal(40, a.Received);
        }
    }

    private static void Run(Side a, Side b, Random random, double releaseBias, int seed)
    {
        var actions = new List<Action>(12);
        for (int step = 0; ; step++)
        {
            Assert.True(step < 200_000, $"seed {seed}: no end after {step} steps");
            actions.Clear();
            foreach (var side in new[] { a, b })
            {
                var s = side;
                if (s.Remaining > 0 && s.FreeSlots > 0) actions.Add(s.AppSend);
                if (s.Remaining == 0 && !s.EndQueued) actions.Add(s.AppEnd);
                if (s.Held.Count > 0 && random.NextDouble() < releaseBias + (s.PeerEnded ? 1 : 0)) actions.Add(() => s.AppRelease(random));
                if (s.Peer.Wire.Count > 0) actions.Add(s.Deliver);
                if (s.Completions.Count > 0) actions.Add(s.Complete);
            }
            bool done = a.EndCompleted && b.EndCompleted && a.PeerEnded && b.PeerEnded && a.Held.Count == 0 && b.Held.Count == 0;
            if (done) return;
            if (actions.Count == 0)
            {
                // Only a lazy application may be what holds things up: let it release, or it is a stall.
                var holder = new[] { a, b }.FirstOrDefault(s => s.Held.Count > 0);
                Assert.True(holder != null,
                    $"seed {seed}: stalled at step {step}: A credits {a.Ledger.DataCredits} pending {a.Pending.Count} owed {a.Ledger.OwedData}; " +
                    $"B credits {b.Ledger.DataCredits} pending {b.Pending.Count} owed {b.Ledger.OwedData}");
                holder!.AppRelease(random);
                continue;
            }
            actions[random.Next(actions.Count)]();
            Assert.True(a.ControlInFlight <= a.ControlLimit && b.ControlInFlight <= b.ControlLimit);
            Assert.True(a.Completions.Count <= a.SendDepth + a.ControlLimit + 1, "send queue deeper than the QP allows");
            Assert.True(b.Completions.Count <= b.SendDepth + b.ControlLimit + 1, "send queue deeper than the QP allows");
        }
    }
}
