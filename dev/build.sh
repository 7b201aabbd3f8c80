#!/usr/bin/env bash
# Builds the real control-plane binaries that multinet's tests and playground run against:
# kube-apiserver and kubectl (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3) and helm
# (helm.sh/helm/v4), from Go modules through the Go module proxy, into a cache outside the repo,
# keyed by version. A binary already in the cache is reused.
#
# Usage: dev/build.sh [--print-dir]
#   MULTINET_CACHE   cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/multinet)
# Prints progress on stderr; with --print-dir prints the bin dir on stdout at the end.
set -euo pipefail

KUBE_VERSION="${MULTINET_KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${MULTINET_ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${MULTINET_HELM_VERSION:-v4.3.1}"

CACHE="${MULTINET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multinet}"
BIN="$CACHE/bin"
WORK="$CACHE/build"

say() { printf '[controlplane/build] %s\n' "$*" >&2; }
die() { printf '[controlplane/build] ERROR: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go >= 1.26 (https://go.dev/doc/install or apt-get install golang-go) and re-run"
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 26 ] 2>/dev/null || die "Go $(go env GOVERSION) is too old: k8s.io/kubernetes $KUBE_VERSION needs Go >= 1.26"

mkdir -p "$BIN" "$WORK"
# One build at a time per cache (a jest run and `multinet dev cluster` may both start one).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.build.lock"
  flock -n 9 || { say "another build holds $CACHE/.build.lock; waiting for it"; flock 9; }
fi
export GOFLAGS="${GOFLAGS:-} -buildvcs=false -trimpath"
export CGO_ENABLED=0

# install_bin NAME VERSION BUILT_PATH: atomically place a built binary at $BIN/NAME-VERSION.
install_bin() {
  local name=$1 version=$2 built=$3
  chmod 0755 "$built"
  mv -f "$built" "$BIN/$name-$version"
}

have() { [ -x "$BIN/$1-$2" ]; }

build_kube() {
  if have kube-apiserver "$KUBE_VERSION" && have kubectl "$KUBE_VERSION"; then
    say "kube-apiserver and kubectl $KUBE_VERSION: cached"
    return
  fi
  local dir="$WORK/kubernetes-$KUBE_VERSION" start=$SECONDS
  mkdir -p "$dir"
  say "kube-apiserver $KUBE_VERSION: resolving k8s.io/kubernetes' staging modules"
  local modfile
  modfile=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [ -f "$modfile" ] || die "go mod download k8s.io/kubernetes@$KUBE_VERSION gave no go.mod"
  local staging_version="v0.${KUBE_VERSION#v1.}"
  {
    echo "module multinet.local/kube-wrapper"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    # Every "k8s.io/x => ./staging/src/k8s.io/x" becomes the published module at the matching v0 version.
    sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\1#p' "$modfile" |
      while read -r m; do echo "	$m => $m $staging_version"; done
    echo ")"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubernetes/cmd/kubelet/app"
	_ "k8s.io/kubectl/pkg/cmd"
)
EOF
  say "kube-apiserver $KUBE_VERSION: go mod tidy (downloads the dependencies on first use)"
  (cd "$dir" && go mod tidy >&2) || die "go mod tidy for k8s.io/kubernetes $KUBE_VERSION failed (see output above)"
  local minor=${staging_version#v0.}
  minor=${minor%%.*}
  local pkg ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  say "kube-apiserver $KUBE_VERSION: compiling (several minutes on a cold cache)"
  (cd "$dir" && go build -ldflags "-s -w$ldflags" -o "$dir/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver) ||
    die "go build k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION failed (see output above)"
  install_bin kube-apiserver "$KUBE_VERSION" "$dir/kube-apiserver.tmp"
  say "kubectl $KUBE_VERSION: compiling"
  (cd "$dir" && go build -ldflags "-s -w$ldflags" -o "$dir/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl) ||
    die "go build k8s.io/kubernetes/cmd/kubectl@$KUBE_VERSION failed (see output above)"
  install_bin kubectl "$KUBE_VERSION" "$dir/kubectl.tmp"
  say "kube-apiserver and kubectl $KUBE_VERSION: built in $((SECONDS - start)) s"
}

build_etcd() {
  if have etcd "$ETCD_VERSION"; then
    say "etcd $ETCD_VERSION: cached"
    return
  fi
  local dir="$WORK/etcd-$ETCD_VERSION" start=$SECONDS
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<EOF
module multinet.local/etcd-wrapper

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  cat >"$dir/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3/etcdmain"
EOF
  say "etcd $ETCD_VERSION: go mod tidy"
  (cd "$dir" && go mod tidy >&2) || die "go mod tidy for go.etcd.io/etcd/server/v3@$ETCD_VERSION failed (see output above)"
  say "etcd $ETCD_VERSION: compiling"
  (cd "$dir" && go build -ldflags "-s -w" -o "$dir/etcd.tmp" go.etcd.io/etcd/server/v3) ||
    die "go build go.etcd.io/etcd/server/v3@$ETCD_VERSION failed (see output above)"
  install_bin etcd "$ETCD_VERSION" "$dir/etcd.tmp"
  say "etcd $ETCD_VERSION: built in $((SECONDS - start)) s"
}

build_helm() {
  if have helm "$HELM_VERSION"; then
    say "helm $HELM_VERSION: cached"
    return
  fi
  local dir="$WORK/helm-$HELM_VERSION" start=$SECONDS
  mkdir -p "$dir"
  say "helm $HELM_VERSION: go install"
  (cd "$dir" && GOBIN="$dir" go install -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2) ||
    die "go install helm.sh/helm/v4/cmd/helm@$HELM_VERSION failed (see output above)"
  mv -f "$dir/helm" "$dir/helm.tmp"
  install_bin helm "$HELM_VERSION" "$dir/helm.tmp"
  say "helm $HELM_VERSION: built in $((SECONDS - start)) s"
}

only="${MULTINET_BUILD_ONLY:-etcd kube helm}"
for part in $only; do "build_$part"; done

# Stable names for the harness: symlinks to the versioned binaries.
for pair in "kube-apiserver:$KUBE_VERSION" "kubectl:$KUBE_VERSION" "etcd:$ETCD_VERSION" "helm:$HELM_VERSION"; do
  name=${pair%%:*} version=${pair#*:}
  if have "$name" "$version"; then ln -sfn "$name-$version" "$BIN/$name.tmp" && mv -Tf "$BIN/$name.tmp" "$BIN/$name"; fi
done
say "binaries in $BIN ($(du -sh "$CACHE" 2>/dev/null | cut -f1) cache incl. build dirs)"
if [ "${1:-}" = "--print-dir" ]; then echo "$BIN"; fi
