#!/usr/bin/env bash
# Restores the local tools (Cake) and runs build.cake: ./build.sh --target=Test
# For the test targets it first installs, with apt-get, what the lanes need and the machine lacks.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# --help lists the targets from build.cake itself: nothing is restored or installed.
usage() {
  echo "usage: ./build.sh [--target=NAME] [--configuration=Debug|Release] [cake options]"
  echo
  echo "targets (default: Test):"
  awk '
    match($0, /Task\("[^"]+"\)/) { name = substr($0, RSTART + 6, RLENGTH - 8) }
    name != "" && match($0, /\.Description\("([^"\\]|\\.)*"\)/) {
      printf "  %-12s %s\n", name, substr($0, RSTART + 14, RLENGTH - 16); name = ""
    }' build.cake
}

target=Test
for arg in "$@"; do
  case "$arg" in
    --help|-h|-\?) usage; exit 0 ;;
    --target=*) target="${arg#--target=}" ;;
  esac
done
case "$target" in
  Test|CI|Test-*|Consumer|Lint-Workflows) [ "$(uname -s)" = Linux ] && build/install-deps.sh ;;
esac

# The 1,000-connection tests and the benchmarks need more descriptors than the usual soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
dotnet tool restore >/dev/null
exec dotnet cake build.cake "$@"
