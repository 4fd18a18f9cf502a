using System.Globalization;
using System.Text;
using StreamKit.Wire.Fuzzing;

namespace StreamKit.Transport.Fuzzing;

/// <summary>
/// Structure-aware control requests (spec/control-protocol.md §5-§7): a request of either role built
/// member by member with plausible values, then changed at the JSON level (members dropped,
/// duplicated, retyped, set to boundary numbers, over-long or invalid strings, unknown members, deep
/// nesting) and sometimes at the byte level (BOM, comments, trailing commas, truncation, bit flips,
/// invalid UTF-8). A pure function of the random source.
/// </summary>
internal static class ControlRequestGenerator
{
    private static readonly string[] Ops =
        ["hello", "start", "status", "cancel", "add-device", "precopy-info", "stop-copy", "discard", "switchover", "resume-fd", "commit-result", "bogus-op", ""];

    private static readonly string[] Numbers =
    [
        "0", "1", "-1", "7", "255", "256", "4095", "4096", "65535", "65536", "4294967295", "4294967296",
        "9007199254740991", "9007199254740992", "18446744073709551615", "18446744073709551616",
        "1.0", "1e3", "-0", "0.5", "1E400", "00", "+1", "0x10",
    ];

    /// <summary>One line (no LF) of a request, possibly damaged.</summary>
    internal static byte[] Line(FuzzRandom rng)
    {
        var members = Members(rng);
        int edits = rng.Chance(15) ? 0 : rng.Between(1, 3);
        string? note = null;
        for (int i = 0; i < edits; i++) note = EditMember(rng, members) ?? note;
        var text = new StringBuilder("{");
        for (int i = 0; i < members.Count; i++)
        {
            if (i > 0) text.Append(rng.Chance(3) ? " , " : ",");
            text.Append('"').Append(members[i].Name).Append("\":").Append(members[i].Value);
        }
        text.Append('}');
        byte[] bytes = Encoding.UTF8.GetBytes(text.ToString());
        return rng.Chance(25) ? Damage(rng, bytes) : bytes;
    }

    private static List<(string Name, string Value)> Members(FuzzRandom rng)
    {
        string op = rng.Pick(Ops);
        var m = new List<(string, string)> { ("id", rng.Chance(90) ? rng.Between(0, 1000).ToString(CultureInfo.InvariantCulture) : rng.Pick(Numbers)), ("op", Json(op)) };
        string Device() => rng.Chance(85) ? rng.Between(1, 12).ToString(CultureInfo.InvariantCulture) : rng.Pick(Numbers);
        string Count() => rng.Chance(80) ? rng.Between(0, 1 << 30).ToString(CultureInfo.InvariantCulture) : rng.Pick(Numbers);
        switch (op)
        {
            case "hello":
                m.Add(("version", rng.Chance(80) ? "1" : rng.Pick(Numbers)));
                if (rng.Chance(60)) m.Add(("client", Json("qemu-" + rng.Between(1, 99))));
                break;
            case "cancel":
                if (rng.Chance(60)) m.Add(("reason", Json("operator asked")));
                break;
            case "add-device":
                m.Add(("device", Device()));
                m.Add(("name", Json(rng.Pick(new[] { "0000:65:00.1", "mtty", "", "Geräte", "x" }))));
                if (rng.Chance(60)) m.Add(("driver", Json("mtty")));
                m.Add(("migration_flags", rng.Pick(new[] { "1", "5", "7", "4", "0" })));
                if (rng.Chance(50)) m.Add(("stop_copy_estimate", Count()));
                if (rng.Chance(40)) m.Add(("precopy_ioctl", rng.Chance(50) ? "true" : "false"));
                if (rng.Chance(40)) { m.Add(("initial_bytes", Count())); m.Add(("dirty_bytes", Count())); }
                break;
            case "precopy-info":
                m.Add(("device", Device()));
                m.Add(("initial_bytes", Count()));
                m.Add(("dirty_bytes", Count()));
                break;
            case "stop-copy":
                m.Add(("device", Device()));
                if (rng.Chance(50)) m.Add(("stop_copy_estimate", Count()));
                break;
            case "discard":
                m.Add(("device", Device()));
                if (rng.Chance(50)) m.Add(("stop_copy_estimate", Count()));
                if (rng.Chance(50)) m.Add(("initial_bytes", Count()));
                if (rng.Chance(30)) m.Add(("dirty_bytes", Count()));
                break;
            case "switchover":
                if (rng.Chance(60)) m.Add(("wait_ack", rng.Chance(50) ? "true" : "false"));
                break;
            case "resume-fd":
                m.Add(("device", Device()));
                m.Add(("epoch", rng.Chance(80) ? rng.Between(0, 5).ToString(CultureInfo.InvariantCulture) : rng.Pick(Numbers)));
                break;
            case "commit-result":
                m.Add(("device", Device()));
                m.Add(("epoch", rng.Between(0, 3).ToString(CultureInfo.InvariantCulture)));
                bool ok = rng.Chance(60);
                m.Add(("ok", ok ? "true" : "false"));
                if (!ok || rng.Chance(20)) m.Add(("errno", rng.Pick(new[] { "22", "0", "4095", "4096", "-1" })));
                if (rng.Chance(50)) m.Add(("message", Json("RESUMING → STOP failed")));
                break;
        }
        // Member order is free in JSON.
        if (rng.Chance(20)) m.Reverse();
        return m;
    }

