/**
 * What a kubelet and containerd change on the host outside the node's own run dir, recorded before the
 * node starts and put back when it stops: the sysctls the kubelet sets, the entries libcni, containerd
 * and the kubelet create in fixed host directories, the pod network namespaces in /run/netns, and every
 * mount below the run dir (the kubelet's self bind mount, volumes, container root filesystems).
 */
import { parseMountinfo } from './mountinfo.ts';
import { execFile } from 'node:child_process';
import { readdir, readFile, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The sysctls the node changes: those kubelet's container manager sets (pkg/kubelet/cm:
 * setupKernelTunables), and IPv4 forwarding, which the bridge plugin turns on for a gateway bridge.
 */
export const kubeletSysctls = [
  'net/ipv4/ip_forward',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

/**
 * Fixed host directories a node writes entries into whatever its configuration says: libcni's result
 * cache, host-local's default lease dir (NADs without a dataDir, as the seed's), the kubelet's container
 * log links, containerd's shim sockets, the kubelet's device manager socket (its path is fixed whatever
 * --root-dir says). Entries present before the node
 * started are kept; a directory the node created is removed, with the parents it created for it.
 */
export const fixedHostDirs = [
  // The kubelet's device plugin registration socket and checkpoint: fixed, whatever its --root-dir.
  '/var/lib/kubelet/device-plugins',
  '/var/lib/cni/results',
  '/var/lib/cni/networks',
  '/var/log/containers',
  '/var/log/pods',
  '/run/containerd',
  '/var/lib/kubelet/device-plugins',
];

/** Pod sandboxes' network namespaces that containerd's CRI creates (and pins) in /run/netns. */
const netnsDir = '/run/netns';
const criNetnsPattern = /^cni-[0-9a-f-]{36}$/;

async function listing(dir: string): Promise<Set<string> | undefined> {
  try {
    return new Set(await readdir(dir));
  } catch {
    return undefined;
  }
}

/** Mount points at or below `dir`, from /proc/self/mountinfo (octal escapes decoded), longest (so children) first. */
export function mountsBelow(mountinfo: string, dir: string): string[] {
  const points = parseMountinfo(mountinfo)
    .map((m) => m.mountPoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export interface HostSnapshot {
  readonly sysctls: ReadonlyMap<string, string>;
  /** Each fixed dir's entries before the node started, or the dirs (it and parents) that did not exist. */
  readonly dirs: ReadonlyMap<string, Set<string> | { readonly missing: readonly string[] }>;
  readonly netns: Set<string>;
}

/** `dir` and those of its parents that do not exist, innermost first. */
async function missingChain(dir: string): Promise<string[]> {
  const chain: string[] = [];
  for (let d = dir; d !== dirname(d) && !(await exists(d)); d = dirname(d)) chain.push(d);
  return chain;
}

/** Records the host's state before the node starts. */
export async function snapshotHost(): Promise<HostSnapshot> {
  const sysctls = new Map<string, string>();
  for (const key of kubeletSysctls) {
    const value = await readFile(join('/proc/sys', key), 'utf8').catch(() => undefined);
    if (value !== undefined) sysctls.set(key, value.trim());
  }
  const dirs = new Map<string, Set<string> | { missing: string[] }>();
  for (const dir of fixedHostDirs)
    dirs.set(dir, (await listing(dir)) ?? { missing: await missingChain(dir) });
  return { sysctls, dirs, netns: (await listing(netnsDir)) ?? new Set() };
}

/** Unmounts everything at or below `dir`, deepest first (lazily for what is still busy). */
export async function unmountBelow(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = mountsBelow(await readFile('/proc/self/mountinfo', 'utf8'), dir);
    if (points.length === 0) return;
    for (const point of points) {
      await run('umount', [point]).catch(() => run('umount', ['-l', point]).catch(() => undefined));
    }
  }
  const left = mountsBelow(await readFile('/proc/self/mountinfo', 'utf8'), dir);
  if (left.length > 0) throw new Error(`cannot unmount ${left.join(', ')}`);
}

/**
 * Puts the host back as the snapshot found it; returns what could not be restored (empty when all was).
 * Processes must be gone first (the cgroups' destroy()).
 */
export async function restoreHost(snapshot: HostSnapshot): Promise<string[]> {
  const problems: string[] = [];
  for (const [key, value] of snapshot.sysctls) {
    const now = (await readFile(join('/proc/sys', key), 'utf8').catch(() => value)).trim();
    if (now !== value) {
      await writeFile(join('/proc/sys', key), value).catch((err: unknown) =>
        problems.push(`sysctl ${key}: ${err instanceof Error ? err.message : String(err)}`),
      );
    }
  }
  for (const name of (await listing(netnsDir)) ?? []) {
    if (snapshot.netns.has(name) || !criNetnsPattern.test(name)) continue;
    const path = join(netnsDir, name);
    await run('umount', [path]).catch(() => run('umount', ['-l', path]).catch(() => undefined));
    await rm(path, { force: true }).catch((err: unknown) => problems.push(`${path}: ${String(err)}`));
  }
  for (const [dir, before] of snapshot.dirs) {
    const now = await listing(dir);
    if (!now) continue;
    const kept = before instanceof Set ? before : new Set<string>();
    for (const name of now) {
      if (kept.has(name)) continue;
      const path = join(dir, name);
      await unmountBelow(path).catch(() => undefined);
      await rm(path, { recursive: true, force: true }).catch((err: unknown) =>
        problems.push(`${path}: ${String(err)}`),
      );
    }
    if (!(before instanceof Set)) {
      await rmdir(dir).catch(() => problems.push(`${dir} is not empty after the node stopped`));
      // Parents the node created go too, unless something else put files there meanwhile.
      for (const parent of before.missing.slice(1)) await rmdir(parent).catch(() => undefined);
    }
  }
  return problems;
}

/** The snapshot as JSON, kept in the node's run dir: a node whose process was killed is put back from it. */
export function snapshotJson(snapshot: HostSnapshot): string {
  return JSON.stringify({
    sysctls: [...snapshot.sysctls],
    dirs: [...snapshot.dirs].map(([dir, before]) => [dir, before instanceof Set ? [...before] : before]),
    netns: [...snapshot.netns],
  });
}

/** The snapshot snapshotJson wrote; undefined for anything else (a node killed before it wrote one). */
export function parseSnapshot(text: string): HostSnapshot | undefined {
  try {
    const raw = JSON.parse(text) as {
      sysctls: Array<[string, string]>;
      dirs: Array<[string, string[] | { missing: string[] }]>;
      netns: string[];
    };
    return {
      sysctls: new Map(raw.sysctls),
      dirs: new Map(raw.dirs.map(([dir, before]) => [dir, Array.isArray(before) ? new Set(before) : before])),
      netns: new Set(raw.netns),
    };
  } catch {
    return undefined;
  }
}

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
