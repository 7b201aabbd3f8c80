/**
 * A `node` process the benchmarks measure: started with a clean environment, and ready once it says
 * "ready" on stdout. One that exits before then fails with what it wrote to stderr.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable } from 'node:stream';
import { nodeBinary } from './chart-process.ts';

export interface ReadyNode {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** Settles when the process has exited. */
  readonly exited: Promise<void>;
}

/** `wrapper`: a command that execs the rest of its arguments (a memory cgroup: bench/memory-cgroup.ts). */
export async function startReadyNode(
  what: string,
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  wrapper: readonly string[] = [],
): Promise<ReadyNode> {
  const [command, ...rest] = [...wrapper, nodeBinary, ...args];
  const child = spawn(command!, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  await new Promise<void>((ready, fail) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('ready')) ready();
    });
    child.once('exit', (code) =>
      fail(new Error(`${what} exited (${String(code)}) before it was ready: ${stderr.join('')}`)),
    );
  });
  return { child, exited };
}
