/**
 * Installs the CNI shim into the node's CNI bin dir: copied to a temp file beside the target and
 * renamed over it, so a runtime starting a pod never executes a half-written binary. Skipped when the
 * installed file already has the same content.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'winston';
import type { NodeShimState } from '../lib/node-state.ts';
import type { Exec, FileSystem } from '../lib/ports.ts';

async function sha256(path: string): Promise<string | undefined> {
  try {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return hash.digest('hex');
  } catch {
    return undefined;
  }
}

/** True when both files exist and have the same content. */
export async function sameContent(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([sha256(a), sha256(b)]);
  return x !== undefined && x === y;
}

export async function installShim(
  fs: FileSystem,
  source: string,
  binDir: string,
  name: string,
  log: Logger,
): Promise<boolean> {
  const target = join(binDir, name);
  const [from, to] = await Promise.all([fs.stat(source), fs.stat(target)]);
  if (!from?.isFile) throw new Error(`the shim to install, ${source}, does not exist`);
  if (to?.isFile && to.size === from.size && (await sha256(source)) === (await sha256(target))) {
    log.info('CNI shim already installed', { target });
    return false;
  }
  await fs.mkdir(binDir, 0o755);
  await fs.copyFileAtomic(source, target, 0o755);
  log.info('installed the CNI shim', { source, target });
  return true;
}

/** `multinet-cni --version` prints "multinet-cni <version> protocol <n>" (cni/shim.go VersionLine). */
export function parseShimVersion(stdout: string): string | undefined {
  return /^multinet-cni (\S+) protocol \d+\s*$/.exec(stdout)?.[1];
}

export interface ShimInspection {
  /** Where the runtime finds the shim (the CNI bin dir). */
  readonly installed: string;
  /** The shim the agent installs (its image's), or undefined when it installs none. */
  readonly source: string | undefined;
  readonly agentVersion: string;
}

/**
 * Tells which shim the node has, for its NodeNetworkState: the agent's own (the same content as the one it
 * installs), or another release's (what `--version` prints; shims from before that flag print none). Asked
 * at every report; the answer is kept while the installed file's inode, size and mtime stay the same.
 */
export function shimInspector(
  fs: FileSystem,
  exec: Exec,
  inspection: ShimInspection,
): () => Promise<NodeShimState> {
  let kept: { key: string; state: NodeShimState } | undefined;
  const { installed, source, agentVersion } = inspection;
  return async () => {
    const info = await fs.stat(installed).catch(() => undefined);
    if (!info?.isFile) return { path: installed, version: '', matchesAgent: false, error: 'not installed' };
    const key = `${info.ino ?? ''}:${info.size}:${info.mtimeMs}`;
    if (kept?.key === key) return kept.state;
    let state: NodeShimState;
    if (source && (await sameContent(source, installed))) {
      state = { path: installed, version: agentVersion, matchesAgent: true };
    } else {
      const run = await exec
        .run({ file: installed, args: ['--version'], env: {}, stdin: '', timeoutMs: 5000 })
        .catch(() => undefined);
      const version = run?.code === 0 ? parseShimVersion(run.stdout) : undefined;
      state = version
        ? { path: installed, version, matchesAgent: version === agentVersion }
        : {
            path: installed,
            version: '',
            matchesAgent: false,
            error:
              'it names no version (`multinet-cni --version`): a shim from before multinet named its versions, or not multinet’s',
          };
    }
    kept = { key, state };
    return state;
  };
}
