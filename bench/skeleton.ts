/**
 * Runs bench/skeleton-daemon.ts (the least a Node.js CNI daemon does, built-ins only) as the benchmarks
 * measure it: its type-stripped JavaScript written into `dir`, run by the same `node` with the same
 * NODE_OPTIONS as the agent, so that only Node and the job are in its memory and its spawn cost.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import { startReadyNode } from './ready-node.ts';
import type { SkeletonConfig } from './skeleton-daemon.ts';

export const skeletonName = 'Node skeleton (built-ins only)';

export interface Skeleton {
  readonly pid: number;
  readonly socket: string;
  /** How many NADs and pods it holds. */
  counts(): Promise<{ nads: number; pods: number }>;
  stop(): Promise<void>;
}

export interface SkeletonOptions {
  /** Where its JavaScript and socket go (the lab's dir; removed with it). */
  readonly dir: string;
  readonly nodeOptions: string;
  readonly config: Omit<SkeletonConfig, 'socket'>;
  /** A command that execs the rest of its arguments (a memory cgroup: bench/memory-cgroup.ts). */
  readonly wrapper?: readonly string[];
}

function getJson<T>(socket: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get({ socketPath: socket, path }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T));
      })
      .on('error', reject);
  });
}

export async function startSkeleton(options: SkeletonOptions): Promise<Skeleton> {
  const script = join(options.dir, 'skeleton-daemon.mjs');
  const source = readFileSync(new URL('./skeleton-daemon.ts', import.meta.url), 'utf8');
  writeFileSync(script, stripTypeScriptTypes(source));
  const socket = join(options.dir, 'skeleton.sock');
  const { child, exited } = await startReadyNode(
    'the Node skeleton',
    [script],
    {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      NODE_OPTIONS: options.nodeOptions,
      SKELETON_CONFIG: JSON.stringify({ ...options.config, socket } satisfies SkeletonConfig),
    },
    options.wrapper,
  );
  return {
    pid: child.pid!,
    socket,
    counts: () => getJson(socket, '/counts'),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
