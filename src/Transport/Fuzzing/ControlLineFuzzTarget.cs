using System.Text;
using StreamKit.Transport.Control;
using StreamKit.Transport.Native;
using StreamKit.Wire.Fuzzing;

namespace StreamKit.Transport.Fuzzing;

/// <summary>
/// <see cref="ControlLineReader"/> driven the way <see cref="ControlConnection"/> drives it: drain
/// lines, receive into the free space, commit bytes with the fds of that receive. The input is a
/// receive plan (format below); fds are real (duplicates of one pipe end made for the run).
/// <code>
/// byte 0     line limit: 2 + b for b &lt; 240, else the protocol's 65536
/// then, per receive:
///   1 byte   bits 0-4 size - 1, bit 5 size × 37, bits 6-7: 0 no fds, 1 one fd, 2 two fds, 3 one fd + MSG_CTRUNC
///   n bytes  the bytes received (fewer if the input ends; a receive larger than the free space is
///            split as the kernel would: the fds come with the first part)
/// </code>
/// Invariants, checked against a reference model of spec §2.5 and §3.2: lines are exactly the
/// LF-separated pieces, with their stream offsets; line-too-long exactly when a line reaches the
/// limit without an LF; each line carries the fds of the receives whose last byte fell in it, marked
/// misplaced when the line began in an earlier receive or got a second batch, truncated on
/// MSG_CTRUNC; every fd is handed out with exactly one line or closed by the reader (none leaks, none
/// is closed while handed out); only the buffer and per-receive fd arrays are allocated.
/// </summary>
internal sealed class ControlLineFuzzTarget : IFuzzTarget
{
    public static string Name => "control-line";

    private const int MaxFdsPerRun = 24;
    private const int F_DUPFD_CLOEXEC = 1030;

    private readonly record struct Receive(byte[] Bytes, int FdCount, bool Truncated);
    private sealed record ExpectedLine(long Offset, byte[] Bytes, List<int> Fds, FdFault Fault);

