/** A process' memory and CPU as /proc tells them, for the benchmarks (no other imports: cheap to load). */
import { readFileSync } from 'node:fs';

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

/** User + system CPU time of a process (all threads), in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms (USER_HZ = 100)
}
