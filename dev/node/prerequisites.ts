/**
 * What this machine needs to host the local Kubernetes node, checked before anything starts: each
 * missing piece is reported with the way to get it. Everything environment-derived is passed in.
 */
import { readFile } from 'node:fs/promises';
import { findExecutable } from '../../platform/nodejs/which.ts';
import { cgroupLayout, type CgroupLayout } from './cgroups.ts';

export interface HostFacts {
  /** The effective user id (the entry point's process.getuid()). */
  readonly uid: number | undefined;
  readonly path: string | undefined;
}

export interface NodeHost {
  readonly cgroups: Extract<CgroupLayout, { kind: 'v1' }>;
  readonly runc: string;
  readonly snapshotter: 'overlayfs' | 'native';
  readonly tools: { readonly ip: string; readonly nsenter: string; readonly umount: string };
}

export type HostCheck =
  { readonly ok: true; readonly host: NodeHost } | { readonly ok: false; readonly missing: string[] };

/** Checks root, runc, the cgroup layout and the tools the node needs. */
export async function checkNodeHost(facts: HostFacts): Promise<HostCheck> {
  const missing: string[] = [];
  if (facts.uid !== 0)
    missing.push('root: the kubelet, containerd and runc need it (run as root, or with sudo)');
  const tool = (name: string, fix: string): string => {
    const found = findExecutable(name, facts.path);
    if (!found) missing.push(`${name} (${fix})`);
    return found ?? name;
  };
  const runc = tool('runc', 'apt-get install -y runc: containerd runs containers with it');
  const ip = tool('ip', 'apt-get install -y iproute2');
  const nsenter = tool('nsenter', 'apt-get install -y util-linux');
  const umount = tool('umount', 'apt-get install -y mount');
  tool('buildah', "apt-get install -y buildah: builds the node's images without a registry");
  tool('mmdebstrap', "apt-get install -y mmdebstrap: the base of multinet's image");
  const layout = cgroupLayout(await readFile('/proc/self/mountinfo', 'utf8').catch(() => ''));
  if (layout.kind === 'unsupported') missing.push(`a cgroup layout the node can use: ${layout.reason}`);
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (missing.length > 0 || layout.kind !== 'v1') return { ok: false, missing };
  return {
    ok: true,
    host: {
      cgroups: layout,
      runc,
      snapshotter: /\toverlay$/m.test(filesystems) ? 'overlayfs' : 'native',
      tools: { ip, nsenter, umount },
    },
  };
}
