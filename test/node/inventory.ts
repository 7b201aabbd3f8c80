/**
 * What a local Kubernetes node (or the multi-node cluster) may leave on the host, listed so that a test can
 * compare before and after: its processes (every one has the run dir in its command line, or lives in its
 * cgroups), cgroups, mounts, pod network namespaces and the harness's own, links, the sysctls the kubelet
 * sets, the fixed host dirs, the mountpoint dirs a cluster's nodes bind over, temp dirs and the machine's
 * node lock.
 */
import { parseMountinfo } from '../../dev/node/mountinfo.ts';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixedHostDirs, kubeletSysctls } from '../../dev/node/host-state.ts';
import { nodePrivateDirs } from '../../dev/cluster/cluster-node.ts';
import { lockFile } from '../../dev/node/machine-lock.ts';
import { eventually } from '../../dev/eventually.ts';

export interface HostInventory {
  readonly processes: string[];
  readonly cgroups: string[];
  readonly mounts: string[];
  readonly netns: string[];
  /** The harness's own network namespaces (the single node's API gateway's, the cluster's lab and nodes). */
  readonly harnessNetns: string[];
  readonly links: string[];
  readonly sysctls: Record<string, string>;
  readonly fixedDirs: Record<string, string[] | null>;
  /** Which of the paths a cluster's nodes bind over exist on the host. */
  readonly mountpointDirs: string[];
  readonly tempDirs: string[];
  readonly lock: boolean;
}

const runDirMark = '/multinet-node-';

function list(dir: string): string[] | null {
  try {
    return readdirSync(dir).sort();
  } catch {
    return null;
  }
}

function processCommandLine(pid: string): string | undefined {
  try {
    return readFileSync(join('/proc', pid, 'cmdline'), 'utf8')
      .replace(/\0/g, ' ')
      .trim();
  } catch {
    return undefined; // gone meanwhile
  }
}

export function hostInventory(): HostInventory {
  const processes: string[] = [];
  for (const pid of list('/proc') ?? []) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = processCommandLine(pid);
    if (cmdline === undefined) continue;
    // The test runner's own command line mentions no run dir; node components all do.
    if (cmdline.includes(runDirMark) && !cmdline.includes('jest'))
      processes.push(`${pid} ${cmdline.slice(0, 160)}`);
  }
  const cgroups: string[] = [];
  for (const hierarchy of list('/sys/fs/cgroup') ?? []) {
    for (const name of list(join('/sys/fs/cgroup', hierarchy)) ?? []) {
      if (name.startsWith('multinet-node-')) cgroups.push(`${hierarchy}/${name}`);
    }
  }
  const mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'))
    .map((m) => m.mountPoint)
    .filter((point) => point.includes(runDirMark) || point.startsWith('/run/netns/cni-'));
  const netns = (list('/run/netns') ?? []).filter((n) => n.startsWith('cni-'));
  const harnessNetns = (list('/run/netns') ?? []).filter((n) => /^mn[0-9a-f]{6}/.test(n));
  const links = execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '')
    .filter((name) => /^mn[0-9a-f]{6}(br|m0|m1)$/.test(name));
  const sysctls: Record<string, string> = {};
  for (const key of kubeletSysctls) {
    try {
      sysctls[key] = readFileSync(join('/proc/sys', key), 'utf8').trim();
    } catch {
      // not on this kernel
    }
  }
  const fixedDirs: Record<string, string[] | null> = {};
  for (const dir of fixedHostDirs) fixedDirs[dir] = list(dir);
  const tempDirs = (list(tmpdir()) ?? []).filter((d) => d.startsWith('multinet-node-'));
  return {
    processes,
    cgroups,
    mounts,
    netns,
    harnessNetns,
    links,
    sysctls,
    fixedDirs,
    mountpointDirs: nodePrivateDirs.filter((d) => existsSync(d)),
    tempDirs,
    lock: existsSync(lockFile),
  };
}

/** The inventory after a node stopped, once the kernel has torn down what it does asynchronously. */
export async function settledInventory(expected: HostInventory, timeoutMs = 10_000): Promise<HostInventory> {
  const settled = (): boolean => JSON.stringify(hostInventory()) === JSON.stringify(expected);
  await eventually('the host inventory to settle', settled, timeoutMs).catch(() => undefined);
  return hostInventory();
}
