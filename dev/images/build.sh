#!/usr/bin/env bash
# Builds the local node's container images without a registry or a Docker engine, with Debian's buildah
# (chroot isolation, its own storage under the cache) and mmdebstrap, as OCI image layouts that the
# node's local registry mirror (dev/node/registry.ts) serves to its containerd:
#   pause     the pod sandbox image multinet.local/pause:<key>: dev/images/pause (built by dev/build.sh)
#   alpine    a busybox-static test image tagged docker.io/library/alpine:latest, so the seed's samplepod
#             (image: alpine, /bin/ash) runs unchanged
#   multus    multinet.local/multus:<key>: Multus thick as its image lays it out (/usr/src/multus-cni/bin:
#             multus-daemon, multus-shim, install_multus, passthru), from the binaries that
#             bench/anchors/build-multus.sh builds from ../shared/anchors (MULTUS_COMMIT names them), on the
#             busybox base; for the anchors tier's switch from Multus to multinet
#   multinet  multinet.local/multinet:<key>, the project's own Dockerfile (`buildah bud`), on local base
#             images for its NODE_IMAGE
#             (Debian bookworm minbase + this checkout's Node binary + npm) and GO_IMAGE (minbase + the
#             host's Go toolchain); both carry the host's CA bundle, so npm and apt work through the TLS
#             proxy a build machine may sit behind.
# Each layout is keyed by what it is built from and reused while that is unchanged.
#
# Usage: dev/images/build.sh [pause] [alpine] [multinet]   (default: all three)
#   MULTINET_CACHE  cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/multinet); layouts in
#                   $MULTINET_CACHE/images/oci, buildah's storage in $MULTINET_CACHE/images/storage
# Prints progress on stderr and, for each image, "NAME REFERENCE LAYOUT_DIR" on stdout.
set -euo pipefail
shopt -s inherit_errexit

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${MULTINET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multinet}"
OUT="$CACHE/images"
STORE="$OUT/storage"
CA_BUNDLE="${MULTINET_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
SUITE=bookworm

