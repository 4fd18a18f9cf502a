using System.Buffers.Binary;
using StreamKit.Device;
using StreamKit.Device.Vfio;
using static StreamKit.LabTests.CheckRunner;

namespace StreamKit.LabTests;

/// <summary>
/// The lab scenario for one API (cdev or group), against the lab's real mtty devices:
/// A and B are mtty-2 (96-byte state), C is mtty-1 (60 bytes). Checks run in order and share
/// state (A's saved image feeds the resumes); every device ends RUNNING and closed.
/// </summary>
internal sealed class MigrationChecks(string api, CheckRunner runner)
{
    private const ulong MttyMagic = 0x7e9d09898c3e2c4e;
    private const int MttyHeader = 24, MttyPort = 36;
    private static readonly MigrationFeatures AllFeatures = MigrationFeatures.StopCopy | MigrationFeatures.P2P | MigrationFeatures.PreCopy;
    // What A's ports hold when saved ('!' is sent during PRE_COPY: it must arrive through STOP_COPY).
    private static readonly (byte Scr, byte Lcr, string Fifo)[] Seeded = [(0x5a, 0x03, "MIG!"), (0xa5, 0x1b, "xy")];
    private static readonly (byte Scr, byte Lcr, string Fifo)[] SeededDirect = [(0x77, 0x07, "abc"), (0x88, 0x0b, "Z")];

    private VfioDevice? _a, _b, _c;
    private MttyPorts? _portsA, _portsB;
    private FdDataChannel? _saveChannel;
    private readonly List<byte> _saved = [];
    private DeviceException? _failedCommit;

    private VfioDevice A => _a ?? throw new CheckFailedException("device A is not open");
    private VfioDevice B => _b ?? throw new CheckFailedException("device B is not open");
    private VfioDevice C => _c ?? throw new CheckFailedException("device C is not open");

    private static string Env(char device, string what) =>
        Environment.GetEnvironmentVariable($"VFIO_LAB_{device}_{what}") is { Length: > 0 } v ? v
            : throw new CheckFailedException($"VFIO_LAB_{device}_{what} is not set");

    private VfioDevice Open(char device) => api == "cdev"
        ? VfioDevice.OpenCdev(Env(device, "CDEV"))
        : VfioDevice.OpenGroup(Env(device, "GROUP"), Env(device, "UUID"));

    private void Check(string name, Func<string> body) => runner.Run($"{api}.{name}", body);

    internal void RunAll()
    {
        try
        {
            Check("open", OpenAll);
            if (_a is null || _b is null || _c is null)
            {
                runner.FailNotRun(api, "devices did not open");
                return;
            }
            Check("open_errors", OpenErrors);
            Check("device_info", DeviceInfo);
            Check("features", Features);
            Check("stop_copy_estimate", StopCopyEstimate);
            Check("initial_state", InitialState);
            Check("unsupported_target_refused", UnsupportedTargetRefused);
            Check("region_roundtrip", RegionRoundtrip);
            Check("save_precopy", SavePrecopy);
            Check("precopy_info_outside_precopy", PrecopyInfoOutsidePrecopy);
            Check("save_stop_copy", SaveStopCopy);
            Check("stop_copy_to_pre_copy_refused", StopCopyToPreCopyRefused);
            Check("source_back_to_running", SourceBackToRunning);
            Check("resume_into_B", ResumeIntoB);
            Check("incompatible_write_into_C", IncompatibleWriteIntoC);
            Check("incompatible_commit_refused", IncompatibleCommitRefused);
            Check("incompatible_header_into_C", IncompatibleHeaderIntoC);
            Check("C_reset_to_running", CResetToRunning);
            Check("truncated_resume_commit_failed", TruncatedResumeCommitFailed);
            Check("get_after_failed_set", GetAfterFailedSet);
            Check("B_reset_and_resume_again", BResetAndResumeAgain);
            Check("reset_in_precopy", ResetInPrecopy);
            Check("async_reset_detected", AsyncResetDetected);
            Check("async_reset_in_resuming", AsyncResetInResuming);
            Check("out_of_sync_data_fd", OutOfSyncDataFd);
            Check("direct_stop_copy", DirectStopCopy);
        }
        finally
        {
            _saveChannel?.Dispose();
            foreach (var device in new[] { _a, _b, _c })
            {
                if (device is null) continue;
                try { if (device.GetState() != MigrationState.Running) device.Reset(); }
                catch (DeviceException e) { Console.WriteLine($"  note: {api} cleanup of {device.Name}: {e.Message}"); }
                device.Dispose();
            }
        }
    }

