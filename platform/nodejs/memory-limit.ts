/**
 * The memory a process may use and uses, as the kernel tells it: its cgroup's memory limit (v2
 * memory.max or v1 memory.limit_in_bytes; the lowest of its cgroup and their ancestors that are
 * visible, as a container sees its own cgroup at the mount's root) and processes' resident memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

export interface MemoryLimitPaths {
  readonly proc?: string;
  readonly cgroupMount?: string;
}

/** Limits at or above this are v1's "no limit" (PAGE_COUNTER_MAX pages). */
const unlimited = 2 ** 62;

function readLimit(file: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  const value = Number(text);
  return text !== 'max' && Number.isFinite(value) && value > 0 && value < unlimited ? value : undefined;
}

/** The cgroup dir and its ancestors, deepest first ('/a/b' → '/a/b', '/a', '/'). */
function ancestors(path: string): string[] {
  const dirs: string[] = [];
  for (let dir = posix.normalize(path || '/'); ; dir = posix.dirname(dir)) {
    dirs.push(dir);
    if (dir === '/') return dirs;
  }
}

/** The memory limit of the process' cgroup in bytes, or undefined when it has none (or none is visible). */
export function cgroupMemoryLimit(paths: MemoryLimitPaths = {}): number | undefined {
  const proc = paths.proc ?? '/proc';
  const mount = paths.cgroupMount ?? '/sys/fs/cgroup';
  let lines: string[];
  try {
    lines = readFileSync(join(proc, 'self', 'cgroup'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const candidates: string[] = [];
  for (const line of lines) {
    const [id, controllers = '', path = ''] = line.split(':');
    if (id === '0' && controllers === '' && existsSync(join(mount, 'cgroup.controllers')))
      candidates.push(...ancestors(path).map((dir) => join(mount, dir, 'memory.max')));
    if (controllers.split(',').includes('memory'))
      candidates.push(...ancestors(path).map((dir) => join(mount, 'memory', dir, 'memory.limit_in_bytes')));
  }
  const limits = candidates.map(readLimit).filter((v): v is number => v !== undefined);
  return limits.length > 0 ? Math.min(...limits) : undefined;
}

/** The resident memory (VmRSS) of these processes ('self' or a pid) in bytes; gone ones count 0. */
export function residentBytes(pids: ReadonlyArray<number | 'self'>, proc = '/proc'): number {
  let total = 0;
  for (const pid of pids) {
    try {
      const status = readFileSync(join(proc, String(pid), 'status'), 'utf8');
      total += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // it has exited
    }
  }
  return total;
}