    public static void Fuzz(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty) return;
        int maxLine = input[0] < 240 ? 2 + input[0] : ControlLimits.MaxLineBytes;
        var plan = Plan(input[1..]);
        int fdsNeeded = Math.Min(MaxFdsPerRun, plan.Sum(r => r.FdCount));
        using var pipe = FdSource.Create(fdsNeeded);
        Run(maxLine, plan, pipe);
    }

    private static List<Receive> Plan(ReadOnlySpan<byte> rest)
    {
        var plan = new List<Receive>();
        int fds = 0;
        while (!rest.IsEmpty)
        {
            byte control = rest[0];
            rest = rest[1..];
            int size = 1 + (control & 0x1F);
            if ((control & 0x20) != 0) size *= 37;
            size = Math.Min(size, rest.Length);
            int kind = control >> 6;
            int fdCount = kind switch { 0 => 0, 2 => 2, _ => 1 };
            if (fds + fdCount > MaxFdsPerRun) fdCount = 0;
            fds += fdCount;
            plan.Add(new Receive(rest[..size].ToArray(), fdCount, kind == 3 && fdCount > 0));
            rest = rest[size..];
        }
        return plan;
    }

    private static void Run(int maxLine, List<Receive> plan, FdSource source)
    {
        var model = new LineModel(maxLine);
        var delivered = new List<PassedFd>();
        var meter = AllocationMeter.Start();
        var reader = new ControlLineReader(maxLine);
        bool tooLong = false;
        try
        {
            var queue = new Queue<Receive>(plan);
            while (true)
            {
                if (Drain(reader, model, delivered, meter))
                {
                    tooLong = true;
                    break;
                }
                if (queue.Count == 0) break;
                var receive = queue.Dequeue();
                var space = reader.GetReceiveSpace();
                int n = Math.Min(space.Length, receive.Bytes.Length);
                if (n == 0 && receive.Bytes.Length > 0) throw new FuzzInvariantException(Name, "no receive space although no line-too-long was reported");
                receive.Bytes.AsSpan(0, n).CopyTo(space);
                meter.Pause();
                int[] fds = source.Take(receive.FdCount);
                model.Commit(receive.Bytes.AsSpan(0, n), fds, receive.Truncated);
                meter.Resume();
                reader.Commit(n, fds, receive.Truncated);
                if (n < receive.Bytes.Length) // the rest stays in the socket for the next receive, without fds
                {
                    var rest = new Queue<Receive>();
                    rest.Enqueue(new Receive(receive.Bytes[n..], 0, false));
                    while (queue.Count > 0) rest.Enqueue(queue.Dequeue());
                    queue = rest;
                }
            }
            if (!tooLong)
            {
                int dropped = reader.DiscardPending();
                if (dropped != model.PendingBytes) throw FuzzChecks.Mismatch(Name, "bytes dropped at end of stream", model.PendingBytes, dropped);
            }
        }
        finally
        {
            reader.Dispose();
        }
        meter.Check(Name, maxLine + 64 * 1024 + 256L * plan.Count, "splitting lines");
        if (tooLong != model.TooLong) throw FuzzChecks.Mismatch(Name, "line-too-long", model.TooLong, tooLong);
        if (model.Lines.Count != 0) throw new FuzzInvariantException(Name, $"{model.Lines.Count} complete line(s) were never returned, the first at {model.Lines.Peek().Offset}");

        // Every fd the reader kept must be closed now; every fd handed out was checked open when it was.
        foreach (var fd in delivered) fd.Dispose();
        foreach (int fd in source.Handed)
        {
            if (delivered.Any(d => d.Fd == fd)) continue;
            if (source.IsOurs(fd)) throw new FuzzInvariantException(Name, $"fd {fd} was neither handed out with a line nor closed (leak)");
        }
    }

    /// <summary>Returns true on line-too-long.</summary>
    private static bool Drain(ControlLineReader reader, LineModel model, List<PassedFd> delivered, AllocationMeter meter)
    {
        while (true)
        {
            var status = reader.TryReadLine(out var line);
            meter.Pause();
            try
            {
                switch (status)
                {
                    case LineStatus.NeedMore:
                        if (model.Lines.Count > 0) throw new FuzzInvariantException(Name, $"NeedMore with the line at {model.Lines.Peek().Offset} complete");
                        if (model.AtLimit) throw new FuzzInvariantException(Name, $"NeedMore with {model.PendingBytes} bytes pending at the {model.MaxLine}-byte limit");
                        return false;
                    case LineStatus.TooLong:
                        if (model.Lines.Count > 0 || !model.AtLimit)
                            throw new FuzzInvariantException(Name, $"line-too-long with {model.PendingBytes} bytes pending (limit {model.MaxLine}) and {model.Lines.Count} complete line(s)");
                        model.TooLong = true;
                        return true;
                }
                if (model.Lines.Count == 0) throw new FuzzInvariantException(Name, $"a line at {line.StreamOffset} that the model has not completed");
                var expected = model.Lines.Dequeue();
                if (line.StreamOffset != expected.Offset) throw FuzzChecks.Mismatch(Name, "line offset", expected.Offset, line.StreamOffset);
                if (!line.Bytes.Span.SequenceEqual(expected.Bytes))
                    throw new FuzzInvariantException(Name, $"line at {expected.Offset}: \"{Encoding.UTF8.GetString(line.Bytes.Span)}\" instead of \"{Encoding.UTF8.GetString(expected.Bytes)}\"");
                var got = line.Fds.Select(f => f.Fd).ToList();
                if (!got.SequenceEqual(expected.Fds) || line.Fault != expected.Fault)
                    throw new FuzzInvariantException(Name, $"line at {expected.Offset}: fds [{string.Join(",", got)}] {line.Fault}, expected [{string.Join(",", expected.Fds)}] {expected.Fault}");
                foreach (var fd in line.Fds)
                {
                    if (fd.IsClosed) throw new FuzzInvariantException(Name, $"fd {fd.Fd} handed out already closed");
                    delivered.Add(fd);
                }
            }
            finally
            {
                meter.Resume();
            }
        }
    }

    /// <summary>The spec's line and fd rules, written out plainly over absolute stream offsets.</summary>
    private sealed class LineModel(int maxLine)
    {
        private readonly List<byte> _partial = [];
        private long _position;          // bytes committed so far
        private long _lineStart;         // offset of the partial line
        private readonly Dictionary<long, (List<int> Fds, FdFault Fault)> _batches = [];

        internal int MaxLine => maxLine;
        internal Queue<ExpectedLine> Lines { get; } = new();
        internal int PendingBytes => _partial.Count;
        internal bool AtLimit => _partial.Count >= maxLine;
        internal bool TooLong { get; set; }

        internal void Commit(ReadOnlySpan<byte> bytes, int[] fds, bool truncated)
        {
            long first = _position;
            long lineOfLastByte = -1;
            foreach (byte b in bytes)
            {
                lineOfLastByte = _lineStart;
                _position++;
                if (b == (byte)'\n')
                {
                    var batch = _batches.Remove(_lineStart, out var found) ? found : ([], FdFault.None);
                    Lines.Enqueue(new ExpectedLine(_lineStart, [.. _partial], batch.Fds, batch.Fault));
                    _partial.Clear();
                    _lineStart = _position;
                }
                else
                {
                    _partial.Add(b);
                }
            }
            if (fds.Length == 0 && !truncated) return;
            if (bytes.IsEmpty) return; // the reader closes fds that came with no bytes
            var fault = truncated ? FdFault.Truncated : lineOfLastByte < first ? FdFault.Misplaced : FdFault.None;
            if (_batches.TryGetValue(lineOfLastByte, out var existing))
            {
                _batches[lineOfLastByte] = ([.. existing.Fds, .. fds], FdFault.Misplaced);
                return;
            }
            // The line may already be complete (its LF was the last byte): attach to the queued line.
            foreach (var line in Lines)
            {
                if (line.Offset != lineOfLastByte) continue;
                if (line.Fds.Count > 0 || line.Fault != FdFault.None)
                {
                    line.Fds.AddRange(fds);
                    Replace(line, FdFault.Misplaced);
                }
                else
                {
                    line.Fds.AddRange(fds);
                    Replace(line, fault);
                }
                return;
            }
            _batches[lineOfLastByte] = ([.. fds], fault);
        }

        private void Replace(ExpectedLine line, FdFault fault)
        {
            var all = Lines.ToList();
            Lines.Clear();
            foreach (var l in all) Lines.Enqueue(ReferenceEquals(l, line) ? l with { Fault = fault } : l);
        }
    }

    /// <summary>Real fds for one run: duplicates of one end of a private pipe, recognisable through /proc/self/fd.</summary>
    private sealed class FdSource : IDisposable
    {
        private readonly int _read, _write;
        private readonly string _identity;
        private readonly List<int> _pool = [];
        private int _next;

        private FdSource(int read, int write)
        {
            _read = read;
            _write = write;
            _identity = File.ResolveLinkTarget($"/proc/self/fd/{read}", returnFinalTarget: false)?.LinkTarget ?? "";
        }

        internal List<int> Handed { get; } = [];

        internal static unsafe FdSource Create(int count)
        {
            int* fds = stackalloc int[2];
            if (LibC.Pipe2(fds, LibC.O_CLOEXEC) != 0) throw new IOException("pipe2 failed");
            var source = new FdSource(fds[0], fds[1]);
            for (int i = 0; i < count; i++)
            {
                int fd = LibC.Fcntl(source._read, F_DUPFD_CLOEXEC, 0);
                if (fd < 0) throw new IOException("fcntl(F_DUPFD_CLOEXEC) failed");
                source._pool.Add(fd);
            }
            return source;
        }

        internal int[] Take(int count)
        {
            count = Math.Min(count, _pool.Count - _next);
            var fds = _pool.GetRange(_next, count).ToArray();
            _next += count;
            Handed.AddRange(fds);
            return fds;
        }

        /// <summary>True while <paramref name="fd"/> still refers to this run's pipe (so it was not closed).</summary>
        internal bool IsOurs(int fd)
        {
            try
            {
                return File.ResolveLinkTarget($"/proc/self/fd/{fd}", returnFinalTarget: false)?.LinkTarget == _identity;
            }
            catch (IOException)
            {
                return false;
            }
        }

        public void Dispose()
        {
            for (int i = _next; i < _pool.Count; i++) LibC.Close(_pool[i]);
            LibC.Close(_read);
            LibC.Close(_write);
        }
    }

    public static byte[] Generate(ulong seed, long iteration)
    {
        var rng = FuzzRandom.For(seed, iteration, 21);
        var stream = new List<byte>();
        int lines = rng.Between(1, 6);
        for (int i = 0; i < lines; i++)
        {
            switch (rng.Weighted([70, 8, 8, 8, 6]))
            {
                case 0: stream.AddRange(ControlRequestGenerator.Line(rng)); break;
                case 1: break; // empty line
                case 2: stream.AddRange(" \t\r"u8.ToArray()); break;
                case 3: stream.AddRange(Enumerable.Repeat((byte)'x', rng.Between(100, 600))); break;
                default: stream.AddRange("\r"u8.ToArray()); break;
            }
            if (i < lines - 1 || rng.Chance(80)) stream.Add((byte)'\n');
        }
        byte limit = rng.Chance(60) ? (byte)rng.Between(240, 255) : (byte)rng.Between(0, 239);
        var input = new List<byte> { limit };
        int at = 0;
        while (at < stream.Count)
        {
            // Receives mostly start at line starts (where the spec puts fds), sometimes anywhere.
            int size = rng.Chance(30) ? rng.Between(1, 32) : Math.Min(32 * 37, rng.Between(1, 200));
            size = Math.Min(size, stream.Count - at);
            byte sizeBits = size <= 32 ? (byte)(size - 1) : (byte)(0x20 | Math.Min(31, (size + 36) / 37 - 1));
            int actual = (sizeBits & 0x20) != 0 ? (1 + (sizeBits & 0x1F)) * 37 : 1 + (sizeBits & 0x1F);
            actual = Math.Min(actual, stream.Count - at);
            int fdKind = rng.Weighted([60, 25, 8, 7]);
            input.Add((byte)(sizeBits | (fdKind << 6)));
            input.AddRange(stream.GetRange(at, actual));
            at += actual;
        }
        return [.. input];
    }
}