say() { printf '[dev/images] %s\n' "$*" >&2; }
die() { printf '[dev/images] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "building images needs root (buildah with chroot isolation, mmdebstrap)"
for tool in buildah mmdebstrap; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed: apt-get install -y buildah mmdebstrap"
done
mkdir -p "$OUT"
exec 8>"$OUT/.lock"
flock -n 8 || { say "another image build holds $OUT/.lock; waiting for it"; flock 8; }

bh() { buildah --root "$STORE/root" --runroot "$STORE/run" --storage-driver vfs "$@"; }
key_of() { sha256sum | cut -c1-12; }

# layout_path NAME KEY: where the OCI layout of an image built from KEY is.
layout_path() { echo "$OUT/oci/$1-$2"; }

# push IMAGE TAG DIR: writes IMAGE as an OCI layout into DIR (tagged TAG), atomically.
push() {
  rm -rf "$3.tmp" && mkdir -p "$(dirname "$3")"
  bh push --quiet "$1" "oci:$3.tmp:$2" >/dev/null
  mv -T "$3.tmp" "$3"
}

image_pause() {
  local bin="$CACHE/bin/pause" key file ref
  [ -x "$bin" ] || die "$bin is missing: run dev/build.sh (MULTINET_BUILD_ONLY=pause) first"
  key=$(key_of <"$bin")
  ref="multinet.local/pause:$key"
  file=$(layout_path pause "$key")
  if [ ! -f "$file/index.json" ]; then
    say "pause: building $ref"
    local c
    c=$(bh from scratch)
    bh copy --chmod 0755 "$c" "$bin" /pause >/dev/null
    bh config --entrypoint '["/pause"]' --user 65535:65535 --label io.multinet.local=pause "$c"
    bh commit --quiet --rm "$c" "$ref" >/dev/null
    push "$ref" "$key" "$file"
  fi
  echo "pause $ref $file"
}

# A container with busybox-static as its userland (/bin/ash, sleep, ip, ...): what the test image and
# whereabouts' image stand on.
busybox_container() {
  local busybox=/bin/busybox c mnt
  { [ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; } ||
    die "a static busybox is needed for the test image at $busybox: apt-get install -y busybox-static"
  c=$(bh from scratch)
  mnt=$(bh mount "$c")
  mkdir -p "$mnt/bin" "$mnt/tmp" "$mnt/etc" "$mnt/root"
  cp "$busybox" "$mnt/bin/busybox"
  chroot "$mnt" /bin/busybox --install -s /bin
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$mnt/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' >"$mnt/etc/group"
  chmod 1777 "$mnt/tmp"
  bh umount "$c" >/dev/null
  bh config --cmd '["/bin/sh"]' --env PATH=/bin --label io.multinet.local=busybox "$c"
  echo "$c"
}

image_alpine() {
  local key file ref=docker.io/library/alpine:latest
  key=$(key_of </bin/busybox)
  file=$(layout_path alpine "$key")
  if [ ! -f "$file/index.json" ]; then
    say "alpine: building $ref from /bin/busybox (busybox-static: /bin/ash, sleep, ip, ...)"
    local c
    c=$(busybox_container)
    bh commit --quiet --rm "$c" "$ref" >/dev/null
    push "$ref" latest "$file"
  fi
  echo "alpine $ref $file"
}

# whereabouts' image as its Dockerfile's last stage makes it (the plugin, its reconciler and its install
# scripts at /), on the busybox base of the alpine image above instead of Alpine's.
image_whereabouts() {
  local files="$CACHE/bin/whereabouts-files" key file ref
  for f in "$CACHE/bin/whereabouts" "$CACHE/bin/ip-control-loop" "$files/install-cni.sh"; do
    [ -e "$f" ] || die "$f is missing: run dev/build.sh (MULTINET_BUILD_ONLY=whereabouts) first"
  done
  key=$(cat /bin/busybox "$CACHE/bin/whereabouts" "$CACHE/bin/ip-control-loop" "$files"/*.sh | key_of)
  ref="multinet.local/whereabouts:$key"
  file=$(layout_path whereabouts "$key")
  if [ ! -f "$file/index.json" ]; then
    say "whereabouts: building $ref"
    local c
    c=$(busybox_container)
    bh copy --chmod 0755 "$c" "$CACHE/bin/whereabouts" "$CACHE/bin/ip-control-loop" \
      "$files/install-cni.sh" "$files/lib.sh" "$files/token-watcher.sh" / >/dev/null
    bh config --cmd '["/install-cni.sh"]' --label io.multinet.local=whereabouts "$c"
    bh commit --quiet --rm "$c" "$ref" >/dev/null
    push "$ref" "$key" "$file"
  fi
  echo "whereabouts $ref $file"
}

# Multus thick's image (its Dockerfile.thick puts the binaries in /usr/src/multus-cni/bin and runs
# multus-daemon), from the binaries bench/anchors/build-multus.sh built from the anchor's source.
image_multus() {
  local commit=${MULTUS_COMMIT:-} key file ref f
  [ -n "$commit" ] || die "the multus image needs MULTUS_COMMIT (bench/anchors/build-multus.sh builds its binaries)"
  local bins=("$CACHE/bin/multus-daemon-$commit" "$CACHE/bin/multus-shim-$commit" "$CACHE/bin/install_multus-$commit" "$CACHE/bin/passthru-$commit")
  for f in "${bins[@]}"; do
    [ -x "$f" ] || die "$f is missing: run bench/anchors/build-multus.sh first"
  done
  # The layout's revision is part of the key: 2 added the /var/run -> /run link.
  key=$( { cat /bin/busybox "${bins[@]}"; echo "layout 2"; } | key_of)
  ref="multinet.local/multus:$key"
  file=$(layout_path multus "$key")
  if [ ! -f "$file/index.json" ]; then
    say "multus: building $ref (Multus thick $commit)"
    local c mnt
    c=$(busybox_container)
    mnt=$(bh mount "$c")
    mkdir -p "$mnt/usr/src/multus-cni/bin" "$mnt/run" "$mnt/var"
    # As in Multus' own image (a Debian base): /var/run is /run, so the runtime's netns paths
    # (/var/run/netns/cni-...) resolve to the host's /run/netns its manifest mounts.
    ln -s ../run "$mnt/var/run"
    install -m 0755 "$CACHE/bin/multus-daemon-$commit" "$mnt/usr/src/multus-cni/bin/multus-daemon"
    install -m 0755 "$CACHE/bin/multus-shim-$commit" "$mnt/usr/src/multus-cni/bin/multus-shim"
    install -m 0755 "$CACHE/bin/install_multus-$commit" "$mnt/usr/src/multus-cni/bin/install_multus"
    install -m 0755 "$CACHE/bin/passthru-$commit" "$mnt/usr/src/multus-cni/bin/passthru"
    bh umount "$c" >/dev/null
    bh config --entrypoint '["/usr/src/multus-cni/bin/multus-daemon"]' --cmd '[]' --label io.multinet.local=multus "$c"
    bh commit --quiet --rm "$c" "$ref" >/dev/null
    push "$ref" "$key" "$file"
  fi
  echo "multus $ref $file"
}

debian_base() {
  local tar="$OUT/debian-$SUITE-minbase.tar"
  if [ ! -f "$tar" ]; then
    say "debian $SUITE minbase: mmdebstrap (from Debian's packages)"
    # mmdebstrap picks the output format from the file name: keep ".tar" at the end of the partial file.
    rm -f "$tar.partial.tar"
    mmdebstrap --quiet --variant=minbase --include=ca-certificates "$SUITE" "$tar.partial.tar" >&2 ||
      die "mmdebstrap $SUITE failed (see output above)"
    mv -f "$tar.partial.tar" "$tar"
  fi
  echo "$tar"
}

# base_image REFERENCE: a working container from the Debian base, CA bundle included; prints its name.
base_container() {
  local c base
  base=$(debian_base)
  c=$(bh from scratch)
  bh add "$c" "$base" / >/dev/null
  bh copy "$c" "$CA_BUNDLE" /etc/ssl/certs/ca-certificates.crt >/dev/null
  bh config --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --cmd '["/bin/bash"]' "$c"
  echo "$c"
}

node_base() {
  local node="$ROOT/node_modules/node/bin/node" version npm_version key ref
  [ -x "$node" ] || die "$node is missing: run npm ci first"
  version=$("$node" --version)
  npm_version=$(npm --version)
  key=$( (echo "$version $npm_version $SUITE"; cat "$CA_BUNDLE") | key_of)
  ref="localhost/multinet/node-base:$key"
  if ! bh inspect --type image "$ref" >/dev/null 2>&1; then
    say "node base image: Debian $SUITE + Node $version + npm $npm_version"
    local c mnt pack
    pack=$(mktemp -d)
    (cd "$pack" && npm pack --silent "npm@$npm_version" >/dev/null) || die "npm pack npm@$npm_version failed"
    c=$(base_container)
    mnt=$(bh mount "$c")
    install -D -m 0755 "$node" "$mnt/usr/local/bin/node"
    # The npm package's binary carries debug info (about 18 MB): not needed to run it.
    if command -v strip >/dev/null 2>&1; then strip "$mnt/usr/local/bin/node"; fi
    mkdir -p "$mnt/usr/local/lib/node_modules/npm"
    tar xzf "$pack"/npm-*.tgz -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1
    ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
    ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
    rm -rf "$pack"
    bh umount "$c" >/dev/null
    bh commit --quiet --rm "$c" "$ref" >/dev/null
  fi
  echo "$ref"
}

go_base() {
  local goroot version key ref
  command -v go >/dev/null 2>&1 || die "Go is not installed (the shim's build stage needs it): install Go >= 1.26"
  goroot=$(go env GOROOT)
  version=$(go env GOVERSION)
  key=$( (echo "$version $SUITE"; cat "$CA_BUNDLE") | key_of)
  ref="localhost/multinet/go-base:$key"
  if ! bh inspect --type image "$ref" >/dev/null 2>&1; then
    say "go base image: Debian $SUITE + the host's $version"
    local c mnt
    c=$(base_container)
    mnt=$(bh mount "$c")
    mkdir -p "$mnt/usr/local/go"
    cp -a "$goroot/." "$mnt/usr/local/go/"
    bh umount "$c" >/dev/null
    bh config --env PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      --env GOTOOLCHAIN=local "$c"
    bh commit --quiet --rm "$c" "$ref" >/dev/null
  fi
  echo "$ref"
}

# What the Dockerfile builds from: every file it may COPY, in this checkout.
multinet_inputs_key() {
  (cd "$ROOT" && find Dockerfile package.json package-lock.json tsconfig.json tsconfig.build.json \
    lib platform cni spawner agent controllers webhooks cli cmd scripts \
    -type f ! -name '*.test.ts' -print0 2>/dev/null | sort -z | xargs -0 sha256sum) | key_of
}

image_multinet() {
  local nodeimg goimg key file ref start=$SECONDS
  nodeimg=$(node_base)
  goimg=$(go_base)
  key=$( (multinet_inputs_key; echo "$nodeimg $goimg") | key_of)
  ref="multinet.local/multinet:$key"
  file=$(layout_path multinet "$key")
  if [ ! -f "$file/index.json" ]; then
    say "multinet: buildah bud of the Dockerfile (NODE_IMAGE=$nodeimg GO_IMAGE=$goimg)"
    bh bud --quiet --isolation chroot --network host --layers=false --pull-never \
      --build-arg "NODE_IMAGE=$nodeimg" --build-arg "GO_IMAGE=$goimg" \
      -t "$ref" -f "$ROOT/Dockerfile" "$ROOT" >&2 || die "buildah bud of the Dockerfile failed (see output above)"
    push "$ref" "$key" "$file"
    say "multinet: built in $((SECONDS - start)) s, $(du -sh "$file" | cut -f1) compressed"
    prune_multinet "$key"
  fi
  echo "multinet $ref $file"
}

# Keeps the newest multinet images (this one and the two before) and any built in the last hour, in the
# layouts and buildah's storage: checkouts sharing the cache (worktrees, a `multinet dev node` left
# running) may each serve their own image to a node, and an image must not vanish under a pull.
prune_multinet() {
  local keep=$1 old dir ref
  old=$(ls -1dt "$OUT"/oci/multinet-* 2>/dev/null | grep -v -e "multinet-$keep\$" | tail -n +3 || true)
  for dir in $old; do
    if [ -n "$(find "$dir" -maxdepth 0 -mmin +60)" ]; then rm -rf "$dir"; fi
  done
  for ref in $(bh images --format '{{.Name}}:{{.Tag}}' 2>/dev/null | grep -e '^multinet.local/multinet:' -e '^localhost/multinet/multinet:' || true); do
    [ -d "$OUT/oci/multinet-${ref##*:}" ] || bh rmi --force "$ref" >/dev/null 2>&1 || true
  done
  bh rm --all >/dev/null 2>&1 || true
  bh rmi --prune >/dev/null 2>&1 || true
}

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(pause alpine multinet)
for part in "${parts[@]}"; do
  case "$part" in
  pause | alpine | multinet | whereabouts | multus) "image_$part" ;;
  *) die "unknown image $part (pause, alpine, multinet, whereabouts, multus)" ;;
  esac
done