    private string OpenAll()
    {
        _a = Open('A');
        _b = Open('B');
        _c = Open('C');
        _portsA = new MttyPorts(_a, 2);
        _portsB = new MttyPorts(_b, 2);
        return $"A={_a.Name} B={_b.Name} C={_c.Name} via {_a.Api}, driver {_a.DriverHint}, device fd {_a.DeviceFd.Fd}";
    }

    private string OpenErrors()
    {
        var notes = new List<string>();
        var missing = ExpectDeviceError(DeviceErrorKind.Unavailable, () =>
        {
            using var d = api == "cdev" ? VfioDevice.OpenCdev("/dev/vfio/devices/vfio999") : VfioDevice.OpenGroup("/dev/vfio/999", Env('A', "UUID"));
        }, "opening a missing node");
        Expect(missing.Errno == Errno.ENOENT, $"missing node: expected ENOENT, got {ErrnoText(missing.Errno)}");
        notes.Add($"missing node → Unavailable {ErrnoText(missing.Errno)} \"{missing.Message}\"");

        // A is open already: a second open of the same device must fail as busy, not succeed.
        var busy = ExpectDeviceError(DeviceErrorKind.Unavailable, () => { using var d = Open('A'); }, "opening A a second time");
        notes.Add($"A again → Unavailable {ErrnoText(busy.Errno)} \"{busy.Message}\"");
        Expect(busy.Errno == (api == "group" ? Errno.EBUSY : Errno.EINVAL) && busy.Message.Contains("busy"),
            $"second open: got {ErrnoText(busy.Errno)}: {busy.Message}");

        if (api == "group")
        {
            // A group that is not in use, asked for a device it does not hold.
            C.Dispose();
            _c = null;
            var wrong = ExpectDeviceError(DeviceErrorKind.Unavailable,
                () => { using var d = VfioDevice.OpenGroup(Env('C', "GROUP"), Env('A', "UUID")); }, "A's uuid in C's group");
            notes.Add($"A's uuid in C's group → Unavailable {ErrnoText(wrong.Errno)} \"{wrong.Message}\"");
            _c = Open('C');
        }
        else
        {
            // While A is open through its cdev, its group must not hand out a second way in.
            var group = ExpectDeviceError(DeviceErrorKind.Unavailable,
                () => { using var d = VfioDevice.OpenGroup(Env('A', "GROUP"), Env('A', "UUID")); }, "A through its group while its cdev is bound");
            notes.Add($"A's group while A's cdev is open → Unavailable {ErrnoText(group.Errno)} \"{group.Message}\"");
        }
        return string.Join("; ", notes);
    }

    private string DeviceInfo()
    {
        var info = A.GetDeviceInfo();
        var bar0 = _portsA!.Bar(0);
        Expect(bar0.CanRead && bar0.CanWrite && bar0.Size >= 8, $"BAR0 region: flags 0x{bar0.Flags:x} size {bar0.Size}");
        return $"flags 0x{info.Flags:x} (PCI {info.IsPci}, RESET advertised {info.AdvertisesReset}), {info.NumRegions} regions, {info.NumIrqs} irqs; " +
               $"BAR0 offset 0x{bar0.Offset:x} size {bar0.Size} flags 0x{bar0.Flags:x}, BAR1 offset 0x{_portsA.Bar(1).Offset:x}";
    }

