#!/usr/bin/env bash
# Builds one of multinet's small Go programs (standard library only) as a static executable:
#   scripts/build-go.sh SOURCE_DIR NAME OUT_DIR   → OUT_DIR/NAME
# scripts/build-shim.sh (the CNI shim) and scripts/build-spawner.sh (the agent's plugin spawner) call it.
# Each carries multinet's version from package.json as main.version (the shim names it: `--version`, and
# the header it sends the agent). Skipped when the sources, the version, this script and the Go toolchain
# are what the existing binary was built from (recorded in OUT_DIR/NAME.inputs).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$1 name=$2 out=$3
command -v go >/dev/null || { echo "build-go: Go is not installed (apt-get install golang-go, or Go 1.26 from go.dev)" >&2; exit 1; }
# The one "version" line of package.json (two-space indent, top level), without running node.
version=$(sed -n 's/^  "version": "\([^"]*\)",\{0,1\}$/\1/p' package.json)
[ -n "$version" ] || { echo "build-go: no version in package.json" >&2; exit 1; }
inputs=$( { go version; echo "$version"; sha256sum "$0" "$src/go.mod" $(ls "$src"/*.go | grep -v '_test\.go$'); } | sha256sum | cut -d' ' -f1)
if [ -x "$out/$name" ] && [ "$(cat "$out/$name.inputs" 2>/dev/null)" = "$inputs" ]; then
  exit 0
fi
mkdir -p "$out"
(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=$version" -o "$OLDPWD/$out/$name.tmp" .)
mv -f "$out/$name.tmp" "$out/$name"
echo "$inputs" >"$out/$name.inputs"
echo "build-go: $out/$name $version ($(du -h "$out/$name" | cut -f1))" >&2