    /// <summary>One JSON-level edit; returns a note or null.</summary>
    private static string? EditMember(FuzzRandom rng, List<(string Name, string Value)> m)
    {
        if (m.Count == 0) return null;
        int i = rng.Next(m.Count);
        switch (rng.Next(10))
        {
            case 0: m.RemoveAt(i); return "member dropped";
            case 1: m.Insert(rng.Between(0, m.Count), m[i]); return "member duplicated";
            case 2: m[i] = (m[i].Name, rng.Pick(new[] { "null", "true", "\"7\"", "[]", "{}", "[1,2]", "{\"a\":1}", "\"\"" })); return "member retyped";
            case 3: m[i] = (m[i].Name, rng.Pick(Numbers)); return "boundary number";
            case 4: m[i] = (m[i].Name, new string('9', rng.Chance(50) ? rng.Between(20, 400) : rng.Between(60000, 65400))); return "huge number";
            case 5: m[i] = (m[i].Name, Json(new string('é', rng.Pick(new[] { 127, 128, 512, 513, 2000 })))); return "long string";
            case 6: m[i] = (m[i].Name, rng.Pick(new[] { "\"\\ud800\"", "\"\\udc00x\"", "\"\\u0000\"", "\"a\\nb\"", "\"\\x\"", "\"\\u12\"" })); return "odd escape";
            case 7: m.Insert(rng.Between(0, m.Count), (rng.Pick(new[] { "future", "ID", "op ", "\\u0069d", "" }), rng.Pick(new[] { "1", "\"x\"", "null" }))); return "unknown member";
            case 8:
            {
                int depth = rng.Between(6, 12);
                m[i] = (m[i].Name, new string('[', depth) + new string(']', depth));
                return "deep nesting";
            }
            default: m[i] = (m[i].Name.ToUpperInvariant(), m[i].Value); return "member name case";
        }
    }

    private static byte[] Damage(FuzzRandom rng, byte[] bytes)
    {
        switch (rng.Next(9))
        {
            case 0: return [0xEF, 0xBB, 0xBF, .. bytes];
            case 1: return [.. bytes[..^1], .. ",}"u8];
            case 2: return [.. "/* c */"u8, .. bytes];
            case 3: return bytes[..rng.Next(Math.Max(1, bytes.Length))];
            case 4:
                if (bytes.Length > 0) bytes[rng.Next(bytes.Length)] ^= (byte)(1 << rng.Next(8));
                return bytes;
            case 5:
                if (bytes.Length > 0) bytes[rng.Next(bytes.Length)] = rng.Pick(new byte[] { 0xFF, 0xC0, 0x80, 0xED, 0xF4 });
                return bytes;
            case 6: return [.. "["u8, .. bytes, .. "]"u8];
            case 7: return [.. " \t"u8, .. bytes, .. "\r"u8];
            default: return [.. bytes, .. bytes];
        }
    }

    private static string Json(string text) => System.Text.Json.JsonSerializer.Serialize(text);
}