    private string Features()
    {
        foreach (var d in new[] { A, B, C })
            Expect(d.Features == AllFeatures, $"{d.Name}: features 0x{(ulong)d.Features:x}, expected 0x7");
        return $"A, B, C: 0x{(ulong)A.Features:x} ({A.Features})";
    }

    private string StopCopyEstimate()
    {
        ulong? a = A.GetStopCopySizeEstimate(), b = B.GetStopCopySizeEstimate(), c = C.GetStopCopySizeEstimate();
        Expect(a == 96 && b == 96, $"A/B estimate {a}/{b}, expected 96");
        Expect(c == 60, $"C estimate {c}, expected 60");
        return $"A {a}, B {b}, C {c} bytes";
    }

    private string InitialState()
    {
        foreach (var d in new[] { A, B, C })
            Expect(d.GetState() == MigrationState.Running, $"{d.Name} is {d.GetState()}");
        return "A, B, C RUNNING";
    }

    private string UnsupportedTargetRefused()
    {
        int before = A.StateSetCalls;
        var error = ExpectDeviceError(DeviceErrorKind.TransitionRefused, () => A.SetState(MigrationState.Error), "SET ERROR");
        ExpectDeviceError(DeviceErrorKind.TransitionRefused, () => A.SetState((MigrationState)8), "SET state 8");
        Expect(A.StateSetCalls == before, "a refused SET reached the kernel");
        Expect(A.GetState() == MigrationState.Running, $"A is {A.GetState()}");
        return $"ERROR and 8 refused without a SET ioctl ({error.Message})";
    }

    private string RegionRoundtrip()
    {
        _portsA!.Write(1, 7, 0x3c);
        byte back = _portsA.Read(1, 7);
        Expect(back == 0x3c, $"A port1 SCR read back 0x{back:x2}");
        return "A port1 SCR 0x3c written and read back through pwrite/pread";
    }

    private string SavePrecopy()
    {
        var ports = _portsA!;
        ports.Seed(0, 0x5a, 0x03, "MIG");
        ports.Seed(1, 0xa5, 0x1b, "xy");

        var channel = A.SetState(MigrationState.PreCopy) as FdDataChannel;
        Expect(channel is not null, "RUNNING → PRE_COPY returned no data channel");
        _saveChannel = channel!;
        Expect(channel!.IsSaving, "PRE_COPY channel is not a saving channel");
        var first = channel.GetPrecopyInfo();
        Expect(first == new PrecopyInfo(MttyHeader, 0), $"initial precopy info {first}, expected initial 24 dirty 0");
        short revents = channel.Poll(LibC.POLLIN, 0);

        // Pump as a sender must: small reads, precopy info polled between them, until a temporary end.
        Span<byte> buffer = stackalloc byte[5];
        var infos = new List<string>();
        DataReadResult r;
        int reads = 0;
        while ((r = channel.Read(buffer)).Status == DataReadStatus.Data)
        {
            _saved.AddRange(buffer[..r.Count]);
            var info = channel.GetPrecopyInfo();
            infos.Add($"{info?.InitialBytes}/{info?.DirtyBytes}");
            Expect(++reads < 100, "PRE_COPY never reached a temporary end");
        }
        Expect(r.Status == DataReadStatus.TemporaryEnd, $"PRE_COPY read ended with {r.Status}");
        Expect(_saved.Count == MttyHeader, $"PRE_COPY yielded {_saved.Count} bytes, expected the 24-byte header");
        var last = channel.GetPrecopyInfo();
        Expect(last == new PrecopyInfo(0, 0), $"precopy info after drain {last}");
        ulong magic = BinaryPrimitives.ReadUInt64LittleEndian(_saved.ToArray());
        uint ports2 = BinaryPrimitives.ReadUInt32LittleEndian(_saved.ToArray().AsSpan(16));
        Expect(magic == MttyMagic && ports2 == 2, $"header magic 0x{magic:x} nr_ports {ports2}");

        // How did the driver signal the temporary end? (a raw read, outside the channel)
        string rawEnd = RawRead(channel);

        // The device still runs: change it now; the change must travel in STOP_COPY.
        ports.Transmit(0, '!');
        return $"data_fd {channel.Handle.Fd}; info 24/0 then {string.Join(",", infos)} after each read, 0/0 after drain; " +
               $"TemporaryEnd (raw read: {rawEnd}); poll revents 0x{revents:x}; header magic ok, nr_ports 2";
    }

