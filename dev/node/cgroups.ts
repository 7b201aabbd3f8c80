/**
 * The local node's own cgroup subtree, `/<name>` in every cgroup v1 hierarchy (and the hybrid layout's
 * unified one): the node's daemons
 * (containerd, its shims, the kubelet) run in `/<name>/daemons`, and the kubelet's cgroupRoot is
 * `/<name>/pods`, so every process the node starts — containers included — is found by walking one
 * hierarchy, and killed and removed with it. Only cgroup v1 (and hybrid) layouts are handled.
 */
import { parseMountinfo } from './mountinfo.ts';
import { readdir, readFile, rmdir, mkdir, writeFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A cgroup v1 hierarchy: its mount point and controllers ("cpu,cpuacct", "name=systemd"). */
export interface Hierarchy {
  readonly mountPoint: string;
  readonly controllers: string[];
}

export type CgroupLayout =
  | { readonly kind: 'v1'; readonly hierarchies: readonly Hierarchy[] }
  | { readonly kind: 'unsupported'; readonly reason: string };

/** The controllers the kubelet and runc need a v1 hierarchy for. */
export const requiredControllers = ['cpu', 'cpuacct', 'cpuset', 'memory', 'pids', 'devices', 'freezer'];

/** Reads the cgroup layout from /proc/self/mountinfo's text. */
export function cgroupLayout(mountinfo: string): CgroupLayout {
  const hierarchies: Hierarchy[] = [];
  let unifiedAtRoot = false;
  for (const { mountPoint, fsType, superOptions } of parseMountinfo(mountinfo)) {
    if (fsType === 'cgroup2' && mountPoint === '/sys/fs/cgroup') unifiedAtRoot = true;
    if (fsType === 'cgroup2' && mountPoint !== '/sys/fs/cgroup') {
      // The hybrid layout's unified hierarchy (no controllers): runc places containers there too.
      hierarchies.push({ mountPoint, controllers: [] });
      continue;
    }
    if (fsType !== 'cgroup') continue;
    const controllers = superOptions
      .split(',')
      .filter((o) => o !== 'rw' && o !== 'ro' && (!o.includes('=') || o.startsWith('name=')));
    hierarchies.push({ mountPoint, controllers });
  }
  if (unifiedAtRoot && !hierarchies.some((h) => h.controllers.length > 0)) {
    return {
      kind: 'unsupported',
      reason:
        'this machine has a pure cgroup v2 layout (cgroup2 at /sys/fs/cgroup); the local node handles cgroup v1 ' +
        'and hybrid layouts only. Boot with systemd.unified_cgroup_hierarchy=0 (hybrid), or run the ' +
        'netns playground instead (multinet up --netns)',
    };
  }
  const present = new Set(hierarchies.flatMap((h) => h.controllers));
  const lacking = requiredControllers.filter((c) => !present.has(c));
  if (lacking.length > 0) {
    return {
      kind: 'unsupported',
      reason: `cgroup v1 controllers ${lacking.join(', ')} are not mounted (found: ${[...present].join(', ') || 'none'}); mount them under /sys/fs/cgroup`,
    };
  }
  return { kind: 'v1', hierarchies };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Subdirectories of a cgroup dir (child cgroups), deepest first, the dir itself last. */
async function subtree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const children: string[] = [];
  for (const e of entries) if (e.isDirectory()) children.push(...(await subtree(join(dir, e.name))));
  return [...children, dir];
}

export class NodeCgroups {
  readonly name: string;
  private readonly hierarchies: readonly Hierarchy[];

  constructor(layout: Extract<CgroupLayout, { kind: 'v1' }>, name: string) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new Error(`invalid cgroup name ${JSON.stringify(name)}`);
    this.hierarchies = layout.hierarchies;
    this.name = name;
  }

  /** The kubelet's cgroupRoot. */
  get podsRoot(): string {
    return `/${this.name}/pods`;
  }

  /** The cgroup.procs files a daemon writes its PID into (one per hierarchy) before it starts. */
  get daemonProcsFiles(): string[] {
    return this.hierarchies.map((h) => join(h.mountPoint, this.name, 'daemons', 'cgroup.procs'));
  }

  /** Creates /<name>, /<name>/daemons and /<name>/pods in every hierarchy (cpusets copied from the root). */
  async create(): Promise<void> {
    for (const h of this.hierarchies) {
      const cpuset = h.controllers.includes('cpuset');
      for (const relative of [this.name, join(this.name, 'daemons'), join(this.name, 'pods')]) {
        const dir = join(h.mountPoint, relative);
        await mkdir(dir, { recursive: true });
        if (cpuset) {
          // A v1 cpuset cgroup takes no task until it has CPUs and memory nodes.
          for (const file of ['cpuset.cpus', 'cpuset.mems']) {
            const value = (await readFile(join(h.mountPoint, file), 'utf8')).trim();
            await writeFile(join(dir, file), value);
          }
        }
      }
    }
  }

  /** Every process in the subtree (read from one hierarchy: each process is in one cgroup of each). */
  async pids(): Promise<number[]> {
    const h = this.hierarchies.find((x) => x.controllers.includes('pids')) ?? this.hierarchies[0];
    if (!h) return [];
    const root = join(h.mountPoint, this.name);
    const pids: number[] = [];
    for (const dir of await subtree(root)) {
      const text = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      for (const line of text.split('\n')) if (line.trim()) pids.push(Number(line));
    }
    return pids;
  }

  /**
   * SIGKILLs every process in the subtree until none is left (again and again: one may fork meanwhile),
   * then removes the cgroups, deepest first, in every hierarchy. `kill` is the entry point's.
   */
  async destroy(kill: (pid: number, signal: NodeJS.Signals) => void, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const pids = await this.pids();
      if (pids.length === 0) break;
      for (const pid of pids) {
        try {
          kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      if (Date.now() > deadline)
        throw new Error(`processes ${pids.join(', ')} of cgroup /${this.name} do not die`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const left: string[] = [];
    for (const h of this.hierarchies) {
      const root = join(h.mountPoint, this.name);
      if (!(await exists(root))) continue;
      for (const dir of await subtree(root)) {
        // A just-killed process can keep its cgroup busy for a moment.
        for (let attempt = 0; ; attempt++) {
          try {
            await rmdir(dir);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
            if (attempt >= 100) {
              left.push(dir);
              break;
            }
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      }
    }
    if (left.length > 0) throw new Error(`cannot remove cgroups ${left.join(', ')}`);
  }
}
