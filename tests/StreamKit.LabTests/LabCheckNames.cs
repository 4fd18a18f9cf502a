namespace StreamKit.LabTests;

/// <summary>
/// Every check the lab program runs, in order. Shared (linked) with tests/StreamKit.Tests/Lab so the
/// xunit side has one test per check; the program fails any check it runs that is not listed here
/// and any listed check it did not run.
/// </summary>
internal static class LabCheckNames
{
    /// <summary>The two ways into a VFIO device.</summary>
    internal static readonly string[] Apis = ["cdev", "group"];

    /// <summary>Checks run once per API, each named "api.check".</summary>
    internal static readonly string[] PerApi =
    [
        "open",
        "open_errors",
        "device_info",
        "features",
        "stop_copy_estimate",
        "initial_state",
        "unsupported_target_refused",
        "region_roundtrip",
        "save_precopy",
        "precopy_info_outside_precopy",
        "save_stop_copy",
        "stop_copy_to_pre_copy_refused",
        "source_back_to_running",
        "resume_into_B",
        "incompatible_write_into_C",
        "incompatible_commit_refused",
        "incompatible_header_into_C",
        "C_reset_to_running",
        "truncated_resume_commit_failed",
        "get_after_failed_set",
        "B_reset_and_resume_again",
        "reset_in_precopy",
        "async_reset_detected",
        "async_reset_in_resuming",
        "out_of_sync_data_fd",
        "direct_stop_copy",
    ];

    /// <summary>The `streamkit` command as two processes (CliChecks), run once after both APIs' checks.</summary>
    internal static readonly string[] Cli =
    [
        "cli.migrate_tcp",
        "cli.discard_reset_in_precopy",
        "cli.group_discard_reset_in_precopy",
    ];

    /// <summary>All check names, "api.check", in run order.</summary>
    internal static IEnumerable<string> All => Apis.SelectMany(api => PerApi.Select(check => $"{api}.{check}")).Concat(Cli);
}
