#!/bin/sh
# The mount namespace of one node of the multi-node cluster, as if it were its own machine. Run as
#   nsenter --net=/run/netns/NODE unshare --mount --propagation private -- sh node-mounts.sh READY ROOT PATH...
# (dev/cluster/cluster-node.ts does): it mounts a sysfs of the node's network namespace (with the host's
# cgroups on it, which the kubelet and runc need), drops the host's /run/netns from view, binds
# ROOT/PATH over each PATH (the node's private /etc/cni/net.d, /var/lib/kubelet, /run/containerd, ...),
# makes everything shared inside the node (pods' HostToContainer mounts need that), writes READY and then
# holds the namespace: containerd and the kubelet enter it with `nsenter --target <this pid> --mount --net`.
# Killing this process and what entered after it ends the namespace and every mount made in it.
set -eu
ready=$1 root=$2
shift 2

stash=$(mktemp -d /tmp/multinet-node-sysfs.XXXXXX)
mount --rbind /sys/fs/cgroup "$stash"
mount -t sysfs sysfs /sys
mount --rbind "$stash" /sys/fs/cgroup
umount -l "$stash"
rmdir "$stash"

# The host's pinned network namespaces are none of this node's business (and would stay pinned by it).
if mountpoint -q /run/netns; then umount -l /run/netns; fi

for path in "$@"; do
  mount --bind "$root$path" "$path"
done

mount --make-rshared /
echo "$$" >"$ready.tmp"
mv "$ready.tmp" "$ready"
exec sleep infinity
