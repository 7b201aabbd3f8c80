/**
 * Pods that Multus (thick) attached before multinet took the node over. Their later DEL comes to
 * multinet, which holds no record of them; Multus kept its own, and multinet reads it so that everything
 * Multus attached is released (IPAM leases included), then removes it:
 *
 * - `<cniDir>/<containerID>`: the pod's delegates as Multus' daemon saved them at ADD (a JSON list of its
 *   DelegateNetConf: the raw network configuration in `Bytes`, base64; the first delegate is the default
 *   network on the runtime's interface, the others on `ifnameRequest` or net<position>);
 * - `<cniDir>/results/<network name>-<containerID>-<ifname>`: libcni's cache of each delegate's result and
 *   capability arguments (Multus runs its delegates through libcni with cniDir as the cache dir), which
 *   DEL hands the delegate as prevResult and runtimeConfig, as libcni does.
 *
 * The default cniDir is Multus' (`/var/lib/cni/multus`). The agent reads it as the host sees it (through
 * the host's root when it runs in a container, see cli/agent.ts).
 *
 * The container runtime kept a cache of its own (libcni's, `<runtime cache dir>/results/<network
 * name>-<containerID>-<ifname>`) of the network it called, Multus' (`multus-cni-network`): its DEL now
 * calls multinet's network, of another name, so it never removes that entry. With the runtime's cache dir
 * given, the entry of a Multus meta-plugin for the container is removed with Multus' record.
 */
import { join } from 'node:path';
import { validateCniConfig } from '../lib/cni/config.ts';
import { containerIdError } from '../lib/cni/request.ts';
import { errorMessage } from '../lib/errors.ts';
import type { FileSystem } from '../lib/ports.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';
import type { AttachmentRecord } from './attachment-cache.ts';
import { multusMetaPlugins } from './conf-dir.ts';

/** Where Multus thick keeps its per-container delegates (its daemon config's cniDir). */
export const defaultMultusCacheDir = '/var/lib/cni/multus';

/** One container's delegates as Multus recorded them, and the files that recorded them. */
export interface MultusRecord {
  readonly containerId: string;
  readonly attachments: readonly AttachmentRecord[];
  /**
   * The scratch file, the result cache files and the runtime's cache entry of Multus' network, removed
   * once the delegates are deleted.
   */
  readonly files: readonly string[];
}

/** The JSON object `text` holds, or undefined (missing, not JSON, not an object). */
function objectIn(text: string | undefined): JsonObject | undefined {
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as unknown;
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function decodeBytes(value: unknown): JsonObject | undefined {
  return typeof value === 'string' ? objectIn(Buffer.from(value, 'base64').toString('utf8')) : undefined;
}

/** libcni's cached entry of one delegate: its result and the capability arguments it was given. */
function cachedEntry(text: string | undefined): { result?: JsonObject; runtimeConfig?: JsonObject } {
  const parsed = objectIn(text);
  return {
    ...(isObject(parsed?.result) ? { result: parsed.result } : {}),
    ...(isObject(parsed?.capabilityArgs) ? { runtimeConfig: parsed.capabilityArgs } : {}),
  };
}

/** Whether a libcni cache entry is of a Multus network: its cached config (base64) runs a Multus meta-plugin. */
function isMultusEntry(text: string | undefined): boolean {
  const config = decodeBytes(objectIn(text)?.config);
  if (!config) return false;
  try {
    return validateCniConfig(config).config.plugins.some((p) => multusMetaPlugins.has(p.type as string));
  } catch {
    return false;
  }
}

export class MultusCache {
  private readonly fs: FileSystem;
  /** Multus' cniDir as this process sees it. */
  readonly dir: string;
  /** The container runtime's libcni cache dir as this process sees it (its `results/`), when given. */
  private readonly runtimeCacheDir: string | undefined;

  constructor(fs: FileSystem, dir: string, runtimeCacheDir?: string) {
    this.fs = fs;
    this.dir = dir;
    this.runtimeCacheDir = runtimeCacheDir;
  }

  /** The runtime's cache entries of a Multus network for the container on its interface. */
  private async runtimeEntries(containerId: string, runtimeIfName: string): Promise<string[]> {
    if (!this.runtimeCacheDir) return [];
    const dir = join(this.runtimeCacheDir, 'results');
    const suffix = `-${containerId}-${runtimeIfName}`;
    const found: string[] = [];
    for (const name of await this.fs.list(dir)) {
      if (!name.endsWith(suffix)) continue;
      const file = join(dir, name);
      if (isMultusEntry(await this.fs.readFile(file).catch(() => undefined))) found.push(file);
    }
    return found;
  }

  /**
   * What Multus attached to the container, in its order (default network first), or undefined when
   * Multus recorded nothing for it. A record that cannot be read is an error naming the file.
   */
  async read(containerId: string, runtimeIfName: string): Promise<MultusRecord | undefined> {
    if (containerIdError(containerId)) return undefined;
    const file = join(this.dir, containerId);
    let text: string;
    try {
      text = await this.fs.readFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read Multus' record ${file}: ${errorMessage(err)}`, { cause: err });
    }
    let delegates: unknown;
    try {
      delegates = JSON.parse(text);
    } catch (err) {
      throw new Error(`Multus' record ${file} is not JSON: ${errorMessage(err)}`, { cause: err });
    }
    if (!Array.isArray(delegates) || delegates.length === 0)
      throw new Error(`Multus' record ${file} is not a list of delegates`);
    const attachments: AttachmentRecord[] = [];
    const files = [file];
    for (const [index, delegate] of delegates.entries()) {
      const config = isObject(delegate) ? decodeBytes(delegate.Bytes) : undefined;
      if (!isObject(delegate) || !config)
        throw new Error(`Multus' record ${file}: delegate ${index} has no network configuration (Bytes)`);
      const isDefault = index === 0;
      const requested = typeof delegate.ifnameRequest === 'string' ? delegate.ifnameRequest : '';
      const ifName = isDefault ? runtimeIfName : requested || `net${index}`;
      const networkName = typeof config.name === 'string' ? config.name : '';
      const name = typeof delegate.Name === 'string' && delegate.Name ? delegate.Name : networkName;
      const resultFile = join(this.dir, 'results', `${networkName}-${containerId}-${ifName}`);
      const entry = cachedEntry(await this.fs.readFile(resultFile).catch(() => undefined));
      if (await this.fs.stat(resultFile)) files.push(resultFile);
      attachments.push({ name, ifName, isDefault, config, ...entry });
    }
    files.push(...(await this.runtimeEntries(containerId, runtimeIfName)));
    return { containerId, attachments, files };
  }

  /** Removes Multus' record of the container once its delegates are deleted. */
  async forget(record: MultusRecord): Promise<void> {
    for (const file of record.files) await this.fs.remove(file);
  }
}