    private static unsafe string RawRead(FdDataChannel channel)
    {
        byte b;
        nint n = LibC.Read(channel.Handle, &b, 1);
        return n >= 0 ? $"returns {n}" : $"fails {ErrnoText(LibC.LastErrno)}";
    }

    private string PrecopyInfoOutsidePrecopy()
    {
        var channel = _saveChannel ?? throw new CheckFailedException("no saving session (save_precopy failed)");
        var r = A.SetState(MigrationState.StopCopy);
        Expect(r is null, "PRE_COPY → STOP_COPY returned a new channel (the same data_fd must continue)");
        Expect(channel.Phase == MigrationState.StopCopy, $"channel phase {channel.Phase}");
        var e = ExpectDeviceError(DeviceErrorKind.IoFailed, () => channel.GetPrecopyInfo(), "precopy info in STOP_COPY");
        Expect(e.Errno == Errno.EINVAL, $"expected EINVAL, got {ErrnoText(e.Errno)}");
        return $"PRE_COPY → STOP_COPY kept the data_fd (SET returned -1); precopy info in STOP_COPY → {ErrnoText(e.Errno)}: {e.Message}";
    }

    private string SaveStopCopy()
    {
        var channel = _saveChannel ?? throw new CheckFailedException("no saving session");
        Expect(A.GetState() == MigrationState.StopCopy, $"A is {A.GetState()}");
        Span<byte> buffer = stackalloc byte[7];
        DataReadResult r;
        int before = _saved.Count;
        while ((r = channel.Read(buffer)).Status == DataReadStatus.Data)
        {
            _saved.AddRange(buffer[..r.Count]);
            Expect(_saved.Count <= 4096, "STOP_COPY never ended");
        }
        Expect(r.Status == DataReadStatus.FinalEnd, $"STOP_COPY read ended with {r.Status}");
        Expect(_saved.Count == 96, $"saved {_saved.Count} bytes in total, expected 96 (MIG_DATA_SIZE)");
        var again = channel.Read(buffer);
        Expect(again.Status == DataReadStatus.FinalEnd, $"read after the final end: {again.Status}");
        return $"{_saved.Count - before} more bytes in 7-byte reads, then FinalEnd (sticky); total {_saved.Count} = MIG_DATA_SIZE";
    }

    private string StopCopyToPreCopyRefused()
    {
        Expect(A.GetState() == MigrationState.StopCopy, $"A is {A.GetState()}, expected STOP_COPY");
        int before = A.StateSetCalls;
        var e1 = ExpectDeviceError(DeviceErrorKind.TransitionRefused, () => A.SetState(MigrationState.PreCopy), "STOP_COPY → PRE_COPY");
        ExpectDeviceError(DeviceErrorKind.TransitionRefused, () => A.SetState(MigrationState.PreCopyP2P), "STOP_COPY → PRE_COPY_P2P");
        Expect(A.StateSetCalls == before, $"{A.StateSetCalls - before} SET ioctls reached the kernel");
        Expect(A.GetState() == MigrationState.StopCopy, $"A is {A.GetState()} after the refusals");
        Expect(e1.State == MigrationState.StopCopy, $"exception state {e1.State}");
        var r = _saveChannel!.Read(stackalloc byte[8]);
        Expect(r.Status == DataReadStatus.FinalEnd, $"session after refusal: {r.Status}");
        return $"both refused with no SET ioctl; A still STOP_COPY, session intact ({e1.Message})";
    }

