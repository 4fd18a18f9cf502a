using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using StreamKit.Transport;

namespace StreamKit.Cli;

/// <summary>
/// Shows a running migration's progress until it ends: live Spectre progress bars (one per device)
/// on a terminal, one plain status line per second when stdout is not a terminal, or JSON
/// <c>progress</c> lines (at most 5 per second) with <c>--json</c>. It polls the session's
/// thread-safe <c>GetProgress()</c> snapshot, so it never runs on the session's threads.
/// </summary>
internal sealed class ProgressDisplay(OutputMode mode, string role, IReadOnlyDictionary<ushort, long> expectedBytes)
{
    private static readonly TimeSpan JsonInterval = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan PlainInterval = TimeSpan.FromSeconds(1);

    /// <summary>Terminal width from which the live bars get full-width bars and an elapsed-time column.</summary>
    private const int WideTerminal = 120;

    /// <summary>Polls <paramref name="poll"/> and renders until <paramref name="work"/> completes; returns its result.</summary>
    internal async Task<T> RunAsync<T>(Func<MigrationProgress> poll, Task<T> work)
    {
        switch (mode)
        {
            case OutputMode.Json:
                await PollAsync(poll, work, JsonInterval, p => WriteJson(role, p)).ConfigureAwait(false);
                break;
            case OutputMode.Plain:
                await PollAsync(poll, work, PlainInterval, WritePlain).ConfigureAwait(false);
                break;
            case OutputMode.Live:
                await LiveAsync(poll, work).ConfigureAwait(false);
                break;
            default:
                break;
        }
        return await work.ConfigureAwait(false);
    }

    private static async Task PollAsync<T>(Func<MigrationProgress> poll, Task<T> work, TimeSpan interval, Action<MigrationProgress> render)
    {
        MigrationPhase? lastPhase = null;
        var clock = Stopwatch.StartNew();
        TimeSpan next = TimeSpan.Zero;
        while (!work.IsCompleted)
        {
            var p = poll();
            if (p.Phase != lastPhase || clock.Elapsed >= next)
            {
                render(p);
                lastPhase = p.Phase;
                next = clock.Elapsed + interval;
            }
            await Task.WhenAny(work, Task.Delay(50)).ConfigureAwait(false);
        }
    }

    /// <summary>A JSON progress line: <c>{"event":"progress","role":…,"phase":…,"elapsed_ms":…,"wire_bytes":…,"devices":[…]}</c>.</summary>
    internal static void WriteJson(string role, MigrationProgress p) => JsonLines.Write("progress", w =>
    {
        w.WriteString("role", role);
        w.WriteString("phase", Phases.Name(p.Phase));
        w.WriteNumber("elapsed_ms", (long)p.Elapsed.TotalMilliseconds);
        w.WriteNumber("wire_bytes", p.WireBytes);
        w.WriteStartArray("devices");
        foreach (var d in p.Devices)
        {
            w.WriteStartObject();
            w.WriteNumber("id", d.Id);
            w.WriteString("name", d.Name);
            w.WriteString("phase", Phases.Name(d.Phase));
            w.WriteNumber("epoch", d.Epoch);
            w.WriteNumber("precopy_bytes", d.PrecopyBytes);
            w.WriteNumber("stop_copy_bytes", d.StopCopyBytes);
            w.WriteNumber("pending_precopy_bytes", d.PendingPrecopyBytes);
            if (d.StopCopyEstimate is { } estimate) w.WriteNumber("stop_copy_estimate", estimate);
            else w.WriteNull("stop_copy_estimate");
            w.WriteNumber("discards", d.Discards);
            w.WriteNumber("discarded_bytes", d.DiscardedBytes);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    private void WritePlain(MigrationProgress p)
    {
        var parts = p.Devices.Select(d =>
            string.Create(CultureInfo.InvariantCulture,
                $"dev {d.Id} {(p.Phase == MigrationPhase.Completed ? "done" : Phases.Name(d.Phase))} epoch {d.Epoch} {Quantities.FormatBytes(d.PrecopyBytes + d.StopCopyBytes)}") +
            (d.Discards > 0 ? $" ({d.Discards} discard{(d.Discards == 1 ? "" : "s")}, {Quantities.FormatBytes(d.DiscardedBytes)} dropped)" : ""));
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"[{role}] {p.Elapsed.TotalSeconds,6:0.0} s {Phases.Name(p.Phase),-10} {Quantities.FormatBytes(p.WireBytes),10} on the wire; {string.Join("; ", parts)}"));
        Console.Out.Flush();
    }

    private async Task LiveAsync<T>(Func<MigrationProgress> poll, Task<T> work)
    {
        // A line per device must fit the terminal: on a narrow one (80 columns) the bar shrinks and
        // the elapsed time (printed in the closing summary anyway) goes.
        bool narrow = AnsiConsole.Profile.Width < WideTerminal;
        ProgressColumn[] columns = narrow
            ? [new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 10 }, new PercentageColumn(),
               new DownloadedColumn(), new TransferSpeedColumn()]
            : [new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
               new DownloadedColumn(), new TransferSpeedColumn(), new ElapsedTimeColumn()];
        await AnsiConsole.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(columns)
            .StartAsync(async ctx =>
            {
                var tasks = new Dictionary<ushort, ProgressTask>();
                void Update(MigrationProgress p, bool final)
                {
                    foreach (var d in p.Devices)
                    {
                        if (!tasks.TryGetValue(d.Id, out var task))
                            tasks[d.Id] = task = ctx.AddTask(Describe(d, null), autoStart: true, maxValue: 1);
                        // The bar shows the current epoch: a discard sends it back to the start.
                        double current = Math.Max(0, d.PrecopyBytes + d.StopCopyBytes - d.DiscardedBytes);
                        double max = expectedBytes.TryGetValue(d.Id, out long hint) && hint > 0 ? hint : d.StopCopyEstimate ?? 0;
                        task.MaxValue = Math.Max(Math.Max(max, current), 1);
                        task.Value = final && p.Phase == MigrationPhase.Completed ? task.MaxValue : current;
                        task.Description = Describe(d, final ? p.Phase : null);
                        if (final) task.StopTask();
                    }
                }
                while (!work.IsCompleted)
                {
                    Update(poll(), final: false);
                    await Task.WhenAny(work, Task.Delay(100)).ConfigureAwait(false);
                }
                Update(poll(), final: true);
            }).ConfigureAwait(false);
    }

    /// <summary>"1 sim-mlx5-1 pre-copy e1 1 discard": at most about 36 columns, so a bar still fits on 80.</summary>
    private static string Describe(DeviceProgress d, MigrationPhase? ended)
    {
        string name = Markup.Escape(d.Name.Length > 12 ? d.Name[..11] + "…" : d.Name);
        string discards = d.Discards > 0 ? $" [yellow]{d.Discards} discard{(d.Discards == 1 ? "" : "s")}[/]" : "";
        // The session's last device phase is "committing"; once the whole migration ended, say how.
        string phase = ended switch
        {
            MigrationPhase.Completed => "[green]done[/]",
            MigrationPhase.Failed => "[red]failed[/]",
            _ => $"[blue]{Phases.Name(d.Phase)}[/]",
        };
        return $"{d.Id} {name} {phase} e{d.Epoch}{discards}";
    }
}
