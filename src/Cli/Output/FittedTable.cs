using Spectre.Console;

namespace StreamKit.Cli;

/// <summary>
/// A result table that fits the terminal: one row per item when that fits the console width, else
/// transposed (one row per column, one column per item), so an 80-column terminal gets a readable
/// table instead of cells wrapped mid-word. Cells are Spectre markup; the first column names the item.
/// </summary>
internal static class FittedTable
{
    /// <summary>Each column costs its widest cell plus a border and two padding characters.</summary>
    private const int ColumnOverhead = 3;

    /// <summary>Builds the table for <paramref name="width"/> columns (default: the console's).</summary>
    /// <param name="headers">Column headers; <c>headers[0]</c> heads the item column.</param>
    /// <param name="rows">One row per item, <c>headers.Count</c> cells each.</param>
    /// <param name="rightAligned">Columns (by index) of numbers, right-aligned in the wide layout.</param>
    /// <param name="title">Optional table title (markup).</param>
    /// <param name="width">Available width; null for <see cref="AnsiConsole.Profile"/>'s.</param>
    internal static Table Build(IReadOnlyList<string> headers, IReadOnlyList<string[]> rows, Func<int, bool> rightAligned, string? title = null, int? width = null)
    {
        int available = width ?? AnsiConsole.Profile.Width;
        var table = new Table().Border(TableBorder.Rounded);
        if (title is not null) table.Title(title);
        if (WideWidth(headers, rows) <= available || rows.Count == 0)
        {
            for (int c = 0; c < headers.Count; c++)
            {
                var column = new TableColumn(Markup.Escape(headers[c]));
                table.AddColumn(rightAligned(c) ? column.RightAligned() : column.LeftAligned());
            }
            foreach (var row in rows) table.AddRow(row);
            return table;
        }

        // Transposed: the item names become the column headers.
        // The labels never wrap; values wrap when even the transposed table is too wide.
        table.AddColumn(new TableColumn(Markup.Escape(headers[0])).LeftAligned().NoWrap());
        foreach (var row in rows) table.AddColumn(new TableColumn(row[0]).RightAligned());
        for (int c = 1; c < headers.Count; c++)
            table.AddRow([Markup.Escape(headers[c]), .. rows.Select(r => r[c])]);
        return table;
    }

    /// <summary>The width of the one-row-per-item layout.</summary>
    internal static int WideWidth(IReadOnlyList<string> headers, IReadOnlyList<string[]> rows)
    {
        int total = 1;
        for (int c = 0; c < headers.Count; c++)
        {
            int widest = headers[c].Length;
            foreach (var row in rows) widest = Math.Max(widest, Markup.Remove(row[c]).Length);
            total += widest + ColumnOverhead;
        }
        return total;
    }
}