    private string SourceBackToRunning()
    {
        var r = A.SetState(MigrationState.Running);
        Expect(r is null, "STOP_COPY → RUNNING returned a channel");
        Expect(A.GetState() == MigrationState.Running, $"A is {A.GetState()}");
        var old = _saveChannel!.Read(stackalloc byte[8]);
        Expect(old.Status == DataReadStatus.DeadSession, $"old data_fd read: {old.Status}, expected DeadSession (ENODEV)");
        _saveChannel.Dispose();
        _saveChannel = null;
        return "A RUNNING (STOP_COPY → STOP → RUNNING_P2P → RUNNING); old data_fd read → DeadSession (ENODEV)";
    }

    /// <summary>RUNNING → RESUMING, write <paramref name="image"/> in <paramref name="piece"/>-byte writes, → RUNNING.</summary>
    private static void Resume(VfioDevice device, ReadOnlySpan<byte> image, int piece)
    {
        using var channel = device.SetState(MigrationState.Resuming) ?? throw new CheckFailedException($"{device.Name}: RESUMING returned no channel");
        Expect(!channel.IsSaving, "RESUMING channel claims to be a saving channel");
        for (int at = 0; at < image.Length; at += piece) channel.Write(image.Slice(at, Math.Min(piece, image.Length - at)));
        Expect(device.SetState(MigrationState.Running) is null, "RESUMING → RUNNING returned a channel");
    }

    private static void ExpectSeeded(MttyPorts ports, string who, (byte Scr, byte Lcr, string Fifo)[] seeded)
    {
        for (int port = 0; port < seeded.Length; port++)
        {
            var got = ports.Snapshot(port);
            Expect((got.Scr, got.Lcr, got.Fifo) == seeded[port], $"{who} port{port}: {got}, expected {seeded[port]}");
        }
    }

    private string ResumeIntoB()
    {
        Expect(_saved.Count == 96, "no saved image (save failed)");
        _portsB!.Seed(0, 0x11, 0x00, "b");
        _portsB.Seed(1, 0x22, 0x00, "");
        Resume(B, _saved.ToArray(), _saved.Count);
        Expect(B.GetState() == MigrationState.Running, $"B is {B.GetState()}");
        var b0 = _portsB.Snapshot(0); var b1 = _portsB.Snapshot(1);
        var a0 = _portsA!.Snapshot(0); var a1 = _portsA.Snapshot(1);
        Expect(b0 == a0 && b1 == a1, $"B port0 {b0} / port1 {b1} differ from A port0 {a0} / port1 {a1}");
        Expect((b0.Scr, b0.Lcr, b0.Fifo) == Seeded[0] && (b1.Scr, b1.Lcr, b1.Fifo) == Seeded[1], $"B port0 {b0} port1 {b1}, expected {Seeded[0]} / {Seeded[1]}");
        return $"B = A: port0 {b0}; port1 {b1} (the PRE_COPY-time '!' arrived)";
    }

    private string IncompatibleWriteIntoC()
    {
        Expect(_saved.Count == 96, "no saved image");
        using var channel = C.SetState(MigrationState.Resuming) ?? throw new CheckFailedException("C: RESUMING returned no channel");
        var e = ExpectDeviceError(DeviceErrorKind.Incompatible, () => channel.Write(_saved.ToArray()), "96-byte mtty-2 image into mtty-1 C");
        Expect(e.Errno is Errno.EFAULT or Errno.ENOMEM, $"expected EFAULT or ENOMEM, got {ErrnoText(e.Errno)}");
        Expect(e.State == MigrationState.Resuming, $"state read back {e.State}");
        var again = ExpectDeviceError(DeviceErrorKind.Incompatible, () => channel.Write(_saved.ToArray().AsSpan(0, 1)), "a write after the failure");
        return $"write → Incompatible {ErrnoText(e.Errno)}, C still {e.State}; further writes refused without the kernel ({again.Message})";
    }

