#!/usr/bin/env bash
# Restores the local tools (Cake) and runs build.cake: ./build.sh --target=Test
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The 1,000-connection tests and the benchmarks need more descriptors than the usual soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
dotnet tool restore >/dev/null
exec dotnet cake build.cake "$@"
