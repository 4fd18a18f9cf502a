using System.Text;
using StreamKit.Device;
using StreamKit.Transport.Control;
using Xunit;

namespace StreamKit.Tests.Control;

public sealed class ControlRequestParserTests
{
    private static ControlRequest Parse(string line, ControlRole role = ControlRole.Source, int fds = 0) =>
        ControlRequestParser.Parse(Encoding.UTF8.GetBytes(line), StandIns(fds), role);

    private static PassedFd[] StandIns(int count) => Enumerable.Range(0, count).Select(i => PassedFd.NotOwned(900 + i)).ToArray();

    private static ControlRequestException Refused(string line, ControlErrorCode code, ControlRole role = ControlRole.Source, int fds = 0)
    {
        var e = Assert.Throws<ControlRequestException>(() => Parse(line, role, fds));
        Assert.Equal(code, e.Code);
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
        return e;
    }

    [Fact]
    public void ParsesEverySourceOp()
    {
        var hello = Assert.IsType<HelloRequest>(Parse("""{"id":0,"op":"hello","version":3,"client":"qemu 10.1"}"""));
        Assert.Equal((3, "qemu 10.1"), (hello.Version, hello.Client));

        var add = Assert.IsType<SourceAddDeviceRequest>(Parse(
            """{"id":1,"op":"add-device","device":7,"name":"83b8f4f2-509f-382f-3c1e-e6bfe0fa1001","driver":"mtty","migration_flags":5,"stop_copy_estimate":18446744073709551615,"initial_bytes":100,"dirty_bytes":0,"future":{"x":[1]}}""", fds: 1));
        Assert.Equal(7, add.Device);
        Assert.Equal(MigrationFeatures.StopCopy | MigrationFeatures.PreCopy, add.Flags);
        Assert.Equal(ulong.MaxValue, add.StopCopyEstimate);
        Assert.True(add.PrecopyIoctl);
        Assert.Equal(new PrecopyInfo(100, 0), add.Precopy);
        Assert.Equal(900, add.Fd!.Fd);

        var noPre = Assert.IsType<SourceAddDeviceRequest>(Parse("""{"id":2,"op":"add-device","device":8,"name":"n","migration_flags":1,"stop_copy_estimate":null}"""));
        Assert.Null(noPre.Fd);
        Assert.Null(noPre.StopCopyEstimate);
        Assert.Equal("", noPre.Driver);

        Assert.Equal(new PrecopyInfo(5, 6), Assert.IsType<PrecopyInfoRequest>(Parse("""{"id":3,"op":"precopy-info","device":7,"initial_bytes":5,"dirty_bytes":6}""")).Info);
        Assert.Null(Assert.IsType<StopCopyRequest>(Parse("""{"id":4,"op":"stop-copy","device":7}""")).Fd);
        Assert.NotNull(Assert.IsType<StopCopyRequest>(Parse("""{"id":5,"op":"stop-copy","device":8,"stop_copy_estimate":9}""", fds: 1)).Fd);
        Assert.NotNull(Assert.IsType<DiscardRequest>(Parse("""{"id":6,"op":"discard","device":7}""", fds: 1)).Fd);
        Assert.True(Assert.IsType<SwitchoverRequest>(Parse("""{"id":7,"op":"switchover"}""")).WaitAck);
        Assert.False(Assert.IsType<SwitchoverRequest>(Parse("""{"id":8,"op":"switchover","wait_ack":false}""")).WaitAck);
        Assert.IsType<StartRequest>(Parse("""{"id":9,"op":"start"}"""));
        Assert.IsType<StatusRequest>(Parse(""" { "op" : "status" , "id" : 10 } """));
        Assert.Equal("operator", Assert.IsType<CancelRequest>(Parse("""{"id":11,"op":"cancel","reason":"operator"}""")).Reason);
    }