    private string IncompatibleCommitRefused()
    {
        Expect(C.GetState() == MigrationState.Resuming, $"C is {C.GetState()}");
        int before = C.StateSetCalls;
        var e = ExpectDeviceError(DeviceErrorKind.TransitionRefused, () => C.SetState(MigrationState.Running), "commit after a failed write");
        Expect(C.StateSetCalls == before, "the refused commit reached the kernel");
        Expect(C.GetState() == MigrationState.Resuming, $"C is {C.GetState()}");
        return $"RESUMING → RUNNING refused without a SET ioctl: {e.Message}";
    }

    private string IncompatibleHeaderIntoC()
    {
        C.Reset();
        using var channel = C.SetState(MigrationState.Resuming) ?? throw new CheckFailedException("C: RESUMING returned no channel");
        var e = ExpectDeviceError(DeviceErrorKind.Incompatible, () => channel.Write(_saved.ToArray().AsSpan(0, MttyHeader)), "the 24-byte header (nr_ports 2) into C");
        Expect(e.Errno is Errno.EFAULT or Errno.ENOMEM, $"expected EFAULT or ENOMEM, got {ErrnoText(e.Errno)}");
        return $"header-only write → Incompatible {ErrnoText(e.Errno)} (nr_ports mismatch detected when the header completes)";
    }

    private string CResetToRunning()
    {
        Expect(C.GetState() == MigrationState.Resuming, $"C is {C.GetState()} before the reset");
        C.Reset();
        Expect(C.GetState() == MigrationState.Running, $"C is {C.GetState()} after reset");
        Expect(C.SetState(MigrationState.Stop) is null && C.SetState(MigrationState.Running) is null, "C STOP/RUNNING");
        return "VFIO_DEVICE_RESET: C RUNNING, and RUNNING → STOP → RUNNING works";
    }

    private string TruncatedResumeCommitFailed()
    {
        Expect(_saved.Count == 96, "no saved image");
        using var channel = B.SetState(MigrationState.Resuming) ?? throw new CheckFailedException("B: RESUMING returned no channel");
        channel.Write(_saved.ToArray().AsSpan(0, 50));
        _failedCommit = ExpectDeviceError(DeviceErrorKind.CommitFailed, () => B.SetState(MigrationState.Running), "commit of a truncated image");
        Expect(_failedCommit.Errno == Errno.EINVAL, $"expected EINVAL, got {ErrnoText(_failedCommit.Errno)}");
        return $"50 of 96 bytes written without error; RESUMING → RUNNING → CommitFailed {ErrnoText(_failedCommit.Errno)}: {_failedCommit.Message}";
    }

    private string GetAfterFailedSet()
    {
        var e = _failedCommit ?? throw new CheckFailedException("no failed commit to inspect");
        var now = B.GetState();
        Expect(e.State == MigrationState.Resuming, $"exception state {e.State}, expected RESUMING");
        Expect(now == e.State, $"GET now says {now}, exception said {e.State}");
        var again = ExpectDeviceError(DeviceErrorKind.CommitFailed, () => B.SetState(MigrationState.Stop), "a second commit attempt");
        return $"state read back into the exception: {e.State}; GET agrees; → STOP fails again ({ErrnoText(again.Errno)}), state {again.State}";
    }

    private string BResetAndResumeAgain()
    {
        B.Reset();
        Expect(B.GetState() == MigrationState.Running, $"B is {B.GetState()} after reset");
        Resume(B, _saved.ToArray(), 7);
        ExpectSeeded(_portsB!, "B", Seeded);
        return "reset → RUNNING; a full resume in 7-byte writes then commits, B's registers = A's seeded state";
    }

