#!/usr/bin/env bash
# The Windows lane: publishes the test project for win-x64 (self-contained) and runs it under
# Wine in a prefix of its own (outside the tree, created on first use and kept), on the pollers a Windows host offers (iocp, wsapoll, select).
# Runs the tests tagged Lane=contract, core or windows, as the native Windows job does, at the
# xunit runner's default parallelism; the tests that count the whole process's handles are in
# ProcessWideCollection, which the runner keeps for after the parallel ones, one at a time.
# Prints each test as it ends, and last one summary line: "tests: N passed, N failed, N skipped"
# (also written to summary.txt beside the published tests). Extra arguments go to the
# xunit v3 runner (for example -method "*Iocp*" while iterating).
# Needs: the .NET SDK, and Wine (Debian: apt-get install -y wine64, which puts the loader in
# /usr/lib/wine/ and nothing on PATH; build/find-wine.sh finds it there).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${PIKE_WINDOWS_LANE_DIR:-$root/artifacts/windows-lane}"
configuration="${CONFIGURATION:-Release}"
# A hung test must fail the lane, not hold CI: the whole run normally takes 2-4 minutes. The
# runner names every test still running after $hang_seconds ("[Long Running Test]"), so the log
# says which test hung before the timeout ends the run.
run_timeout="${PIKE_WINDOWS_LANE_TIMEOUT:-1200}"
hang_seconds="${PIKE_WINDOWS_LANE_HANG_SECONDS:-120}"

if ! found="$("$root/build/find-wine.sh")"; then
    echo "windows lane: cannot run (see above)" >&2
    exit 2
fi
wine_cmd="$(sed -n 1p <<<"$found")"
wineserver_cmd="$(sed -n 2p <<<"$found")"

mkdir -p "$out"
if [[ "${PIKE_WINDOWS_LANE_NO_BUILD:-}" != "1" ]]; then
    timeout 1200 dotnet publish "$root/Pike.Reactor.Tests/Pike.Reactor.Tests.csproj" -c "$configuration" -r win-x64 \
        --self-contained -o "$out/bin" -nologo -v quiet >"$out.publish.log" 2>&1 \
        || { cat "$out.publish.log" >&2; exit 1; }
fi

# The prefix lives outside the repository: its dosdevices/z: links to /, and a tool that walks
# the tree (BenchmarkDotNet's project search, an IDE's indexer, grep -r) would follow it into
# /proc. One prefix per checkout, so that two checkouts' lanes do not share a wineserver.
prefix_home="${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/pike-reactor"
export WINEPREFIX="${PIKE_WINEPREFIX:-$prefix_home/wine-$(printf '%s' "$root" | sha1sum | cut -c1-12)}"
export WINEDEBUG=-all
# No Gecko installer in the prefix. (mscoree must stay: Wine's loader needs it to map the
# IL-only assemblies of a self-contained .NET program; "mscoree=" breaks System.Runtime.dll.)
export WINEDLLOVERRIDES="mshtml="
# CoreCLR's W^X double mapping of JIT code crashes under Wine 8 once enough dynamic methods
# are collected ("Internal CLR error (0x80131506)" in DynamicResolver+DestroyScout.Finalize,
# seen with select alone as well as with iocp/wsapoll); the runtime's documented switch off.
export DOTNET_EnableWriteXorExecute=0
# Fewer collections, and no background GC thread: each collection suspends every managed thread,
# and Wine 8 was seen failing that ("SuspendThread failed with error 5", a fatal error of the
# runtime) and hanging in it (docs/windows.md). A 256 MiB gen0 budget makes them rare.
export DOTNET_GCgen0size=0x10000000
export DOTNET_gcConcurrent=0
export PIKE_TEST_POLLERS="${PIKE_TEST_POLLERS:-iocp,wsapoll,select}"
# Earlier versions kept the prefix in the tree: remove it (rm does not follow its z: link).
rm -rf "$out/prefix"
mkdir -p "$WINEPREFIX"
if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    # A program started while Wine still builds a new prefix can fail to load its own DLLs
    # ("Could not load System.Runtime.dll"): create the prefix first and wait for it.
    timeout 300 "$wine_cmd" wineboot --init >/dev/null 2>&1 || true
    timeout 300 "$wineserver_cmd" -w || { echo "windows lane: Wine did not finish creating $WINEPREFIX within 300 s" >&2; exit 1; }
fi
results="$out/results.xml"
rm -f "$results" "$out/summary.txt"

# One CPU for the Wine process, and the host's count for the runtime (so the xunit runner's
# default parallelism is what it is on this host: one test thread per CPU). Wine 8.0's
# NtFlushProcessWriteBuffers is a stub that does nothing ("fixme:virtual:NtFlushProcessWriteBuffers
# stub" once the first GC runs). CoreCLR's GC suspension relies on that call as a barrier that
# makes every thread's "running managed code" flag visible before it reads them: without it, on
# more than one CPU, a GC can take a thread that is running managed code for one that is not.
# Tests run in parallel then ended in "Internal CLR error (0x80131506)" or in a hang with every
# thread waiting and a thread-pool worker gone while the runtime still listed it as running
# managed code; serially (one managed thread at a time) the window almost never opened. On one
# CPU the stores the barrier should flush are already visible to the other threads. A Wine that
# implements the call (later releases) can run on all CPUs: PIKE_WINE_ALL_CPUS=1.
pin=()
if [[ "${PIKE_WINE_ALL_CPUS:-}" != "1" ]] && command -v taskset >/dev/null; then
    cpu="$(sed -n 's/^Cpus_allowed_list:[[:space:]]*\([0-9]*\).*/\1/p' /proc/self/status)"
    pin=(taskset -c "${cpu:-0}")
    export DOTNET_PROCESSOR_COUNT="${DOTNET_PROCESSOR_COUNT:-$(nproc)}"
fi

cleanup() { "$wineserver_cmd" -k >/dev/null 2>&1 || true; }
trap cleanup EXIT

status=0
timeout --kill-after=30 "$run_timeout" "${pin[@]}" \
    "$wine_cmd" "$out/bin/Pike.Reactor.Tests.exe" -trait "Lane=contract" -trait "Lane=core" -trait "Lane=windows" -trait- "Needs=kqueue-shim" \
    -noLogo -noColor -reporter "${PIKE_WINDOWS_LANE_REPORTER:-verbose}" -longRunning "$hang_seconds" \
    -result-xml "$results" "$@" || status=$?
if [[ $status -eq 124 || $status -eq 137 ]]; then
    echo "windows lane: the test runner did not finish within $run_timeout s (PIKE_WINDOWS_LANE_TIMEOUT)" >&2
fi

if [[ ! -f "$results" ]]; then
    echo "windows lane: the test runner wrote no results (exit $status)" >&2
    exit 1
fi

attr() { grep -o "<assembly [^>]*" "$results" | head -1 | grep -o " $1=\"[0-9]*\"" | grep -o "[0-9]*"; }
passed="$(attr passed)"; failed="$(attr failed)"; skipped="$(attr skipped)"
# The "tests:" line goes to summary.txt for build.cake, which prints the lane's one "tests:" line.
echo "tests: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped" >"$out/summary.txt"
echo "windows lane: ${passed:-0} passed, ${failed:-0} failed, ${skipped:-0} skipped (summary.txt)"
exit "$status"