    [Fact]
    public void ParsesEveryDestinationOp()
    {
        var add = Assert.IsType<DestinationAddDeviceRequest>(Parse("""{"id":1,"op":"add-device","device":7,"name":"dev","migration_flags":7}""", ControlRole.Destination, 1));
        Assert.Equal(("dev", (MigrationFeatures)7), (add.Name, add.Flags!.Value));
        var resume = Assert.IsType<ResumeFdRequest>(Parse("""{"id":2,"op":"resume-fd","device":7,"epoch":1}""", ControlRole.Destination, 1));
        Assert.Equal(1u, resume.Epoch);
        var commit = Assert.IsType<CommitResultRequest>(Parse("""{"id":3,"op":"commit-result","device":7,"epoch":0,"ok":false,"errno":22,"message":"EINVAL"}""", ControlRole.Destination));
        Assert.Equal((false, 22), (commit.Ok, commit.Errno));
        Assert.True(Assert.IsType<CommitResultRequest>(Parse("""{"id":4,"op":"commit-result","device":7,"epoch":0,"ok":true}""", ControlRole.Destination)).Ok);
    }

    [Theory]
    [InlineData("{\"id\":1,\"op\":\"status\"", "unterminated object")]
    [InlineData("[1,2]", "not an object")]
    [InlineData("\"hello\"", "a string")]
    [InlineData("{\"id\":1,\"id\":2,\"op\":\"status\"}", "duplicate member")]
    [InlineData("{\"id\":1,\"op\":\"status\",}", "trailing comma")]
    [InlineData("{\"id\":1,/*c*/\"op\":\"status\"}", "comment")]
    [InlineData("{\"id\":1,\"op\":\"status\",\"x\":[[[[[[[[[[1]]]]]]]]]]}", "too deep")]
    [InlineData("{\"id\":1} {\"id\":2}", "two values")]
    public void BadJson(string line, string why)
    {
        var e = Refused(line, ControlErrorCode.BadJson);
        Assert.Null(e.RequestId);
        Assert.NotNull(why);
    }

    [Fact]
    public void InvalidUtf8AndByteOrderMarkAreBadJson()
    {
        byte[] invalid = [.. "{\"id\":1,\"op\":\""u8, 0xC3, 0x28, .. "\"}"u8];
        var e = Assert.Throws<ControlRequestException>(() => ControlRequestParser.Parse(invalid, [], ControlRole.Source));
        Assert.Equal(ControlErrorCode.BadJson, e.Code);
        Assert.Contains("UTF-8", e.Message);
        Assert.Contains("14", e.Message); // offset of the bad byte
        byte[] bom = [0xEF, 0xBB, 0xBF, .. "{\"id\":1,\"op\":\"status\"}"u8];
        Assert.Equal(ControlErrorCode.BadJson, Assert.Throws<ControlRequestException>(() => ControlRequestParser.Parse(bom, [], ControlRole.Source)).Code);
    }

    [Fact]
    public void UnknownOpAndWrongRole()
    {
        Assert.Equal(4, Refused("""{"id":4,"op":"migrate"}""", ControlErrorCode.UnknownOp).RequestId);
        Assert.Equal("op", Refused("""{"id":4,"op":"\u0007bell"}""", ControlErrorCode.UnknownOp).Field);
        Refused("""{"id":5,"op":"resume-fd","device":1,"epoch":0}""", ControlErrorCode.WrongRole, ControlRole.Source, 1);
        Refused("""{"id":6,"op":"switchover"}""", ControlErrorCode.WrongRole, ControlRole.Destination);
    }

