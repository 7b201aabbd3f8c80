/**
 * What the agent takes off its node when multinet itself is being removed (its DaemonSet is deleted, as
 * by `helm uninstall`): the generated CNI config, so the runtime goes back to the node's default network
 * instead of a shim dialling a dead socket, and the shim it installed. Only what is provably its own goes:
 * a config whose plugin is the shim, a shim whose content is the one it installs.
 */
import { join } from 'node:path';
import type { Logger } from 'winston';
import type { FileSystem } from '../lib/ports.ts';
import { errorMessage } from '../lib/errors.ts';
import { sameContent } from './shim-installer.ts';

export interface InstalledFiles {
  readonly confDir: string;
  readonly confFileName: string;
  /** The generated config's plugin type (the shim's file name). */
  readonly shimType: string;
  /** Where the shim was installed, and what it was installed from (undefined: not installed by the agent). */
  readonly shimPath: string;
  readonly shimSource: string | undefined;
}

/** Removes the generated config and the installed shim when they are the agent's; returns what it removed. */
export async function removeInstalled(fs: FileSystem, files: InstalledFiles, log: Logger): Promise<string[]> {
  const removed: string[] = [];
  const confPath = join(files.confDir, files.confFileName);
  try {
    const conf = JSON.parse(await fs.readFile(confPath)) as {
      plugins?: Array<{ type?: unknown }>;
      type?: unknown;
    };
    const type = conf.plugins?.[0]?.type ?? conf.type;
    if (type === files.shimType) {
      await fs.remove(confPath);
      removed.push(confPath);
    } else {
      log.warn('left the CNI config in place: it is not the one the agent writes', { path: confPath });
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      log.warn('cannot read the generated CNI config; left in place', {
        path: confPath,
        error: errorMessage(err),
      });
    }
  }
  if (files.shimSource && (await sameContent(files.shimSource, files.shimPath))) {
    await fs.remove(files.shimPath);
    removed.push(files.shimPath);
  }
  return removed;
}
