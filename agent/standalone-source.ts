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
  /** Parsed objects per file, re-read only when the file's mtime or size changes. */
  private readonly files = new Map<string, { signature: string; objects: JsonObject[] }>();

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
    const present = new Set(names);
    for (const name of [...this.files.keys()]) if (!present.has(name)) this.files.delete(name);
    const out: JsonObject[] = [];
    for (const name of names) {
      const path = join(this.dir, name);
      const info = await this.fs.stat(path);
      const signature = `${info?.mtimeMs}:${info?.size}`;
      let entry = this.files.get(name);
      if (!entry || entry.signature !== signature) {
        entry = { signature, objects: [] };
        try {
          entry.objects = parseManifests(await this.fs.readFile(path))
            .map((d) => d.object)
            .filter((o) => o.kind === this.kind);
        } catch (err) {
          this.log.warn('cannot read manifest file', { path, error: errorMessage(err) });
        }
        this.files.set(name, entry);
      }
      out.push(...entry.objects);
    }
    return out;
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
