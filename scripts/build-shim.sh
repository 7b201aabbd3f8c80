#!/usr/bin/env bash
# Builds the CNI shim (cni/, Go, standard library only) as a static executable: dist/shim/multinet-cni,
# which the agent installs into the node's CNI bin dir, stamped with multinet's version (`multinet-cni
# --version`); rebuilt only when its sources or the version change.
exec bash "$(dirname "$0")/build-go.sh" cni multinet-cni dist/shim
