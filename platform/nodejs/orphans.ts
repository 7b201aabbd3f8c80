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

/** The value of a variable in a /proc/PID/environ buffer, or undefined. */
function envValue(environ: Buffer, name: string): string | undefined {
  const key = Buffer.from(`${name}=`);
  for (let at = environ.indexOf(key); at >= 0; at = environ.indexOf(key, at + 1)) {
    if (at > 0 && environ[at - 1] !== 0) continue;
    const end = environ.indexOf(0, at);
    return environ.toString('utf8', at + key.length, end < 0 ? environ.length : end);
  }
  return undefined;
}

/** The processes whose environment holds name=value (those that cannot be read are skipped). */
function markedProcesses(name: string, value: string, proc: string): Array<{ pid: number; environ: Buffer }> {
  const found: Array<{ pid: number; environ: Buffer }> = [];
  for (const entry of readdirSync(proc)) {
    if (!/^\d+$/.test(entry)) continue;
    let environ: Buffer;
    try {
      environ = readFileSync(`${proc}/${entry}/environ`);
    } catch {
      continue; // gone meanwhile, or a kernel thread
    }
    if (envValue(environ, name) === value) found.push({ pid: Number(entry), environ });
  }
  return found;
}

/** Ids of the processes whose environment holds name=value (those that cannot be read are skipped). */
export function processesWithEnv(name: string, value: string, proc = '/proc'): number[] {
  return markedProcesses(name, value, proc).map((p) => p.pid);
}

/** The parent's id from /proc/PID/stat, or undefined when the process is gone. */
function parentOf(pid: number, proc: string): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${proc}/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // "pid (comm) S ppid ...": fields after the last ')'.
  const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** Whether ancestor is pid's parent, its parent's parent, ... (a dead ancestor's children are reparented). */
function descendsFrom(pid: number, ancestor: number, proc: string): boolean {
  for (let current = parentOf(pid, proc), hops = 0; current && current > 1 && hops < 64; hops++) {
    if (current === ancestor) return true;
    current = parentOf(current, proc);
  }
  return false;
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
  /**
   * A variable holding the id of the process that started a marked one: a marked process that still
   * descends from it is that process's live work (an agent still running beside this one, during a
   * rolling update), not an orphan, and is spared.
   */
  readonly starterVariable?: string;
}

/**
 * SIGKILLs every process whose environment holds name=value (but those whose starter still runs them,
 * see starterVariable) and waits until each has ended; returns their ids. Throws when some still run
 * after the timeout (a process in uninterruptible sleep).
 */
export async function endProcessesWithEnv(
  name: string,
  value: string,
  deps: EndProcessesDeps,
): Promise<number[]> {
  const proc = deps.proc ?? '/proc';
  const starter = deps.starterVariable;
  const pids = markedProcesses(name, value, proc)
    .filter(({ pid, environ }) => {
      const starterPid = starter === undefined ? undefined : Number(envValue(environ, starter));
      return !(starterPid && Number.isInteger(starterPid) && descendsFrom(pid, starterPid, proc));
    })
    .map((p) => p.pid);
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
