#!/usr/bin/env bash
# Builds the self-contained CNI shim: cni/main.ts bundled to one CommonJS file (esbuild) and injected
# into a copy of the project's Node binary as a Node single executable application (SEA), so it runs
# on hosts without Node.js. Output: dist/shim/multinet-cni (the agent installs it into the CNI bin dir).
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/shim
node=node_modules/node/bin/node
[ -x "$node" ] || { echo "build-shim: $node is missing; run npm ci first" >&2; exit 1; }
mkdir -p "$out"
node_modules/.bin/esbuild cni/main.ts --bundle --platform=node --format=cjs --target=node24 --minify \
  --outfile="$out/multinet-cni.cjs" --log-level=warning
cat >"$out/sea-config.json" <<JSON
{ "main": "$out/multinet-cni.cjs", "output": "$out/multinet-cni.blob", "disableExperimentalSEAWarning": true, "useCodeCache": true }
JSON
"$node" --experimental-sea-config "$out/sea-config.json" >/dev/null 2>&1
cp "$node" "$out/multinet-cni.tmp"
chmod u+w "$out/multinet-cni.tmp"
node_modules/.bin/postject "$out/multinet-cni.tmp" NODE_SEA_BLOB "$out/multinet-cni.blob" \
  --sentinel-fuse NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2 >"$out/postject.log" 2>&1 || { cat "$out/postject.log" >&2; exit 1; }
mv -f "$out/multinet-cni.tmp" "$out/multinet-cni"
rm -f "$out/multinet-cni.blob" "$out/sea-config.json" "$out/postject.log"
echo "build-shim: $out/multinet-cni ($(du -h "$out/multinet-cni" | cut -f1))" >&2
