/**
 * multinet's components as host processes (controller, webhook, agent) for the playground and the local
 * node: started from this checkout's bin/multinet, logging to a file, stopped with SIGTERM (then SIGKILL).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo-root.ts';

export interface ManagedProcess {
  readonly name: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  /** Null while running, else the exit code (or the signal). */
  exitStatus(): number | string | null;
  stop(timeoutMs?: number): Promise<void>;
}

export function startMultinet(name: string, args: readonly string[], logDir: string): ManagedProcess {
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const child: ChildProcess = spawn(join(repoRoot, 'bin', 'multinet'), [...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let status: number | string | null = null;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = code ?? signal ?? 'unknown';
      resolve();
    });
    child.once('error', (err) => {
      status = `could not start: ${err.message}`;
      log.write(`multinet ${name} could not start: ${err.message}\n`);
      resolve();
    });
  });
  return {
    name,
    logFile,
    pid: child.pid,
    exitStatus: () => status,
    async stop(timeoutMs = 10_000) {
      if (status === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        await exited;
        clearTimeout(timer);
      }
      log.end();
    },
  };
}