    private string ResetInPrecopy()
    {
        using var first = A.SetState(MigrationState.PreCopy) ?? throw new CheckFailedException("no PRE_COPY channel");
        var r = first.Read(stackalloc byte[8]);
        Expect(r is { Status: DataReadStatus.Data, Count: 8 }, $"first read {r}");
        A.Reset();
        Expect(A.GetState() == MigrationState.Running, $"A is {A.GetState()} after reset");
        var dead = first.Read(stackalloc byte[64]);
        Expect(dead.Status == DataReadStatus.DeadSession, $"old channel read: {dead.Status}");
        var info = first.GetPrecopyInfo();
        Expect(info is null, $"old channel precopy info: {info}");
        string infoRaw = RawPrecopyInfoErrno((FdDataChannel)first);

        using var second = A.SetState(MigrationState.PreCopy) ?? throw new CheckFailedException("new PRE_COPY gave no channel");
        Expect(second.GetPrecopyInfo() == new PrecopyInfo(MttyHeader, 0), "new session precopy info");
        var header = new byte[64];
        var h = second.Read(header);
        Expect(h is { Status: DataReadStatus.Data, Count: MttyHeader }, $"new session read {h}");
        Expect(A.SetState(MigrationState.Running) is null, "cancel → RUNNING");
        var cancelled = second.Read(header);
        Expect(cancelled.Status == DataReadStatus.DeadSession, $"after cancel: {cancelled.Status}");
        return $"reset → old channel DeadSession (read ENODEV; precopy info null, raw {infoRaw}); new PRE_COPY at once: 24-byte header; cancel → RUNNING kills it";
    }

    private static string RawPrecopyInfoErrno(FdDataChannel channel) =>
        VfioPrecopyInfo.Query(channel.Handle, out _) is var errno and not 0 ? ErrnoText(errno) : "ok";

    private string AsyncResetDetected()
    {
        using var channel = A.SetState(MigrationState.PreCopy) ?? throw new CheckFailedException("no PRE_COPY channel");
        // Someone else resets A (a guest FLR would do the same): VfioDevice is not told.
        Expect(LibC.Ioctl(A.DeviceFd, VfioIoctl.DeviceReset, 0) == 0, $"raw VFIO_DEVICE_RESET failed {ErrnoText(LibC.LastErrno)}");
        int before = A.StateSetCalls;
        var info = channel.GetPrecopyInfo();
        Expect(info is null, $"precopy info after the reset: {info}, expected null (dead session)");
        var e = ExpectDeviceError(DeviceErrorKind.DeadSession, () => A.SetState(MigrationState.StopCopy), "PRE_COPY → STOP_COPY after a hidden reset");
        Expect(A.StateSetCalls == before, "the SET reached the kernel (the device would have been stopped)");
        Expect(e.State == MigrationState.Running && A.GetState() == MigrationState.Running, $"A is {A.GetState()}, exception state {e.State}");
        Expect(channel.Read(stackalloc byte[8]).Status == DataReadStatus.DeadSession, "old channel still alive");
        using var fresh = A.SetState(MigrationState.PreCopy) ?? throw new CheckFailedException("no fresh PRE_COPY channel");
        Expect(A.SetState(MigrationState.Running) is null, "cancel");
        return $"hidden reset → precopy info null (mtty: EINVAL, kernel state RUNNING), SetState → DeadSession before any SET; A never stopped; fresh PRE_COPY works ({e.Message})";
    }

