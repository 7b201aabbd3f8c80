#!/usr/bin/env bash
# Builds the CNI shim (cni/, Go, standard library only) as a static executable: dist/shim/multinet-cni,
# which the agent installs into the node's CNI bin dir. It carries multinet's version from package.json
# (`multinet-cni --version`; the header it sends the agent). Skipped when its sources, the version, this
# script and the Go toolchain are what the existing binary was built from (dist/shim/multinet-cni.inputs).
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/shim
command -v go >/dev/null || { echo "build-shim: Go is not installed (apt-get install golang-go, or Go 1.26 from go.dev)" >&2; exit 1; }
# The one "version" line of package.json (two-space indent, top level), without running node.
version=$(sed -n 's/^  "version": "\([^"]*\)",\{0,1\}$/\1/p' package.json)
[ -n "$version" ] || { echo "build-shim: no version in package.json" >&2; exit 1; }
inputs=$( { go version; echo "$version"; sha256sum "$0" cni/go.mod $(ls cni/*.go | grep -v '_test\.go$'); } | sha256sum | cut -d' ' -f1)
if [ -x "$out/multinet-cni" ] && [ "$(cat "$out/multinet-cni.inputs" 2>/dev/null)" = "$inputs" ]; then
  exit 0
fi
mkdir -p "$out"
(cd cni && CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X main.version=$version" -o "../$out/multinet-cni.tmp" .)
mv -f "$out/multinet-cni.tmp" "$out/multinet-cni"
echo "$inputs" >"$out/multinet-cni.inputs"
echo "build-shim: $out/multinet-cni $version ($(du -h "$out/multinet-cni" | cut -f1))" >&2
