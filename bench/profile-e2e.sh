#!/bin/sh
# Profiles one end-to-end run with perf (root, or perf_event_paranoid <= 0) and prints where each hot
# thread of the sender (streamkit-pump-*) and the receiver (streamkit-recv-*) spends its samples.
#   bench/profile-e2e.sh [e2e options...]      e.g. --size 16GiB --zero 0.5 --channels 1
# The .NET runtime writes /tmp/perf-PID.map for jitted code (DOTNET_PerfMapEnabled); ReadyToRun is off so
# framework code is jitted and named too, and W^X is off so perf can attribute the code pages.
set -eu
cd "$(dirname "$0")/.."
B=bench/StreamKit.Benchmarks/bin/Release/net10.0/StreamKit.Benchmarks.dll
[ -f "$B" ] || dotnet build bench/StreamKit.Benchmarks -c Release >/dev/null
command -v perf >/dev/null || { echo "perf is not installed (Debian: linux-perf)" >&2; exit 2; }
out=${PERF_OUT:-/tmp/streamkit-e2e.perf}
[ $# -gt 0 ] || set -- --size 16GiB --zero 0 --chunk 1MiB --channels 1
export DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 DOTNET_ReadyToRun=0
perf record -a -F 999 -o "$out" -- dotnet "$B" e2e --lz4 off --variants streamkit --repeat 1 --out /tmp "$@" | grep -A1 '^configuration'
for thread in streamkit-pump- streamkit-recv-; do
    echo "== $thread threads (share of their samples)"
    perf report -i "$out" --comms "$thread" --percentage relative --no-children --sort sym --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head -15 | cut -c1-160
done
