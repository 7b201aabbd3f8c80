/** A process' memory and CPU as /proc tells them, for the benchmarks (no other imports: cheap to load). */
import { readdirSync, readFileSync } from 'node:fs';

export interface Memory {
  readonly rssMb: number;
  readonly hwmMb: number;
  /** Of VmRSS: anonymous memory (heaps) and file pages (the node binary's code and data). */
  readonly anonMb: number;
  readonly fileMb: number;
}

export function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return {
    rssMb: kb('VmRSS') / 1024,
    hwmMb: kb('VmHWM') / 1024,
    anonMb: kb('RssAnon') / 1024,
    fileMb: kb('RssFile') / 1024,
  };
}

/** The processes `pid` started (of every thread) that run `comm` (its first 15 bytes, as /proc keeps it). */
export function childrenNamed(pid: number, comm: string): number[] {
  const found: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let children: string;
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue; // the thread ended meanwhile
    }
    for (const child of children.split(' ').filter(Boolean).map(Number)) {
      try {
        if (readFileSync(`/proc/${child}/comm`, 'utf8').trim() === comm.slice(0, 15)) found.push(child);
      } catch {
        // ended meanwhile
      }
    }
  }
  return found;
}

/** The memory of processes that count as one (a daemon and its helper), summed field by field. */
export function memoryOf(pids: readonly number[]): Memory {
  const each = pids.map(memory);
  const sum = (key: keyof Memory): number => each.reduce((total, m) => total + m[key], 0);
  return { rssMb: sum('rssMb'), hwmMb: sum('hwmMb'), anonMb: sum('anonMb'), fileMb: sum('fileMb') };
}

/** User + system CPU time of a process (all threads), in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms (USER_HZ = 100)
}
