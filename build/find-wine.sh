#!/usr/bin/env bash
# Prints the Wine loader (line 1) and the wineserver (line 2) the Windows lane uses, or says on
# stderr what is missing and exits 1. Debian's `wine64` package puts both in /usr/lib/wine/ and
# nothing on PATH (/usr/bin/wine comes with the separate `wine` package), so that directory is
# searched after PATH. PIKE_WINE and PIKE_WINESERVER override the search.
set -euo pipefail

find_first() {
    local name dir
    for name in "$@"; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    for dir in /usr/lib/wine /usr/lib64/wine /usr/lib/x86_64-linux-gnu/wine /opt/wine-stable/bin; do
        for name in "$@"; do
            if [[ -x "$dir/$name" && ! -d "$dir/$name" ]]; then
                echo "$dir/$name"
                return 0
            fi
        done
    done
    return 1
}

loader="${PIKE_WINE:-$(find_first wine64 wine || true)}"
if [[ -z "$loader" || ! -x "$loader" ]]; then
    echo "wine loader not found (wine64 or wine on PATH, or /usr/lib/wine/wine64; Debian: apt-get install -y wine64)" >&2
    exit 1
fi

server="${PIKE_WINESERVER:-}"
if [[ -z "$server" ]]; then
    # The server that belongs to the loader first: a PATH wineserver may be another Wine's.
    if [[ -x "$(dirname "$loader")/wineserver" ]]; then
        server="$(dirname "$loader")/wineserver"
    else
        server="$(find_first wineserver wineserver64 || true)"
    fi
fi
if [[ -z "$server" || ! -x "$server" ]]; then
    echo "wineserver not found (beside $loader, on PATH, or in /usr/lib/wine/)" >&2
    exit 1
fi

echo "$loader"
echo "$server"
