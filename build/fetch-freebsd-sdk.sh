#!/usr/bin/env bash
# The FreeBSD CI job's .NET SDK. FreeBSD's own package (lang/dotnet) is SDK 9 while global.json
# asks for 10, and Microsoft ships no FreeBSD build; the community's FreeBSD builds of the .NET
# SDK are published as GitHub releases (FREEBSD_DOTNET_REPO, default
# sec/dotnet-core-freebsd-source-build). This finds the newest release with an SDK of the major
# version global.json names for freebsd-x64, and downloads it to DIR/dotnet-sdk.tar.gz. Runs on
# the Linux runner (it needs gh and GH_TOKEN); the VM unpacks it.
# Usage: build/fetch-freebsd-sdk.sh DIR
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:?usage: fetch-freebsd-sdk.sh DIR}"
repo="${FREEBSD_DOTNET_REPO:-sec/dotnet-core-freebsd-source-build}"
major="$(sed -n 's/.*"version"[[:space:]]*:[[:space:]]*"\([0-9]*\)\..*/\1/p' "$root/global.json" | head -1)"
pattern="^dotnet-sdk-${major}\.0\.[0-9]+-freebsd-x64\.tar\.gz$"

mkdir -p "$dir"
# Listed first, so that a failing gh (authentication, rate limit, a renamed repository) stops
# the job with its own error instead of reading as "no release found".
tags="$(gh release list --repo "$repo" --limit 40 --json tagName --jq '.[].tagName')"
for tag in $tags; do
    asset="$(gh release view "$tag" --repo "$repo" --json assets --jq '.assets[].name' | grep -E "$pattern" | sort -V | tail -1 || true)"
    if [[ -n "$asset" ]]; then
        echo "fetch-freebsd-sdk: $asset from $repo release $tag"
        gh release download "$tag" --repo "$repo" --pattern "$asset" --output "$dir/dotnet-sdk.tar.gz" --clobber
        exit 0
    fi
done

echo "fetch-freebsd-sdk: no release of $repo has a .NET $major SDK for freebsd-x64 (looked for $pattern)" >&2
exit 1
