using Spectre.Console;
using StreamKit.Cli;
using Xunit;

namespace StreamKit.Tests.Cli;

/// <summary>Result tables stay readable on an 80-column terminal: transposed instead of wrapped mid-word.</summary>
public sealed class FittedTableTests
{
    private static readonly string[] Headers = ["Device", "Bytes", "Chunks", "Wire", "Ratio", "Throughput", "Discards", "Discarded", "Stop-copy time", "State"];

    private static readonly List<string[]> Rows =
    [
        ["1 sim-mlx5-1", "89.63 MiB", "8697", "68.15 MiB", "1.32x", "30.95 MiB/s", "1", "25.6 MiB", "1.8 ms", "[green]equal[/]"],
        ["2 sim-mtty-1", "96 B", "6", "478 B", "0.20x", "33 B/s", "0", "0 B", "0.5 ms", "[green]equal[/]"],
    ];

    private static string[] Render(Table table, int width)
    {
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = width;
        console.Write(table);
        return output.ToString().Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToArray();
    }

    [Fact]
    public void OnAnEightyColumnTerminalEachMetricIsARowAndNothingWraps()
    {
        Assert.True(FittedTable.WideWidth(Headers, Rows) > 80);
        var lines = Render(FittedTable.Build(Headers, Rows, c => c > 0, width: 80), 80);
        Assert.All(lines, l => Assert.True(l.Length <= 80, $"wider than 80: {l}"));
        Assert.Equal(Headers.Length - 1 + 4, lines.Length); // a row per metric + top, header, separator, bottom borders
        Assert.Contains(lines, l => l.Contains("1 sim-mlx5-1") && l.Contains("2 sim-mtty-1"));
        Assert.Contains(lines, l => l.Contains("Discarded") && l.Contains("25.6 MiB") && l.Contains("0 B"));
        Assert.Contains(lines, l => l.Contains("State") && l.Split("equal").Length == 3);
    }

    [Fact]
    public void OnAWideTerminalEachDeviceIsARow()
    {
        int wide = FittedTable.WideWidth(Headers, Rows);
        var lines = Render(FittedTable.Build(Headers, Rows, c => c > 0, width: wide), wide);
        Assert.Equal(Rows.Count + 4, lines.Length);
        Assert.Contains(lines, l => l.Contains("1 sim-mlx5-1") && l.Contains("89.63 MiB") && l.Contains("30.95 MiB/s") && l.Contains("equal"));
        Assert.All(lines, l => Assert.True(l.Length <= wide, $"wider than the computed {wide}: {l}"));
    }
}
