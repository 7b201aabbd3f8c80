/**
 * One long-running server process of the control plane (etcd, kube-apiserver): started in its own
 * process group with its output appended to a log file, stopped with SIGTERM and then SIGKILL.
 *
 * When util-linux's setpriv is available the server is started through `setpriv --pdeathsig TERM`,
 * so the kernel stops it even if the Node process that started it dies without cleaning up (a killed
 * jest run, a crashed CLI).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, closeSync, constants, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Kill } from '../../lib/ports.ts';

const setprivCandidates = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv'];

function findSetpriv(): string | undefined {
  for (const candidate of setprivCandidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // try the next one
    }
  }
  return undefined;
}

export interface ServerProcessSpec {
  /** A short name for messages ("etcd", "kube-apiserver"). */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** File that receives the server's stdout and stderr (appended). */
  readonly logFile: string;
  readonly cwd: string;
  /** The server's whole environment. */
  readonly env: Readonly<Record<string, string>>;
  /**
   * cgroup.procs files the server joins before its program starts (a shell writes its PID, then execs
   * it), so that everything it ever forks, daemons included, stays findable in those cgroups.
   */
  readonly cgroupProcs?: readonly string[];
  /** The entry point's process.kill: stop() signals the server's whole process group. */
  readonly kill: Kill;
}

/** `sh -c` that joins the cgroups and execs the program: argv is [sh, -c, script, program, ...args]. */
function joinCgroups(procs: readonly string[], command: string, args: readonly string[]): [string, string[]] {
  for (const file of procs) {
    if (!/^[\w./-]+$/.test(file)) throw new Error(`unexpected cgroup.procs path ${JSON.stringify(file)}`);
  }
  const script = `for f in ${procs.join(' ')}; do echo $$ > "$f" || exit 126; done; exec "$0" "$@"`;
  return ['/bin/sh', ['-c', script, command, ...args]];
}

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Resolves with a description ("exited with code 1", "killed by SIGTERM") when the process ends. */
  readonly exited: Promise<string>;
  hasExited(): boolean;
  /** SIGTERM to the process group, SIGKILL after `timeoutMs`; resolves once the process is gone. */
  stop(timeoutMs: number): Promise<void>;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals, kill: Kill): void {
  if (child.pid === undefined) return;
  try {
    kill(-child.pid, signal);
  } catch (err) {
    // The group already gone is what a stop wants; anything else (EPERM, a broken port) must show.
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Starts a server; rejects when it cannot be spawned at all (missing binary, not executable). */
export async function startServerProcess(spec: ServerProcessSpec): Promise<ServerProcess> {
  const setpriv = findSetpriv();
  const [program, programArgs] = spec.cgroupProcs?.length
    ? joinCgroups(spec.cgroupProcs, spec.command, spec.args)
    : [spec.command, [...spec.args]];
  const [command, args] = setpriv
    ? [setpriv, ['--pdeathsig', 'TERM', '--', program, ...programArgs]]
    : [program, programArgs];
  const log = openSync(spec.logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: spec.cwd,
      env: { ...spec.env },
      detached: true,
      stdio: ['ignore', log, log],
    });
  } finally {
    closeSync(log);
  }
  let status: string | undefined;
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal ? `killed by ${signal}` : `exited with code ${code}`;
      resolve(status);
    });
  });
  await Promise.race([
    once(child, 'spawn'),
    once(child, 'error').then(([err]) => {
      throw new Error(`cannot start ${spec.name} (${spec.command}): ${(err as Error).message}`);
    }),
  ]);
  child.on('error', () => {
    // errors after spawn (failed kill) are reflected by the exit status
  });
  const pid = child.pid!;
  return {
    name: spec.name,
    pid,
    logFile: spec.logFile,
    exited,
    hasExited: () => status !== undefined,
    async stop(timeoutMs: number): Promise<void> {
      if (status !== undefined) {
        signalGroup(child, 'SIGKILL', spec.kill); // anything the server left behind in its group
        return;
      }
      signalGroup(child, 'SIGTERM', spec.kill);
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      // SIGKILL whatever is left: the server itself after the timeout, or anything it started.
      signalGroup(child, 'SIGKILL', spec.kill);
      await exited;
    },
  };
}

/** The last `lines` lines of a log file ("" when it cannot be read). */
export async function logTail(file: string, lines: number, maxBytes = 64 * 1024): Promise<string> {
  try {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, maxBytes);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const text = buffer.toString('utf8').split('\n');
      if (length < size) text.shift(); // a partial first line
      while (text.length > 0 && text[text.length - 1] === '') text.pop();
      return text.slice(-lines).join('\n');
    } finally {
      await handle.close();
    }
  } catch {
    return '';
  }
}
