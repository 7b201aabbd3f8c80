/**
 * The frame of a benchmark on real nodes (bench:attach on one, bench:pods on several): the run's options
 * from this process (a benchmark is an entry point), Ctrl-C stopping the run before the process exits,
 * the run stopped when the body ends, and a failure ending the process with its message and exit 1.
 */
import { homedir } from 'node:os';
import { defaultCacheDir } from '../dev/binaries.ts';
import type { LocalRunOptions } from '../dev/node/local-run.ts';
import { errorMessage } from '../lib/errors.ts';
import { listenTcp } from '../platform/nodejs/listen.ts';

/** What every benchmark's local run is given: this machine's cache, this process, multinet's image. */
export function benchRunOptions(log: (line: string) => void): LocalRunOptions {
  return {
    cacheDir: defaultCacheDir(process.env, homedir()),
    env: process.env,
    uid: process.getuid?.(),
    pid: process.pid,
    kill: (pid, signal) => process.kill(pid, signal),
    listen: (server) => listenTcp(server, '127.0.0.1', 0),
    extraImages: ['multinet'],
    // Another tier's node may be running: a benchmark waits for it rather than failing.
    waitForOtherNodeMs: 30 * 60_000,
    log,
  };
}

/** Starts the run (`start`), measures on it (`body`) and stops it, whatever happens. */
export function benchmarkOn<Run extends { stop(): Promise<void> }>(
  start: () => Promise<Run>,
  body: (run: Run) => Promise<void>,
): void {
  const main = async (): Promise<void> => {
    const run = await start();
    const stop = (): void => void run.stop().finally(() => process.exit(130));
    process.once('SIGINT', stop);
    try {
      await body(run);
    } finally {
      process.off('SIGINT', stop);
      await run.stop();
    }
  };
  main().catch((err: unknown) => {
    console.error(errorMessage(err));
    process.exitCode = 1;
  });
}
