using StreamKit.Transport.Rdma;
using Xunit;

namespace StreamKit.Tests.Rdma;

public class CreditLedgerTests
{
    [Fact]
    public void SendsStopAtZeroCreditsAndResumeOnReturn()
    {
        var ledger = new CreditLedger(peerDataCredits: 3, peerControlCredits: 1, localDataCredits: 8, localControlCredits: 2);
        Assert.True(ledger.TryConsumeDataCredit());
        Assert.True(ledger.TryConsumeDataCredit());
        Assert.True(ledger.TryConsumeDataCredit());
        Assert.False(ledger.TryConsumeDataCredit());
        Assert.Equal(0, ledger.DataCredits);
        ledger.OnCreditsReturned(data: 2, control: 0);
        Assert.Equal(2, ledger.DataCredits);
        Assert.True(ledger.TryConsumeControlCredit());
        Assert.False(ledger.TryConsumeControlCredit());
    }

    [Fact]
    public void ReturningMoreThanWasSentIsAViolation()
    {
        var ledger = new CreditLedger(4, 1, 4, 1);
        ledger.TryConsumeDataCredit();
        ledger.OnCreditsReturned(1, 0);
        var e = Assert.Throws<RdmaException>(() => ledger.OnCreditsReturned(1, 0));
        Assert.Equal(RdmaErrorKind.ProtocolViolation, e.Kind);
        Assert.Equal(RdmaErrorKind.ProtocolViolation, Assert.Throws<RdmaException>(() => ledger.OnCreditsReturned(0, 1)).Kind);
    }

    [Fact]
    public void PeerSendingBeyondItsCreditsIsAViolation()
    {
        var ledger = new CreditLedger(1, 1, localDataCredits: 2, localControlCredits: 1);
        ledger.OnDataReceived();
        ledger.OnDataReceived();
        Assert.Equal(RdmaErrorKind.ProtocolViolation, Assert.Throws<RdmaException>(ledger.OnDataReceived).Kind);

        ledger.OnControlReceived();
        Assert.Equal(RdmaErrorKind.ProtocolViolation, Assert.Throws<RdmaException>(ledger.OnControlReceived).Kind);
    }

    [Fact]
    public void ReportedCreditsExtendThePeersAllowance()
    {
        var ledger = new CreditLedger(1, 1, localDataCredits: 1, localControlCredits: 1);
        ledger.OnDataReceived();
        ledger.OnDataBufferReposted();
        Assert.Throws<RdmaException>(ledger.OnDataReceived); // re-posted, but not yet reported: the peer cannot know
        var ledger2 = new CreditLedger(1, 1, 1, 1);
        ledger2.OnDataReceived();
        ledger2.OnDataBufferReposted();
        var word = ledger2.TakeReturns(MessageKind.Credit);
        Assert.Equal(new MessageWord(MessageKind.Credit, 1, 0), word);
        ledger2.OnDataReceived(); // now allowed
        Assert.Equal(0, ledger2.OwedData);
    }

    [Fact]
    public void ControlCreditsComeBackOnTheNextMessage()
    {
        var ledger = new CreditLedger(4, 1, 4, 2);
        ledger.OnControlReceived();
        ledger.OnControlReceived();
        Assert.Equal(2, ledger.OwedControl);
        Assert.Equal(new MessageWord(MessageKind.Data, 0, 2), ledger.TakeReturns(MessageKind.Data));
        Assert.Equal(0, ledger.OwedControl);
    }

    [Fact]
    public void CreditUpdateWaitsForABatchUnlessThePeerRunsLow()
    {
        // 16 buffers granted: batch is 4.
        var ledger = new CreditLedger(1, 1, localDataCredits: 16, localControlCredits: 1);
        for (int i = 0; i < 4; i++) ledger.OnDataReceived();
        ledger.OnDataBufferReposted();
        Assert.False(ledger.CreditUpdateDue); // 1 owed, peer still has ≥ 12
        for (int i = 0; i < 3; i++) ledger.OnDataBufferReposted();
        Assert.True(ledger.CreditUpdateDue);  // a batch owed
        ledger.TakeReturns(MessageKind.Credit);
        Assert.False(ledger.CreditUpdateDue);

        // The application holds 14 of 16 buffers; one released buffer must go back at once,
        // or a sender at zero credits would wait forever for a batch that cannot form.
        for (int i = 0; i < 14; i++) ledger.OnDataReceived();
        Assert.Equal(2, ledger.PeerDataCreditsAtMost);
        ledger.OnDataBufferReposted();
        Assert.True(ledger.CreditUpdateDue);
    }

    [Fact]
    public void RejectsImpossibleSizes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CreditLedger(0, 1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CreditLedger(1, 1, 65536, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CreditLedger(1, 1, 1, 256));
    }
}
