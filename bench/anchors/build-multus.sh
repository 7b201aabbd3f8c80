#!/usr/bin/env bash
# Builds the anchor multinet is measured against: Multus CNI's thick plugin (multus-shim and
# multus-daemon) from the source tarball in shared/anchors (its module is not on the Go module
# proxy; its dependencies are). Nothing of Multus is committed: the source is extracted into the
# cache and the binaries are cached by commit, like dev/build.sh caches the control plane.
#
# Usage: bench/anchors/build-multus.sh [--print-dir]
#   MULTINET_CACHE     cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/multinet)
#   MULTINET_ANCHORS   dir holding multus-cni-<commit>.tar.gz (default: <repo>/../shared/anchors)
# Installs $CACHE/bin/multus-shim-<commit> and $CACHE/bin/multus-daemon-<commit>, and the two binaries
# Multus' DaemonSet manifest also runs (its install_multus init container copies multus-shim and passthru
# onto the node): install_multus-<commit> and passthru-<commit>, for its image (dev/images/build.sh multus).
# Prints progress on stderr and, with --print-dir, the bin dir on stdout at the end.
set -euo pipefail

COMMIT=95a0932
NAME="multus-cni-$COMMIT"
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
ANCHORS="${MULTINET_ANCHORS:-$REPO/../shared/anchors}"
TARBALL="$ANCHORS/$NAME.tar.gz"
CACHE="${MULTINET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multinet}"
BIN="$CACHE/bin"
WORK="$CACHE/build"

say() { printf '[multus/build] %s\n' "$*" >&2; }
die() { printf '[multus/build] ERROR: %s\n' "$*" >&2; exit 1; }

# Each binary and the package it is built from.
CMDS=(multus-shim:multus-shim multus-daemon:multus-daemon install_multus:install_multus passthru:passthru-cni)
have() {
  local entry
  for entry in "${CMDS[@]}"; do [ -x "$BIN/${entry%%:*}-$COMMIT" ] || return 1; done
}
done_() {
  if [ "${1:-}" = "--print-dir" ]; then echo "$BIN"; fi
  exit 0
}

if have; then
  say "multus-shim, multus-daemon, install_multus and passthru $COMMIT: cached in $BIN"
  done_ "$@"
fi

[ -f "$TARBALL" ] || die "the Multus source $TARBALL is missing: set MULTINET_ANCHORS to the dir holding $NAME.tar.gz (shared/anchors beside the repository)"
command -v go >/dev/null 2>&1 || die "Go is not installed: install Go >= 1.24 (apt-get install golang-go) and re-run"
command -v tar >/dev/null 2>&1 || die "tar is not installed: apt-get install tar"

mkdir -p "$BIN" "$WORK"
# One Multus build at a time per cache (CI, a bench and a test may all start one). A lock of its
# own, so it does not queue behind a long control-plane build.
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.multus-build.lock"
  flock -n 9 || { say "another build holds $CACHE/.multus-build.lock; waiting for it"; flock 9; }
  if have; then
    say "multus-shim, multus-daemon, install_multus and passthru $COMMIT: built by the holder of the lock"
    done_ "$@"
  fi
fi

start=$SECONDS
src="$WORK/$NAME"
# A fresh extraction every build: a half-extracted tree from an interrupted run is never reused.
rm -rf "$src" "$src.tmp"
mkdir -p "$src.tmp"
tar xzf "$TARBALL" -C "$src.tmp" || die "cannot extract $TARBALL"
[ -f "$src.tmp/$NAME/go.mod" ] || die "$TARBALL does not hold $NAME/go.mod"
mv "$src.tmp/$NAME" "$src"
rmdir "$src.tmp"

export GOFLAGS="${GOFLAGS:-} -buildvcs=false -trimpath"
export CGO_ENABLED=0
for entry in "${CMDS[@]}"; do
  cmd=${entry%%:*} pkg=${entry#*:}
  say "$cmd $COMMIT: compiling (about a minute per binary on a cold build cache)"
  (cd "$src" && go build -o "$src/$cmd.tmp" "./cmd/$pkg") ||
    die "go build ./cmd/$pkg of $NAME failed (see output above; its dependencies come from the Go module proxy)"
done
# Install them only when all built: a cache with some of them would skip the others' build.
for entry in "${CMDS[@]}"; do
  cmd=${entry%%:*}
  chmod 0755 "$src/$cmd.tmp"
  mv -f "$src/$cmd.tmp" "$BIN/$cmd-$COMMIT"
done
say "multus-shim, multus-daemon, install_multus and passthru $COMMIT: built in $((SECONDS - start)) s into $BIN"
done_ "$@"