    [Theory]
    [InlineData("{\"op\":\"status\"}", "id", null)]
    [InlineData("{\"id\":null,\"op\":\"status\"}", "id", null)]
    [InlineData("{\"id\":1}", "op", 1L)]
    [InlineData("{\"id\":1,\"op\":\"hello\"}", "version", 1L)]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"name\":\"n\",\"migration_flags\":1}", "device", 1L)]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"migration_flags\":1}", "name", 1L)]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"name\":\"n\"}", "migration_flags", 1L)]
    [InlineData("{\"id\":1,\"op\":\"precopy-info\",\"device\":1,\"initial_bytes\":1}", "dirty_bytes", 1L)]
    [InlineData("{\"id\":1,\"op\":\"discard\",\"device\":1,\"dirty_bytes\":1}", "initial_bytes", 1L)]
    public void MissingField(string line, string field, long? id)
    {
        var e = Refused(line, ControlErrorCode.MissingField, fds: line.Contains("discard") ? 1 : 0);
        Assert.Equal(field, e.Field);
        Assert.Equal(id, e.RequestId);
    }

    [Fact]
    public void MissingFieldOnTheDestination()
    {
        Assert.Equal("epoch", Refused("""{"id":1,"op":"resume-fd","device":1}""", ControlErrorCode.MissingField, ControlRole.Destination, 1).Field);
        Assert.Equal("errno", Refused("""{"id":1,"op":"commit-result","device":1,"epoch":0,"ok":false}""", ControlErrorCode.MissingField, ControlRole.Destination).Field);
        Assert.Equal("initial_bytes", Refused("""{"id":1,"op":"add-device","device":1,"name":"n","migration_flags":5,"precopy_ioctl":false}""", ControlErrorCode.MissingField, fds: 1).Field);
    }

    [Theory]
    [InlineData("{\"id\":\"1\",\"op\":\"status\"}", "id")]
    [InlineData("{\"id\":1,\"op\":7}", "op")]
    [InlineData("{\"id\":1,\"op\":\"hello\",\"version\":\"1\"}", "version")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":\"1\",\"name\":\"n\",\"migration_flags\":1}", "device")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"name\":5,\"migration_flags\":1}", "name")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"name\":\"n\",\"migration_flags\":[1]}", "migration_flags")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"name\":\"n\",\"migration_flags\":1,\"precopy_ioctl\":1}", "precopy_ioctl")]
    [InlineData("{\"id\":1,\"op\":\"switchover\",\"wait_ack\":\"yes\"}", "wait_ack")]
    [InlineData("{\"id\":1,\"op\":\"cancel\",\"reason\":{}}", "reason")]
    public void BadType(string line, string field) => Assert.Equal(field, Refused(line, ControlErrorCode.BadType).Field);

    [Theory]
    [InlineData("{\"id\":-1,\"op\":\"status\"}", "id")]
    [InlineData("{\"id\":1.5,\"op\":\"status\"}", "id")]
    [InlineData("{\"id\":9007199254740992,\"op\":\"status\"}", "id")]
    [InlineData("{\"id\":1,\"op\":\"hello\",\"version\":-1}", "version")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":0,\"name\":\"n\",\"migration_flags\":1}", "device")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":65536,\"name\":\"n\",\"migration_flags\":1}", "device")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"name\":\"\",\"migration_flags\":1}", "name")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"name\":\"n\",\"migration_flags\":4}", "migration_flags")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"name\":\"n\",\"migration_flags\":1,\"stop_copy_estimate\":18446744073709551616}", "stop_copy_estimate")]
    [InlineData("{\"id\":1,\"op\":\"add-device\",\"device\":1,\"name\":\"\\ud800\",\"migration_flags\":1}", "name")]
    [InlineData("{\"id\":1,\"op\":\"precopy-info\",\"device\":1,\"initial_bytes\":1e3,\"dirty_bytes\":0}", "initial_bytes")]
    public void BadValue(string line, string field) => Assert.Equal(field, Refused(line, ControlErrorCode.BadValue).Field);

    [Fact]
    public void BadValueForOversizedNamesAndCommitErrno()
    {
        string longName = new('é', 128); // 256 UTF-8 bytes
        Refused($$"""{"id":1,"op":"add-device","device":1,"name":"{{longName}}","migration_flags":1}""", ControlErrorCode.BadValue);
        Refused("""{"id":1,"op":"commit-result","device":1,"epoch":0,"ok":true,"errno":5}""", ControlErrorCode.BadValue, ControlRole.Destination);
        Refused("""{"id":1,"op":"resume-fd","device":1,"epoch":4294967296}""", ControlErrorCode.BadValue, ControlRole.Destination, 1);
    }

    [Fact]
    public void FdArity()
    {
        Refused("""{"id":1,"op":"add-device","device":1}""", ControlErrorCode.FdMissing, ControlRole.Destination);
        Refused("""{"id":1,"op":"discard","device":1}""", ControlErrorCode.FdMissing);
        Refused("""{"id":1,"op":"resume-fd","device":1,"epoch":1}""", ControlErrorCode.FdMissing, ControlRole.Destination);
        Refused("""{"id":1,"op":"status"}""", ControlErrorCode.UnexpectedFd, fds: 1);
        Refused("""{"id":1,"op":"stop-copy","device":1}""", ControlErrorCode.UnexpectedFd, fds: 2);
        Refused("""{"id":1,"op":"add-device","device":1,"name":"n","migration_flags":1}""", ControlErrorCode.UnexpectedFd, fds: 1); // no PRE_COPY flag
    }

    [Fact]
    public void IdIsReadableForErrorRepliesWhereverItIsValid()
    {
        Assert.Equal(42, ControlRequestParser.TryReadId("{\"op\":\"x\",\"id\":42}"u8.ToArray()));
        Assert.Null(ControlRequestParser.TryReadId("{\"id\":42"u8.ToArray()));
        Assert.Null(ControlRequestParser.TryReadId("{\"id\":-4}"u8.ToArray()));
        Assert.True(ControlRequestParser.IsBlank(" \t\r"u8));
        Assert.False(ControlRequestParser.IsBlank(" x"u8));
    }

    private const string Syntax = "{}[]\",:0-9e\\ \u0000";

    [Fact]
    public void FuzzTargetSurvivesMutationsOfEveryValidRequest()
    {
        string[] seeds =
        [
            """{"id":1,"op":"add-device","device":7,"name":"dev","driver":"mtty","migration_flags":5,"stop_copy_estimate":4096,"initial_bytes":1,"dirty_bytes":2}""",
            """{"id":2,"op":"stop-copy","device":7,"stop_copy_estimate":1}""",
            """{"id":3,"op":"commit-result","device":7,"epoch":0,"ok":false,"errno":22,"message":"x"}""",
            """{"id":4,"op":"hello","version":1,"client":"c"}""",
            """{"id":5,"op":"resume-fd","device":7,"epoch":1}""",
        ];
        var random = new Random(20260815);
        int runs = 0;
        foreach (string seed in seeds)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(seed);
            for (int prefix = 0; prefix < 8; prefix++)
                ControlRequestParser.Fuzz([(byte)prefix, .. bytes]);
            for (int i = 0; i < 600; i++, runs++)
            {
                byte[] mutated = [(byte)random.Next(8), .. bytes];
                int edits = random.Next(1, 4);
                for (int e = 0; e < edits; e++)
                {
                    int at = random.Next(1, mutated.Length);
                    switch (random.Next(4))
                    {
                        case 0: mutated[at] = (byte)random.Next(256); break;
                        case 1: mutated[at] = (byte)Syntax[random.Next(Syntax.Length)]; break;
                        case 2: mutated = [.. mutated[..at], .. mutated[(at + 1)..]]; break;
                        default: mutated = [.. mutated[..at], .. mutated[random.Next(1, mutated.Length)..]]; break;
                    }
                    if (mutated.Length < 2) break;
                }
                ControlRequestParser.Fuzz(mutated);
            }
        }
        ControlRequestParser.Fuzz([]);
        ControlRequestParser.Fuzz([0]);
        Assert.Equal(3000, runs);
    }
}
