#!/usr/bin/env bash
# Builds the real Kubernetes parts that multinet's tests, `multinet dev` and the playground run, from Go
# modules through the Go module proxy, into a cache outside the repo, keyed by version. A binary already
# in the cache is reused.
#   control plane: kube-apiserver, kubectl (k8s.io/kubernetes), etcd (go.etcd.io/etcd/server/v3),
#                  helm (helm.sh/helm/v4)
#   node:          kubelet, kube-controller-manager, kube-scheduler (k8s.io/kubernetes); containerd v2
#                  with its runc shim and ctr (github.com/containerd/containerd/v2, without cgo); the CNI
#                  reference plugins (github.com/containernetworking/plugins); the Flannel CNI plugin
#                  (from the anchor tarball, its module is not served by the proxy: built only where that
#                  is at hand, for `--default-network flannel`); the pause program
#                  of the node's sandbox image (dev/images/pause), the pods' way to the API server
#                  (dev/node/api-gateway), and the node's stand-in VFs: their device plugin
#                  (dev/node/vf-device-plugin, k8s.io/kubelet's deviceplugin API) and CNI plugin
#                  (dev/node/vf-cni). runc comes from Debian (it needs cgo).
#   cluster-wide IPAM: whereabouts' CNI plugin and its reconciler (ip-control-loop), with the CRDs and the
#                  RBAC its users apply (github.com/k8snetworkplumbingwg/whereabouts)
#
# Usage: dev/build.sh [--print-dir]
#   MULTINET_CACHE       cache root (default: ${XDG_CACHE_HOME:-$HOME/.cache}/multinet)
#   MULTINET_BUILD_ONLY  the parts to build (default: all of them, in this order):
#                        etcd kube helm node containerd cni flannel whereabouts pause gateway vfplugin vfcni
#   MULTINET_ANCHORS     the folder with flannel-cni-plugin-<commit>.tar.gz (default: ../shared/anchors)
# Prints progress on stderr; with --print-dir prints the bin dir on stdout at the end.
set -euo pipefail

KUBE_VERSION="${MULTINET_KUBE_VERSION:-v1.37.2}"
ETCD_VERSION="${MULTINET_ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${MULTINET_HELM_VERSION:-v4.3.1}"
CONTAINERD_VERSION="${MULTINET_CONTAINERD_VERSION:-v2.4.2}"
CNI_PLUGINS_VERSION="${MULTINET_CNI_PLUGINS_VERSION:-v1.10.0}"
FLANNEL_COMMIT="${MULTINET_FLANNEL_COMMIT:-092e6d2}"
WHEREABOUTS_VERSION="${MULTINET_WHEREABOUTS_VERSION:-v0.9.2}"

HERE="$(cd "$(dirname "$0")" && pwd)"
ANCHORS="${MULTINET_ANCHORS:-$HERE/../../shared/anchors}"
CACHE="${MULTINET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/multinet}"
BIN="$CACHE/bin"
WORK="$CACHE/build"

say() { printf '[dev/build] %s\n' "$*" >&2; }
die() { printf '[dev/build] ERROR: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed: install Go >= 1.26 (https://go.dev/doc/install or apt-get install golang-go) and re-run"
go_minor=$(go env GOVERSION | sed -E 's/^go1\.([0-9]+).*/\1/')
[ "${go_minor:-0}" -ge 26 ] 2>/dev/null || die "Go $(go env GOVERSION) is too old: k8s.io/kubernetes $KUBE_VERSION needs Go >= 1.26"

mkdir -p "$BIN" "$WORK"
# One build at a time per cache (a jest run and `multinet dev` may both start one).
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
have_dir() { [ -d "$BIN/$1-$2" ]; }

# go_install DIR PACKAGE@VERSION... [-- GO FLAGS]: `go install` into DIR (GOBIN), run from DIR.
go_install() {
  local dir=$1
  shift
  (cd "$dir" && GOBIN="$dir" go install "$@" >&2)
}

# The wrapper module over k8s.io/kubernetes: its staging modules replaced by the published v0 versions.
kube_wrapper() {
  local dir=$1 staging_version="v0.${KUBE_VERSION#v1.}"
  if [ -f "$dir/go.sum" ] && grep -q kubelet "$dir/tools.go" 2>/dev/null; then return 0; fi
  mkdir -p "$dir"
  say "k8s.io/kubernetes $KUBE_VERSION: resolving its staging modules"
  local modfile
  modfile=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [ -f "$modfile" ] || die "go mod download k8s.io/kubernetes@$KUBE_VERSION gave no go.mod"
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
	_ "k8s.io/kubectl/pkg/cmd"
	_ "k8s.io/kubernetes/cmd/kube-apiserver/app"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	_ "k8s.io/kubernetes/cmd/kube-scheduler/app"
	_ "k8s.io/kubernetes/cmd/kubelet/app"
)
EOF
  say "k8s.io/kubernetes $KUBE_VERSION: go mod tidy (downloads the dependencies on first use)"
  (cd "$dir" && go mod tidy >&2) || die "go mod tidy for k8s.io/kubernetes $KUBE_VERSION failed (see output above)"
}