    private string AsyncResetInResuming()
    {
        Expect(_saved.Count == 96, "no saved image");
        using var channel = B.SetState(MigrationState.Resuming) ?? throw new CheckFailedException("B: RESUMING returned no channel");
        channel.Write(_saved.ToArray().AsSpan(0, 50));
        // The destination is reset behind our back mid-resume: the commit must not look like a success.
        Expect(LibC.Ioctl(B.DeviceFd, VfioIoctl.DeviceReset, 0) == 0, $"raw VFIO_DEVICE_RESET failed {ErrnoText(LibC.LastErrno)}");
        int before = B.StateSetCalls;
        var e = ExpectDeviceError(DeviceErrorKind.DeadSession, () => B.SetState(MigrationState.Running), "RESUMING → RUNNING after a hidden reset");
        Expect(B.StateSetCalls == before, "the SET reached the kernel");
        Expect(e.State == MigrationState.Running && B.GetState() == MigrationState.Running, $"B is {B.GetState()}, exception state {e.State}");
        var w = ExpectDeviceError(DeviceErrorKind.DeadSession, () => channel.Write(_saved.ToArray().AsSpan(50)), "a write on the old resuming fd");
        Expect(w.Errno == Errno.ENODEV, $"old resuming fd write: expected ENODEV, got {ErrnoText(w.Errno)}");
        Expect(B.SetState(MigrationState.Running) is null, "B RUNNING once the reset was reported");
        return $"hidden reset mid-resume → commit DeadSession before any SET, B RUNNING; old fd write ENODEV ({e.Message})";
    }

    private static int OpenFds() => Directory.GetFiles("/proc/self/fd").Length;

    private string OutOfSyncDataFd()
    {
        // Without the pre-SET GET, a hidden reset is only seen when the kernel answers
        // PRE_COPY → STOP_COPY (which must keep the fd) with a brand-new data_fd.
        using var channel = A.SetState(MigrationState.PreCopy) ?? throw new CheckFailedException("no PRE_COPY channel");
        A.CheckKernelStateBeforeSet = false;
        try
        {
            Expect(LibC.Ioctl(A.DeviceFd, VfioIoctl.DeviceReset, 0) == 0, $"raw VFIO_DEVICE_RESET failed {ErrnoText(LibC.LastErrno)}");
            int fds = OpenFds();
            var e = ExpectDeviceError(DeviceErrorKind.DeadSession, () => A.SetState(MigrationState.StopCopy), "PRE_COPY → STOP_COPY after a hidden reset");
            Expect(e.Message.Contains("out of sync"), $"message: {e.Message}");
            Expect(OpenFds() == fds, $"{OpenFds() - fds} fds leaked: the unexpected data_fd was not closed");
            Expect(e.State == MigrationState.StopCopy, $"exception state {e.State}");
            Expect(channel.Read(stackalloc byte[8]).Status == DataReadStatus.DeadSession, "old channel still alive");
        }
        finally
        {
            A.CheckKernelStateBeforeSet = true;
        }
        // The reset device went RUNNING → … → STOP_COPY: bring it back.
        Expect(A.SetState(MigrationState.Running) is null && A.GetState() == MigrationState.Running, $"A is {A.GetState()}");
        return "the kernel walked RUNNING → STOP_COPY and handed out a new fd: closed (no fd leaked), DeadSession 'data_fd out of sync', device STOP_COPY then back to RUNNING";
    }

    private string DirectStopCopy()
    {
        _portsA!.Seed(0, SeededDirect[0].Scr, SeededDirect[0].Lcr, SeededDirect[0].Fifo);
        _portsA.Seed(1, SeededDirect[1].Scr, SeededDirect[1].Lcr, SeededDirect[1].Fifo);
        using var channel = A.SetState(MigrationState.StopCopy) ?? throw new CheckFailedException("RUNNING → STOP_COPY gave no channel");
        var image = new byte[256];
        int total = 0;
        DataReadResult r;
        while ((r = channel.Read(image.AsSpan(total))).Status == DataReadStatus.Data) total += r.Count;
        Expect(r.Status == DataReadStatus.FinalEnd && total == 96, $"{total} bytes, ended {r.Status}");
        Expect(A.SetState(MigrationState.Running) is null, "back to RUNNING");
        Resume(B, image.AsSpan(0, total), 96);
        ExpectSeeded(_portsB!, "B", SeededDirect);
        return "RUNNING → STOP_COPY (via RUNNING_P2P, STOP) gave a new data_fd with all 96 bytes; resumed into B: registers match";
    }
}
