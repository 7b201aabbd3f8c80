/**
 * The node's copy of every NAD: kept in memory for lookups and mirrored to one file per NAD under
 * <state-dir>/networks (written atomically, removed when the NAD goes), so an ADD needs no API round
 * trip and works while the API server is away, also right after an agent restart.
 */
import { join } from 'node:path';
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import { configHash, networkKey } from '../lib/node-state.ts';
import type { FileSystem } from '../lib/ports.ts';
import { resourceNameAnnotation } from '../lib/annotations/keys.ts';
import { isObject } from '../lib/safe-json.ts';
import { networkDefinition, type NetworkDefinition } from './network-source.ts';

/** What is stored per NAD (also the file format). */
export interface StoredNetwork {
  readonly namespace: string;
  readonly name: string;
  /** spec.config as the NAD holds it ("" when empty). */
  readonly config: string;
  readonly configHash: string;
  readonly resourceVersion: string;
  /** The NAD's k8s.v1.cni.cncf.io/resourceName annotation, when it has one. */
  readonly resourceName?: string;
}

export interface NadLike {
  readonly metadata?:
    | {
        name?: string;
        namespace?: string;
        resourceVersion?: string;
        annotations?: Readonly<Record<string, string>>;
      }
    | undefined;
  readonly spec?: { config?: string } | undefined;
}

function fileName(namespace: string, name: string): string {
  return `${namespace}_${name}.json`;
}

export class NadStore {
  private readonly fs: FileSystem;
  private readonly dir: string;
  private readonly log: Logger;
  private readonly networks = new Map<string, { stored: StoredNetwork; definition: NetworkDefinition }>();
  /** Called after any change (the node reporter listens). */
  onChange: () => void = () => undefined;

  constructor(fs: FileSystem, stateDir: string, log: Logger) {
    this.fs = fs;
    this.dir = join(stateDir, 'networks');
    this.log = log;
  }

  /** Loads what earlier runs wrote (used until the informer has synced, and while the API is away). */
  async load(): Promise<number> {
    await this.fs.mkdir(this.dir, 0o700);
    for (const file of await this.fs.list(this.dir)) {
      if (!file.endsWith('.json') || file.startsWith('.')) continue;
      try {
        const parsed: unknown = JSON.parse(await this.fs.readFile(join(this.dir, file)));
        if (!isObject(parsed) || typeof parsed.namespace !== 'string' || typeof parsed.name !== 'string')
          continue;
        const stored = parsed as unknown as StoredNetwork;
        this.networks.set(networkKey(stored.namespace, stored.name), {
          stored,
          definition: toDefinition(stored),
        });
      } catch (err) {
        this.log.warn('ignoring an unreadable stored network', { file, error: errorMessage(err) });
      }
    }
    return this.networks.size;
  }

  get(namespace: string, name: string): NetworkDefinition | undefined {
    return this.networks.get(networkKey(namespace, name))?.definition;
  }

  all(): StoredNetwork[] {
    return [...this.networks.values()].map((n) => n.stored);
  }

  /** Records a NAD added or changed in the cluster. */
  async upsert(nad: NadLike): Promise<void> {
    const namespace = nad.metadata?.namespace ?? 'default';
    const name = nad.metadata?.name ?? '';
    if (!name) return;
    const config = nad.spec?.config ?? '';
    const resourceName = nad.metadata?.annotations?.[resourceNameAnnotation];
    const stored: StoredNetwork = {
      namespace,
      name,
      config,
      configHash: configHash(config),
      resourceVersion: nad.metadata?.resourceVersion ?? '',
      ...(resourceName !== undefined ? { resourceName } : {}),
    };
    const key = networkKey(namespace, name);
    const current = this.networks.get(key)?.stored;
    if (
      current &&
      current.configHash === stored.configHash &&
      current.resourceVersion === stored.resourceVersion
    )
      return;
    await this.fs.writeFileAtomic(
      join(this.dir, fileName(namespace, name)),
      `${JSON.stringify(stored)}\n`,
      0o600,
    );
    this.networks.set(key, { stored, definition: toDefinition(stored) });
    this.onChange();
  }

  async remove(namespace: string, name: string): Promise<void> {
    if (!this.networks.delete(networkKey(namespace, name))) return;
    await this.fs.remove(join(this.dir, fileName(namespace, name)));
    this.onChange();
  }

  /** After a full list: drops what the cluster no longer has (NADs deleted while the agent was down). */
  async prune(present: ReadonlySet<string>): Promise<void> {
    for (const { stored } of [...this.networks.values()]) {
      if (!present.has(networkKey(stored.namespace, stored.name)))
        await this.remove(stored.namespace, stored.name);
    }
  }
}

function toDefinition(stored: StoredNetwork): NetworkDefinition {
  const annotations =
    stored.resourceName !== undefined ? { [resourceNameAnnotation]: stored.resourceName } : undefined;
  const object = {
    apiVersion: 'k8s.cni.cncf.io/v1',
    kind: 'NetworkAttachmentDefinition',
    metadata: { name: stored.name, namespace: stored.namespace, ...(annotations ? { annotations } : {}) },
    spec: { config: stored.config },
  };
  return networkDefinition(object, stored.namespace, stored.name);
}