# kube_binaries NAME...: builds the named k8s.io/kubernetes commands that are not cached yet.
kube_binaries() {
  local dir="$WORK/kubernetes-$KUBE_VERSION" todo=() name
  for name in "$@"; do have "$name" "$KUBE_VERSION" || todo+=("$name"); done
  if [ ${#todo[@]} -eq 0 ]; then
    say "$* $KUBE_VERSION: cached"
    return
  fi
  kube_wrapper "$dir"
  local staging_version="v0.${KUBE_VERSION#v1.}" minor pkg ldflags=""
  minor=${staging_version#v0.}
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for name in "${todo[@]}"; do
    local start=$SECONDS
    say "$name $KUBE_VERSION: compiling (minutes on a cold cache)"
    (cd "$dir" && go build -ldflags "-s -w$ldflags" -o "$dir/$name.tmp" "k8s.io/kubernetes/cmd/$name") ||
      die "go build k8s.io/kubernetes/cmd/$name@$KUBE_VERSION failed (see output above)"
    install_bin "$name" "$KUBE_VERSION" "$dir/$name.tmp"
    say "$name $KUBE_VERSION: built in $((SECONDS - start)) s"
  done
}

build_kube() { kube_binaries kube-apiserver kubectl; }
build_node() { kube_binaries kubelet kube-controller-manager kube-scheduler; }

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
  go_install "$dir" -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" ||
    die "go install helm.sh/helm/v4/cmd/helm@$HELM_VERSION failed (see output above)"
  mv -f "$dir/helm" "$dir/helm.tmp"
  install_bin helm "$HELM_VERSION" "$dir/helm.tmp"
  say "helm $HELM_VERSION: built in $((SECONDS - start)) s"
}

build_containerd() {
  if have containerd "$CONTAINERD_VERSION" && have containerd-shim-runc-v2 "$CONTAINERD_VERSION" && have ctr "$CONTAINERD_VERSION"; then
    say "containerd $CONTAINERD_VERSION: cached"
    return
  fi
  local dir="$WORK/containerd-$CONTAINERD_VERSION" start=$SECONDS name m=github.com/containerd/containerd/v2
  rm -rf "$dir" && mkdir -p "$dir"
  say "containerd $CONTAINERD_VERSION: go install (no cgo: without the btrfs, devmapper and zfs snapshotters)"
  go_install "$dir" -tags "no_btrfs no_devmapper no_zfs" \
    -ldflags "-s -w -X $m/version.Version=$CONTAINERD_VERSION -X $m/version.Revision=multinet" \
    "$m/cmd/containerd@$CONTAINERD_VERSION" "$m/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" "$m/cmd/ctr@$CONTAINERD_VERSION" ||
    die "go install github.com/containerd/containerd/v2@$CONTAINERD_VERSION failed (see output above)"
  for name in containerd containerd-shim-runc-v2 ctr; do
    mv -f "$dir/$name" "$dir/$name.tmp"
    install_bin "$name" "$CONTAINERD_VERSION" "$dir/$name.tmp"
  done
  say "containerd $CONTAINERD_VERSION: built in $((SECONDS - start)) s"
}

CNI_PLUGINS="main/bridge main/macvlan main/ipvlan main/host-device main/ptp main/vlan main/loopback
  main/dummy main/tap ipam/host-local ipam/static ipam/dhcp meta/tuning meta/portmap meta/bandwidth
  meta/firewall meta/sbr meta/vrf"

build_cni() {
  if have_dir cni-plugins "$CNI_PLUGINS_VERSION"; then
    say "CNI plugins $CNI_PLUGINS_VERSION: cached"
    return
  fi
  local dir="$WORK/cni-plugins-$CNI_PLUGINS_VERSION" start=$SECONDS p pkgs=() out="$BIN/cni-plugins-$CNI_PLUGINS_VERSION"
  rm -rf "$dir" && mkdir -p "$dir"
  for p in $CNI_PLUGINS; do pkgs+=("github.com/containernetworking/plugins/plugins/$p@$CNI_PLUGINS_VERSION"); done
  say "CNI plugins $CNI_PLUGINS_VERSION: go install (${#pkgs[@]} plugins)"
  go_install "$dir" -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" "${pkgs[@]}" ||
    die "go install github.com/containernetworking/plugins@$CNI_PLUGINS_VERSION failed (see output above)"
  rm -rf "$out.tmp" && mkdir "$out.tmp"
  for p in $CNI_PLUGINS; do mv "$dir/${p#*/}" "$out.tmp/"; done
  mv -T "$out.tmp" "$out"
  say "CNI plugins $CNI_PLUGINS_VERSION: built in $((SECONDS - start)) s"
}

build_flannel() {
  if have flannel "$FLANNEL_COMMIT"; then
    say "flannel CNI plugin $FLANNEL_COMMIT: cached"
    return
  fi
  local tarball="$ANCHORS/flannel-cni-plugin-$FLANNEL_COMMIT.tar.gz" dir="$WORK/flannel-$FLANNEL_COMMIT" start=$SECONDS
  if [ ! -f "$tarball" ]; then
    # An option where its source is at hand, never a requirement: only a request for it by name fails.
    case " ${MULTINET_BUILD_ONLY:-} " in
    *" flannel "*) die "the Flannel CNI plugin's source $tarball is missing (its module is not served by the Go module proxy; set MULTINET_ANCHORS to the folder that holds it)" ;;
    esac
    say "flannel CNI plugin $FLANNEL_COMMIT: skipped, its source is not at hand ($tarball; only --default-network flannel needs it)"
    return
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  tar xzf "$tarball" -C "$dir"
  say "flannel CNI plugin $FLANNEL_COMMIT: compiling"
  (cd "$dir"/flannel-cni-plugin-* && go build -ldflags "-s -w" -o "$dir/flannel.tmp" . >&2) ||
    die "go build of the Flannel CNI plugin failed (see output above)"
  install_bin flannel "$FLANNEL_COMMIT" "$dir/flannel.tmp"
  rm -rf "$dir"
  say "flannel CNI plugin $FLANNEL_COMMIT: built in $((SECONDS - start)) s"
}

# whereabouts, as its users install it: the plugin, the reconciler, and beside them its manifests (CRDs, the
# DaemonSet with its RBAC) and the scripts its image runs (dev/images/build.sh makes that image).
build_whereabouts() {
  local files="whereabouts-files"
  if have whereabouts "$WHEREABOUTS_VERSION" && have ip-control-loop "$WHEREABOUTS_VERSION" && have_dir "$files" "$WHEREABOUTS_VERSION"; then
    say "whereabouts $WHEREABOUTS_VERSION: cached"
    return
  fi
  local dir="$WORK/whereabouts-$WHEREABOUTS_VERSION" start=$SECONDS m=github.com/k8snetworkplumbingwg/whereabouts
  rm -rf "$dir" && mkdir -p "$dir"
  # A wrapper module: whereabouts' go.mod has a replace directive, which `go install m@v` refuses.
  printf 'module multinet.local/whereabouts-wrapper\n\ngo 1.26.0\n\nrequire %s %s\n\nreplace github.com/gogo/protobuf => github.com/gogo/protobuf v1.3.2\n' \
    "$m" "$WHEREABOUTS_VERSION" >"$dir/go.mod"
  say "whereabouts $WHEREABOUTS_VERSION: resolving and compiling"
  (cd "$dir" && go get "$m/cmd@$WHEREABOUTS_VERSION" "$m/cmd/controlloop@$WHEREABOUTS_VERSION" >&2 &&
    go build -ldflags "-s -w" -o "$dir/whereabouts.tmp" "$m/cmd" >&2 &&
    go build -ldflags "-s -w" -o "$dir/ip-control-loop.tmp" "$m/cmd/controlloop" >&2) ||
    die "go build of $m@$WHEREABOUTS_VERSION failed (see output above)"
  local src out="$BIN/$files-$WHEREABOUTS_VERSION"
  src=$(cd "$dir" && go list -m -f '{{.Dir}}' "$m") || die "cannot find the source of $m"
  rm -rf "$out.tmp" && mkdir "$out.tmp"
  cp "$src"/doc/crds/whereabouts.cni.cncf.io_*.yaml "$src"/doc/crds/daemonset-install.yaml \
    "$src"/script/install-cni.sh "$src"/script/lib.sh "$src"/script/token-watcher.sh "$out.tmp/"
  install_bin whereabouts "$WHEREABOUTS_VERSION" "$dir/whereabouts.tmp"
  install_bin ip-control-loop "$WHEREABOUTS_VERSION" "$dir/ip-control-loop.tmp"
  mv -T "$out.tmp" "$out"
  say "whereabouts $WHEREABOUTS_VERSION: built in $((SECONDS - start)) s"
}

# The node's own small Go programs, built from this repository's sources and keyed by their content:
# pause (the sandbox image's program), api-gateway (pods' way to the API server on the host's loopback),
# and the stand-in VFs' device plugin and CNI plugin ("vf").
local_key() { cat "$1"/go.* "$1"/*.go | sha256sum | cut -c1-12; }
PAUSE_KEY=$(local_key "$HERE/images/pause")
GATEWAY_KEY=$(local_key "$HERE/node/api-gateway")
VFPLUGIN_KEY=$(local_key "$HERE/node/vf-device-plugin")
VFCNI_KEY=$(local_key "$HERE/node/vf-cni")
build_local() {
  local name=$1 src=$2 key=$3
  if have "$name" "$key"; then
    say "$name $key: cached"
    return
  fi
  say "$name $key: compiling"
  (cd "$src" && go vet . && go build -ldflags "-s -w" -o "$WORK/$name.tmp" . >&2) || die "go build of $src failed"
  install_bin "$name" "$key" "$WORK/$name.tmp"
}
build_pause() { build_local pause "$HERE/images/pause" "$PAUSE_KEY"; }
build_gateway() { build_local api-gateway "$HERE/node/api-gateway" "$GATEWAY_KEY"; }
build_vfplugin() { build_local vf-device-plugin "$HERE/node/vf-device-plugin" "$VFPLUGIN_KEY"; }
build_vfcni() { build_local vf-cni "$HERE/node/vf-cni" "$VFCNI_KEY"; }

only="${MULTINET_BUILD_ONLY:-etcd kube helm node containerd cni flannel whereabouts pause gateway vfplugin vfcni}"
for part in $only; do "build_$part"; done

# Stable names for the harness: symlinks to the versioned binaries and plugin dirs.
link() { ln -sfn "$2" "$BIN/$1.tmp" && mv -Tf "$BIN/$1.tmp" "$BIN/$1"; }
for pair in "kube-apiserver:$KUBE_VERSION" "kubectl:$KUBE_VERSION" "etcd:$ETCD_VERSION" "helm:$HELM_VERSION" \
  "kubelet:$KUBE_VERSION" "kube-controller-manager:$KUBE_VERSION" "kube-scheduler:$KUBE_VERSION" \
  "containerd:$CONTAINERD_VERSION" "containerd-shim-runc-v2:$CONTAINERD_VERSION" "ctr:$CONTAINERD_VERSION" \
  "flannel:$FLANNEL_COMMIT" "pause:$PAUSE_KEY" "api-gateway:$GATEWAY_KEY" "vf-device-plugin:$VFPLUGIN_KEY" \
  "vf-cni:$VFCNI_KEY" "whereabouts:$WHEREABOUTS_VERSION" "ip-control-loop:$WHEREABOUTS_VERSION"; do
  name=${pair%%:*} version=${pair#*:}
  if have "$name" "$version"; then link "$name" "$name-$version"; fi
done
if have_dir cni-plugins "$CNI_PLUGINS_VERSION"; then link cni-plugins "cni-plugins-$CNI_PLUGINS_VERSION"; fi
if have_dir whereabouts-files "$WHEREABOUTS_VERSION"; then link whereabouts-files "whereabouts-files-$WHEREABOUTS_VERSION"; fi
say "binaries in $BIN ($(du -sh "$CACHE" 2>/dev/null | cut -f1) cache incl. build dirs)"
if [ "${1:-}" = "--print-dir" ]; then echo "$BIN"; fi
