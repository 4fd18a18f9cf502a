using System.Text.Encodings.Web;
using System.Text.Json;

namespace StreamKit.Tests.Vectors;

/// <summary>Where spec/vectors lives and how expected.json is written.</summary>
internal static class VectorFiles
{
    public const string RegenerateVariable = "STREAMKIT_WRITE_VECTORS";

    public static bool Regenerate => Environment.GetEnvironmentVariable(RegenerateVariable) == "1";

    /// <summary>spec/vectors of the checkout the tests were built from (found by walking up to StreamKit.sln).</summary>
    public static string Directory
    {
        get
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "StreamKit.sln")))
                    return Path.Combine(dir.FullName, "spec", "vectors");
            }
            return Path.Combine(AppContext.BaseDirectory, "vectors"); // the copy the test project carries
        }
    }

    public static string ExpectedJson(IReadOnlyList<TestVector> vectors)
    {
        var document = new
        {
            format = "StreamKit wire format v1 test vectors (spec/wire-format.md)",
            regenerate = "spec/vectors/generate.sh (runs the Vectors tests with STREAMKIT_WRITE_VECTORS=1)",
            chunk_line = "TYPE dev=<device> epoch=<epoch> seq=<sequence> off=<offset> wire=<wire_length> raw=<raw_length> flags=<flags byte>",
            vectors = vectors.Select(v => new
            {
                name = v.Name,
                description = v.Description,
                files = v.Files.Select(f => f.File).ToArray(),
                direction = v.IsReturnPath ? "return-path" : null,
                receive_window = v.ReturnPathWindow,
                result = v.IsValid ? "valid" : "error",
                error = v.Error is { } e ? new { code = e.Code, value = e.Value, file = e.File, offset = e.Offset } : null,
                chunks = v.Chunks,
                devices = v.Devices?.Select(d => new
                {
                    device = d.Device,
                    final_epoch = d.FinalEpoch,
                    data_bytes = d.DataBytes,
                    config_bytes = d.ConfigBytes,
                    data_crc32c = d.DataCrc32C,
                    config_crc32c = d.ConfigCrc32C,
                }),
            }),
        };
        var options = new JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
        };
        return JsonSerializer.Serialize(document, options).Replace("\r\n", "\n") + "\n";
    }
}
