using System.Diagnostics;
using System.Globalization;

namespace StreamKit.Benchmarks.EndToEnd;

/// <summary>A process's own counters at one instant: CPU (all threads), managed allocations, GC counts, wall clock.</summary>
internal readonly record struct ProcessSnapshot(long Timestamp, double UserSeconds, double SystemSeconds, long Allocated, int Gen0, int Gen1, int Gen2, long ContextSwitches, double JitSeconds, long JitMethods)
{
    public static ProcessSnapshot Take()
    {
        using var self = Process.GetCurrentProcess();
        return new ProcessSnapshot(Stopwatch.GetTimestamp(), self.UserProcessorTime.TotalSeconds, self.PrivilegedProcessorTime.TotalSeconds,
            GC.GetTotalAllocatedBytes(precise: true), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), ProcFs.ContextSwitches(),
            System.Runtime.JitInfo.GetCompilationTime(currentThread: false).TotalSeconds, System.Runtime.JitInfo.GetCompiledMethodCount(currentThread: false));
    }
}

/// <summary>Linux /proc readings: peak and current RSS of this process, machine-wide busy CPU time.</summary>
internal static class ProcFs
{
    /// <summary>Clock ticks per second of /proc/stat and /proc/PID/stat (USER_HZ, 100 on Linux x86-64).</summary>
    public const double TicksPerSecond = 100;

    /// <summary>Resets VmHWM to the current RSS (clear_refs 5), so a later VmHWM is the peak of what follows.</summary>
    public static bool ResetPeakRss()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return false; }
    }

    /// <summary>A "VmXxx:" line of /proc/self/status in KiB (VmHWM peak RSS, VmRSS current), -1 if absent.</summary>
    public static long StatusKiB(string key, int pid = 0)
    {
        string path = pid == 0 ? "/proc/self/status" : $"/proc/{pid}/status";
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                if (!line.StartsWith(key, StringComparison.Ordinal) || line.Length <= key.Length || line[key.Length] != ':') continue;
                var parts = line[(key.Length + 1)..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0], CultureInfo.InvariantCulture);
            }
        }
        catch (IOException) { }
        return -1;
    }

    /// <summary>
    /// CPU seconds of the whole machine since boot: busy (user+nice+system+irq+softirq of the "cpu" line) and
    /// stolen (time the hypervisor ran something else while a vCPU wanted to run; a noisy host shows here, not in busy).
    /// </summary>
    public static (double Busy, double Steal) MachineCpuSeconds()
    {
        string first = File.ReadLines("/proc/stat").First();
        var f = first.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long busy = 0;
        foreach (int i in new[] { 1, 2, 3, 6, 7 }) busy += long.Parse(f[i], CultureInfo.InvariantCulture);
        long steal = f.Length > 8 ? long.Parse(f[8], CultureInfo.InvariantCulture) : 0;
        return (busy / TicksPerSecond, steal / TicksPerSecond);
    }

    /// <summary>utime+stime and cutime+cstime (waited-for children) of a /proc/PID/stat line, in seconds.</summary>
    public static (double Self, double Children) ParseStatCpu(string statLine)
    {
        // The command name (field 2) may contain spaces: fields are counted after its closing parenthesis.
        var rest = statLine[(statLine.LastIndexOf(')') + 2)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // rest[0] is field 3 (state); utime = field 14 → rest[11].
        double Field(int n) => long.Parse(rest[n - 3], CultureInfo.InvariantCulture) / TicksPerSecond;
        return (Field(14) + Field(15), Field(16) + Field(17));
    }

    /// <summary>Voluntary + involuntary context switches of this process's live threads (threads that ended are not counted).</summary>
    public static long ContextSwitches()
    {
        long total = 0;
        try
        {
            foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
            {
                try
                {
                    foreach (var line in File.ReadLines(Path.Combine(dir, "status")))
                        if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                            total += long.Parse(line[(line.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
                }
                catch (IOException) { /* the thread ended */ }
            }
        }
        catch (IOException) { }
        return total;
    }

    /// <summary>Diagnostics: per live thread "name tid voluntary/involuntary switches", for STREAMKIT_E2E_THREADS=1.</summary>
    public static IEnumerable<string> ThreadSwitches()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            string? line = null;
            try
            {
                string name = File.ReadAllText(Path.Combine(dir, "comm")).Trim();
                long v = 0, n = 0;
                foreach (var l in File.ReadLines(Path.Combine(dir, "status")))
                {
                    if (l.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal)) v = long.Parse(l[(l.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
                    if (l.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal)) n = long.Parse(l[(l.IndexOf(':') + 1)..].Trim(), CultureInfo.InvariantCulture);
                }
                var (cpu, _) = ParseStatCpu(File.ReadAllText(Path.Combine(dir, "stat")));
                line = $"{name} {Path.GetFileName(dir)} switches {v}/{n} cpu {cpu:F2}s";
            }
            catch (IOException) { }
            if (line is not null) yield return line;
        }
    }

    public static string LoadAverage() => File.ReadAllText("/proc/loadavg").Trim();
}
