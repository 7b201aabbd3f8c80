/**
 * The network source without an API server: NADs (and, optionally, pods with their annotations) are
 * read from YAML/JSON manifest files in directories, and network-status is written to a file per pod
 * under the state dir. Files are re-read when they change.
 */
import { join } from 'node:path';
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import { parseManifests } from '../lib/k8s/manifests.ts';
import { nadKind, validateNad } from '../lib/nad.ts';
import type { NetworkStatus } from '../lib/network-status.ts';
import type { FileSystem } from '../lib/ports.ts';
import { isObject, type JsonObject } from '../lib/safe-json.ts';
import type { NetworkDefinition, NetworkSource, PodInfo, PodRef } from './network-source.ts';

const manifestFile = /\.(ya?ml|json)$/;

/** Objects of one kind read from a directory of manifests, re-read when a file's mtime or size changes. */
class ManifestDir {
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly kind: string;
  private readonly log: Logger;
  private signature = '';
  private objects: JsonObject[] = [];

  constructor(fs: FileSystem, dir: string, kind: string, log: Logger) {
    this.fs = fs;
    this.dir = dir;
    this.kind = kind;
    this.log = log;
  }

  async read(): Promise<JsonObject[]> {
    const names = (await this.fs.list(this.dir))
      .filter((n) => manifestFile.test(n) && !n.startsWith('.'))
      .sort();
    const stats = await Promise.all(
      names.map(async (n) => [n, await this.fs.stat(join(this.dir, n))] as const),
    );
    const signature = stats.map(([n, s]) => `${n}:${s?.mtimeMs}:${s?.size}`).join('|');
    if (signature === this.signature) return this.objects;
    const objects: JsonObject[] = [];
    for (const [name] of stats) {
      const path = join(this.dir, name);
      try {
        for (const document of parseManifests(await this.fs.readFile(path))) {
          if (document.object.kind === this.kind) objects.push(document.object);
        }
      } catch (err) {
        this.log.warn('cannot read manifest file', { path, error: errorMessage(err) });
      }
    }
    this.signature = signature;
    this.objects = objects;
    return objects;
  }
}

function metadataOf(object: JsonObject): {
  name: string;
  namespace: string;
  uid: string;
  annotations: Record<string, string>;
} {
  const metadata = isObject(object.metadata) ? object.metadata : {};
  const annotations: Record<string, string> = {};
  if (isObject(metadata.annotations)) {
    for (const [k, v] of Object.entries(metadata.annotations)) if (typeof v === 'string') annotations[k] = v;
  }
  return {
    name: typeof metadata.name === 'string' ? metadata.name : '',
    namespace: typeof metadata.namespace === 'string' ? metadata.namespace : 'default',
    uid: typeof metadata.uid === 'string' ? metadata.uid : '',
    annotations,
  };
}

export interface StandaloneSourceOptions {
  readonly nadDir: string;
  readonly podDir?: string | undefined;
  readonly stateDir: string;
}

export class StandaloneSource implements NetworkSource {
  private readonly fs: FileSystem;
  private readonly nads: ManifestDir;
  private readonly pods: ManifestDir | undefined;
  private readonly statusDir: string;

  constructor(fs: FileSystem, options: StandaloneSourceOptions, log: Logger) {
    this.fs = fs;
    this.nads = new ManifestDir(fs, options.nadDir, nadKind, log);
    this.pods = options.podDir ? new ManifestDir(fs, options.podDir, 'Pod', log) : undefined;
    this.statusDir = join(options.stateDir, 'network-status');
  }

  async getPod(ref: PodRef): Promise<PodInfo | undefined> {
    if (!this.pods) return undefined;
    for (const object of await this.pods.read()) {
      const meta = metadataOf(object);
      if (meta.name === ref.name && meta.namespace === ref.namespace) {
        return {
          namespace: meta.namespace,
          name: meta.name,
          uid: meta.uid || ref.uid,
          annotations: meta.annotations,
        };
      }
    }
    return undefined;
  }

  async getNetwork(namespace: string, name: string): Promise<NetworkDefinition | undefined> {
    for (const object of await this.nads.read()) {
      const meta = metadataOf(object);
      if (meta.name !== name || meta.namespace !== namespace) continue;
      try {
        const nad = validateNad(object, namespace);
        return { namespace, name, config: nad.config, annotations: meta.annotations };
      } catch (err) {
        return {
          namespace,
          name,
          config: undefined,
          invalid: errorMessage(err),
          annotations: meta.annotations,
        };
      }
    }
    return undefined;
  }

  /** All NADs in the directory (for the agent's node report). */
  async listNetworks(): Promise<NetworkDefinition[]> {
    const out: NetworkDefinition[] = [];
    for (const object of await this.nads.read()) {
      const meta = metadataOf(object);
      const found = await this.getNetwork(meta.namespace, meta.name);
      if (found) out.push(found);
    }
    return out;
  }

  async publishStatus(pod: PodRef, statuses: readonly NetworkStatus[]): Promise<void> {
    await this.fs.mkdir(this.statusDir, 0o755);
    await this.fs.writeFileAtomic(
      join(this.statusDir, `${pod.namespace}_${pod.name}.json`),
      `${JSON.stringify(statuses, null, 2)}\n`,
      0o644,
    );
  }
}
