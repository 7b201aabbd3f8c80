/**
 * The machine's lock for local Kubernetes nodes: one local cluster (a single node, or several in their
 * own namespaces) runs per machine at a time, since they share global sysctls and, for the single node,
 * fixed host paths. The lock file names what the running one made (run dir, cgroups, links, network
 * namespaces, the mountpoint dirs it created on the host), so a start that finds the lock of a process
 * that is gone puts the host back first: it ends that run's control plane, kills what is in its cgroups,
 * unmounts below its run dir, restores the host snapshot kept there, and deletes its links, namespaces,
 * mountpoint dirs and run dir.
 */
import { execFile } from 'node:child_process';
import { readFile, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { errorMessage } from '../../lib/errors.ts';
import { eventually } from '../eventually.ts';
import type { Kill } from '../../lib/ports.ts';
import { systemClock } from '../../platform/nodejs/clock.ts';
import { endProcessesWithEnv } from '../../platform/nodejs/orphans.ts';
import { NodeCgroups } from './cgroups.ts';
import { parseSnapshot, restoreHost, unmountBelow } from './host-state.ts';
import type { NodeHost } from './prerequisites.ts';

const run = promisify(execFile);

export const lockFile = '/run/multinet-dev-node.lock';

/** In the run dir: the host as it was before the run started (host-state.ts), for a stale run's cleanup. */
export const snapshotFile = 'host-snapshot.json';

/** In the environment of a run's control plane servers: the run dir (they live outside its cgroups). */
export const runMark = 'MULTINET_DEV_NODE';

export interface LockRecord {
  readonly pid: number;
  readonly dir: string;
  /** The single node's cgroup subtree (older records), or each node's. */
  readonly cgroup?: string;
  readonly cgroups?: readonly string[];
  readonly links: readonly string[];
  readonly netns: readonly string[];
  /** Dirs the run created on the host as mountpoints (removed if still empty), innermost first. */
  readonly mountpoints?: readonly string[];
}

export interface LockOptions {
  readonly kill: Kill;
  /** Wait (up to this long) for another local run of this machine to stop instead of refusing to start. */
  readonly waitForOtherNodeMs?: number;
}

function alive(pid: number, kill: Kill): boolean {
  try {
    kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Puts the host back after a run whose process is gone. */
async function cleanUpStale(
  stale: LockRecord,
  options: LockOptions,
  host: NodeHost,
  log: (l: string) => void,
): Promise<void> {
  log(`cleaning up a local node whose process ${stale.pid} is gone (run dir ${stale.dir})`);
  // Its control plane runs outside its cgroups and may still be shutting down (its etcd is gone).
  await endProcessesWithEnv(runMark, stale.dir, {
    kill: (pid) => options.kill(pid, 'SIGKILL'),
    clock: systemClock,
  }).catch((err: unknown) => log(`could not end the stale node's control plane: ${errorMessage(err)}`));
  for (const cgroup of [...(stale.cgroup ? [stale.cgroup] : []), ...(stale.cgroups ?? [])])
    await new NodeCgroups(host.cgroups, cgroup).destroy(options.kill).catch(() => undefined);
  await unmountBelow(stale.dir).catch(() => undefined);
  // What its kubelet and containerd changed outside the run dir (pods' netns, sysctls, host dirs).
  const before = parseSnapshot(await readFile(join(stale.dir, snapshotFile), 'utf8').catch(() => ''));
  if (before) {
    const left = await restoreHost(before);
    if (left.length > 0) log(`could not put back all the stale node changed: ${left.join('; ')}`);
  }
  for (const link of stale.links) await run(host.tools.ip, ['link', 'del', link]).catch(() => undefined);
  for (const ns of stale.netns ?? []) await run(host.tools.ip, ['netns', 'del', ns]).catch(() => undefined);
  for (const dir of stale.mountpoints ?? []) await rmdir(dir).catch(() => undefined);
  await rm(stale.dir, { recursive: true, force: true });
}

/**
 * Takes the machine's lock for the run whose dir is `record.dir`; a stale one (its process is gone) is
 * cleaned up first. When it cannot be taken, the run's dir is removed: the run never started.
 */
export async function takeMachineLock(
  record: LockRecord,
  options: LockOptions,
  host: NodeHost,
  log: (l: string) => void,
): Promise<void> {
  await acquire(record, options, host, log).catch(async (err: unknown) => {
    await rm(record.dir, { recursive: true, force: true });
    throw err;
  });
}

async function acquire(
  record: LockRecord,
  options: LockOptions,
  host: NodeHost,
  log: (l: string) => void,
): Promise<void> {
  const text = await readFile(lockFile, 'utf8').catch(() => undefined);
  if (text !== undefined) {
    let stale: LockRecord | undefined;
    try {
      stale = JSON.parse(text) as LockRecord;
    } catch {
      stale = undefined;
    }
    const running = stale !== undefined && alive(stale.pid, options.kill);
    if (running && (options.waitForOtherNodeMs ?? 0) > 0) {
      log(`waiting for the local node of process ${stale!.pid} to stop (only one runs per machine)`);
      const deadline = Date.now() + options.waitForOtherNodeMs!;
      const released = await eventually(
        'the other local node to release the machine lock',
        async () => (await readFile(lockFile, 'utf8').catch(() => undefined)) !== text,
        { timeoutMs: options.waitForOtherNodeMs!, intervalMs: 500 },
      ).catch(() => false);
      if (released) {
        return acquire(
          record,
          { ...options, waitForOtherNodeMs: Math.max(1, deadline - Date.now()) },
          host,
          log,
        );
      }
    }
    if (running) {
      throw new Error(
        `another multinet local node runs on this machine (process ${stale!.pid}, run dir ${stale!.dir}); stop it first (Ctrl-C), only one can run at a time`,
      );
    }
    if (stale) await cleanUpStale(stale, options, host, log);
    await rm(lockFile, { force: true });
  }
  await writeFile(lockFile, JSON.stringify(record), { flag: 'wx', mode: 0o644 });
}

/** Adds to this run's lock record what it learns once it holds the lock (the mountpoints it creates). */
export async function extendMachineLock(dir: string, more: Pick<LockRecord, 'mountpoints'>): Promise<void> {
  const current = JSON.parse(await readFile(lockFile, 'utf8')) as LockRecord;
  if (current.dir !== dir)
    throw new Error(`the machine lock ${lockFile} is not this run's (${dir}) any more`);
  await writeFile(`${lockFile}.tmp`, JSON.stringify({ ...current, ...more }), { mode: 0o644 });
  await rename(`${lockFile}.tmp`, lockFile);
}

/** Releases the lock (when it is still this run's). */
export async function releaseMachineLock(dir: string): Promise<void> {
  const text = await readFile(lockFile, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  try {
    if ((JSON.parse(text) as LockRecord).dir !== dir) return;
  } catch {
    // unreadable: not anyone's any more
  }
  await rm(lockFile, { force: true });
}
