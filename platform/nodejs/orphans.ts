/**
 * Finding and ending processes by a variable in their environment, from /proc. The agent marks every
 * process it starts for a delegate (the plugin, and what the plugin starts: its IPAM, its iptables)
 * with MULTINET_DELEGATE_OF=<node>:<state dir>; children inherit the environment, so after a crash the next
 * agent finds the previous one's delegates, also those that left their process group, and ends them
 * before it serves a DEL that a still-running ADD could undo. Reading another process's environment
 * takes root (as the agent runs).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Clock } from '../../lib/ports.ts';

/** Ids of the processes whose environment holds name=value (those that cannot be read are skipped). */
export function processesWithEnv(name: string, value: string, proc = '/proc'): number[] {
  const wanted = Buffer.from(`${name}=${value}\0`);
  const found: number[] = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`${proc}/${entry}/environ`);
    } catch {
      continue; // gone meanwhile, or a kernel thread
    }
    const at = environ.indexOf(wanted);
    if (at === 0 || (at > 0 && environ[at - 1] === 0)) found.push(Number(entry));
  }
  return found;
}

/** Whether the process has ended: gone, or a zombie (it runs no more; its parent reaps it). */
export function processEnded(pid: number, proc = '/proc'): boolean {
  let stat: string;
  try {
    stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
  } catch {
    return true;
  }
  // "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parentheses).
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
}

export interface EndProcessesDeps {
  /** Sends SIGKILL (the entry point's ProcessPort); a process already gone may throw. */
  readonly kill: (pid: number) => void;
  readonly clock: Clock;
  readonly proc?: string;
  /** How long to wait for them to end. Default 10 s. */
  readonly timeoutMs?: number;
}

/**
 * SIGKILLs every process whose environment holds name=value and waits until each has ended; returns
 * their ids. Throws when some still run after the timeout (a process in uninterruptible sleep).
 */
export async function endProcessesWithEnv(
  name: string,
  value: string,
  deps: EndProcessesDeps,
): Promise<number[]> {
  const proc = deps.proc ?? '/proc';
  const pids = processesWithEnv(name, value, proc);
  for (const pid of pids) {
    try {
      deps.kill(pid);
    } catch {
      // ended meanwhile
    }
  }
  const deadline = deps.clock.now() + (deps.timeoutMs ?? 10_000);
  let running = pids.filter((pid) => !processEnded(pid, proc));
  while (running.length > 0) {
    if (deps.clock.now() >= deadline) {
      throw new Error(
        `processes ${running.join(', ')} did not end within ${deps.timeoutMs ?? 10_000} ms of SIGKILL`,
      );
    }
    await deps.clock.sleep(10);
    running = running.filter((pid) => !processEnded(pid, proc));
  }
  return pids;
}
