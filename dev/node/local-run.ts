/**
 * What the single node (kube-node.ts) and the multi-node cluster (dev/cluster/kube-cluster.ts) share: the
 * options every local run takes from its entry point, the check that this machine can host one and the
 * builds it needs (binaries and images), the PATH its daemons run with, and a teardown that carries on
 * past failures and says what it could not undo.
 */
import { join } from 'node:path';
import { errorMessage } from '../../lib/errors.ts';
import type { Kill } from '../../lib/ports.ts';
import { ensureNodeBinaries, type Env, type NodeBinaries, type OptionalNodePart } from '../binaries.ts';
import { buildImages, type BuiltImage, type ImageName } from './images.ts';
import { checkNodeHost, type NodeHost } from './prerequisites.ts';
import type { ListenLoopback } from './registry.ts';

export interface LocalRunOptions {
  /** Cache root of dev/build.sh and dev/images/build.sh. */
  readonly cacheDir: string;
  /** Environment for the build scripts (PATH to find go, HOME, Go caches). */
  readonly env: Env;
  /** The entry point's process.getuid() and process.pid (recorded in the machine's lock). */
  readonly uid: number | undefined;
  readonly pid: number;
  /** The entry point's process.kill (to stop what the run started, and to probe a stale lock). */
  readonly kill: Kill;
  /** The entry point's way to listen on 127.0.0.1 (for the registry). */
  readonly listen: ListenLoopback;
  /** Progress lines; default: dropped. */
  readonly log?: (line: string) => void;
  /** Images to build and serve besides pause and alpine (e.g. multinet's own). */
  readonly extraImages?: readonly ImageName[];
  /** Parent of the run dir (default os.tmpdir()). */
  readonly tmpRoot?: string;
  /** Wait (up to this long) for another local run of this machine to stop instead of refusing to start. */
  readonly waitForOtherNodeMs?: number;
  /** How long the nodes may take to become Ready once everything is built. */
  readonly startTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

export interface Prepared {
  readonly host: NodeHost;
  readonly binaries: NodeBinaries;
  readonly images: readonly BuiltImage[];
}

/**
 * Checks that this machine can host `what` (naming every missing piece), then builds what is missing:
 * the node binaries (with the optional parts asked for) and the images.
 */
export async function prepareRun(
  options: LocalRunOptions,
  what: string,
  also: readonly OptionalNodePart[],
): Promise<Prepared> {
  const log = options.log ?? ((): void => undefined);
  const check = await checkNodeHost({ uid: options.uid, path: options.env.PATH });
  if (!check.ok) {
    throw new Error(`this machine cannot run ${what}; missing:\n  - ${check.missing.join('\n  - ')}`);
  }
  const binaries = await ensureNodeBinaries({
    cacheDir: options.cacheDir,
    env: options.env,
    kill: options.kill,
    log,
    also,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const images = await buildImages(
    ['pause', 'alpine', ...(options.extraImages ?? [])],
    options.cacheDir,
    options.env,
    log,
    options.signal,
  );
  return { host: check.host, binaries, images };
}

/** The PATH of a run's daemons: the cached binaries first (containerd finds its shim there), then the system's. */
export function daemonPath(cacheDir: string): string {
  return [
    join(cacheDir, 'bin'),
    '/usr/local/sbin',
    '/usr/local/bin',
    '/usr/sbin',
    '/usr/bin',
    '/sbin',
    '/bin',
  ].join(':');
}

/** Undoing a run, step after step: a step that fails is noted and the next one runs all the same. */
export class Teardown {
  readonly problems: string[] = [];

  async attempt(what: string, work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (err) {
      this.problems.push(`${what}: ${errorMessage(err)}`);
    }
  }

  /** Throws, listing what could not be undone, when anything could not. */
  finish(label: string): void {
    if (this.problems.length > 0)
      throw new Error(`${label} did not stop cleanly:\n  - ${this.problems.join('\n  - ')}`);
  }
}
