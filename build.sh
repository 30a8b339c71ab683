#!/usr/bin/env bash
# Restores the local tools (Cake) and runs build.cake: ./build.sh --target=Test
# For the test targets it first installs, with apt-get, what the lanes need and the machine lacks.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

target=Test
for arg in "$@"; do
  case "$arg" in
    --target=*) target="${arg#--target=}" ;;
  esac
done
case "$target" in
  Test|CI|Test-*) [ "$(uname -s)" = Linux ] && build/install-deps.sh ;;
esac

# The 1,000-connection tests and the benchmarks need more descriptors than the usual soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
dotnet tool restore >/dev/null
exec dotnet cake build.cake "$@"
