/**
 * Finds the host's mount namespace from inside a hostPID container: the nearest ancestor process whose
 * mount namespace differs from ours (the container runtime's shim, conmon, ...) runs in the host's, and
 * its /proc/<pid>/ns/mnt is one we may open (PID 1's may not be: it can hold capabilities we lack).
 */
import { open, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

async function parentOf(pid: number, proc: string): Promise<number | undefined> {
  const stat = await readFile(join(proc, String(pid), 'stat'), 'utf8').catch(() => undefined);
  // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
  const ppid = stat === undefined ? NaN : Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
}

async function mountNamespace(pid: number, proc: string): Promise<string | undefined> {
  return readlink(join(proc, String(pid), 'ns', 'mnt')).catch(() => undefined);
}

async function canOpen(path: string): Promise<boolean> {
  const handle = await open(path, 'r').catch(() => undefined);
  await handle?.close();
  return handle !== undefined;
}

export type HostMountNamespace =
  | { readonly kind: 'here' }
  | { readonly kind: 'ancestor'; readonly path: string; readonly pid: number }
  | { readonly kind: 'unknown'; readonly reason: string };

/**
 * The mount namespace delegates must run in to see the host: `here` when this process already is in
 * the host's (no ancestor's differs), an ancestor's ns file, or why it cannot be told.
 */
export async function findHostMountNamespace(pid: number, proc = '/proc'): Promise<HostMountNamespace> {
  const own = await mountNamespace(pid, proc);
  if (own === undefined) return { kind: 'unknown', reason: `cannot read ${proc}/${pid}/ns/mnt` };
  let current = await parentOf(pid, proc);
  if (current === undefined) {
    return {
      kind: 'unknown',
      reason:
        'this process has no visible parent: it is PID 1 of its PID namespace (the pod needs hostPID: true)',
    };
  }
  for (let depth = 0; current !== undefined && depth < 64; depth++) {
    const ns = await mountNamespace(current, proc);
    const path = join(proc, String(current), 'ns', 'mnt');
    if (ns !== undefined && ns !== own && (await canOpen(path)))
      return { kind: 'ancestor', path, pid: current };
    current = await parentOf(current, proc);
  }
  return { kind: 'here' };
}
