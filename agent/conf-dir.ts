/**
 * The node's CNI configuration directory: which files are network configs, which one is the default
 * network (the lexicographically first valid config that is not multinet's own and does not nest a
 * meta-plugin), and lookups by network name for NADs with an empty spec.config.
 */
import { join } from 'node:path';
import { validateCniConfig, type NetworkConfig } from '../lib/cni/config.ts';
import { errorMessage } from '../lib/errors.ts';
import type { FileSystem } from '../lib/ports.ts';

export interface ConfFile {
  readonly path: string;
  readonly config: NetworkConfig;
}

export interface ConfDirScan {
  readonly files: readonly ConfFile[];
  /** Files that were skipped, and why (invalid JSON, a meta-plugin, ...). */
  readonly skipped: ReadonlyArray<{ path: string; reason: string }>;
}

const configExtensions = ['.conf', '.conflist', '.json'];
/**
 * Multus' own plugin types (thin and thick): meta-plugins that delegate to other configs, so never the
 * default network (it would nest meta-plugins); the runtime's cache entries of their network are Multus'.
 */
export const multusMetaPlugins: ReadonlySet<string> = new Set(['multus', 'multus-shim']);

/** A file name the runtime loads as a CNI config (libcni's extensions; not the temp files of atomic writes). */
export function isConfigFileName(name: string): boolean {
  return !name.startsWith('.') && configExtensions.some((ext) => name.endsWith(ext));
}

export async function scanConfDir(
  fs: FileSystem,
  dir: string,
  ownFileName: string,
  shimType: string,
): Promise<ConfDirScan> {
  const names = (await fs.list(dir)).filter(isConfigFileName).sort();
  const files: ConfFile[] = [];
  const skipped: Array<{ path: string; reason: string }> = [];
  for (const name of names) {
    const path = join(dir, name);
    if (name === ownFileName) continue;
    let text: string;
    try {
      const info = await fs.stat(path);
      if (!info?.isFile) continue;
      text = await fs.readFile(path);
    } catch (err) {
      skipped.push({ path, reason: `cannot read: ${errorMessage(err)}` });
      continue;
    }
    try {
      const { config } = validateCniConfig(text, { defaultName: name.replace(/\.[^.]+$/, '') });
      const nested = config.plugins
        .map((p) => p.type as string)
        .find((t) => t === shimType || multusMetaPlugins.has(t));
      if (nested) {
        skipped.push({ path, reason: `uses the meta-plugin "${nested}"; it cannot be the default network` });
        continue;
      }
      files.push({ path, config });
    } catch (err) {
      skipped.push({ path, reason: errorMessage(err) });
    }
  }
  return { files, skipped };
}

export function findByNetworkName(scan: ConfDirScan, name: string): ConfFile | undefined {
  return scan.files.find((f) => f.config.name === name);
}
