/**
 * Installs the CNI shim into the node's CNI bin dir: copied to a temp file beside the target and
 * renamed over it, so a runtime starting a pod never executes a half-written binary. Skipped when the
 * installed file already has the same content.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'winston';
import type { FileSystem } from '../lib/ports.ts';

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
