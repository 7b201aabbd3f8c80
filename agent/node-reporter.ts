/**
 * Writes this node's NodeNetworkState: which NADs it cannot use and why (plugin binaries missing from
 * the CNI bin dirs, host interfaces missing, no config file for an empty-config NAD), bucket digests
 * of every NAD it holds, and, when NADs name device plugin resources, the node's allocatable count of
 * each (read from its Node). Written after changes (debounced) and as a heartbeat.
 */
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import {
  bucketDigests,
  problemOnNode,
  sortProblems,
  networkKey,
  nodeStateApiVersion,
  nodeStateGroup,
  nodeStateKind,
  nodeStatePath,
  nodeStatePlural,
  nodeStateVersion,
  type NodeInventory,
  type NodeNetworkProblem,
  type NodeNetworkStateStatus,
  type NodeResourceCount,
} from '../lib/node-state.ts';
import { wholeQuantity } from '../lib/devices.ts';
import type { UsableNetwork } from '../lib/dra.ts';
import type { FileSystem } from '../lib/ports.ts';
import { contentTypes, isAlreadyExists, isNotFound, type KubeRequester } from '../platform/kube/rest.ts';
import { findByNetworkName, type ConfDirScan } from './conf-dir.ts';
import type { NadStore } from './nad-store.ts';

/** The plugin binaries in the bin dirs and the host's network interfaces. */
export async function readInventory(
  fs: FileSystem,
  binDirs: readonly string[],
  sysClassNet: string,
): Promise<NodeInventory> {
  const plugins = new Set<string>();
  for (const dir of binDirs) for (const name of await fs.list(dir)) plugins.add(name);
  return { plugins, interfaces: new Set(await fs.list(sysClassNet)) };
}

/** The problems of every stored NAD on a node with this inventory. */
export function nodeProblems(
  store: NadStore,
  inventory: NodeInventory,
  scan: ConfDirScan,
  confDir: string,
): NodeNetworkProblem[] {
  const problems: NodeNetworkProblem[] = [];
  for (const stored of store.all()) {
    const definition = store.get(stored.namespace, stored.name);
    if (!definition || definition.invalid) continue; // the controller reports invalid configs on the NAD
    const config = definition.config ?? findByNetworkName(scan, stored.name)?.config;
    const problem = problemOnNode(stored, config, inventory, confDir);
    if (problem) problems.push(problem);
  }
  return sortProblems(problems);
}

/**
 * The NADs this node can use: valid, with a config (theirs, or the conf dir's file of their name), and
 * no problem here. The DRA driver offers each as a device.
 */
export function usableNetworks(
  store: NadStore,
  problems: readonly NodeNetworkProblem[],
  scan: ConfDirScan,
): UsableNetwork[] {
  const unusable = new Set(problems.map((p) => networkKey(p.namespace, p.name)));
  const usable: UsableNetwork[] = [];
  for (const stored of store.all()) {
    if (unusable.has(networkKey(stored.namespace, stored.name))) continue;
    const definition = store.get(stored.namespace, stored.name);
    if (!definition || definition.invalid) continue;
    const config = definition.config ?? findByNetworkName(scan, stored.name)?.config;
    if (!config) continue;
    usable.push({
      namespace: stored.namespace,
      name: stored.name,
      configText: stored.config,
      config,
      ...(stored.resourceName !== undefined ? { resourceName: stored.resourceName } : {}),
    });
  }
  return usable;
}

export interface NodeReporterOptions {
  readonly client: KubeRequester;
  readonly fs: FileSystem;
  readonly store: NadStore;
  readonly scan: () => Promise<ConfDirScan>;
  readonly nodeName: string;
  readonly binDirs: readonly string[];
  readonly confDir: string;
  readonly agentVersion: string;
  readonly log: Logger;
  readonly heartbeatMs: number;
  readonly debounceMs: number;
  readonly sysClassNet?: string;
  readonly now?: () => Date;
  /** The CNI shim and the conf dir as they are now (which shim, is the generated config first, ...). */
  readonly facts?: () => Promise<Pick<NodeNetworkStateStatus, 'shim' | 'cniConfig'>>;
}

export class NodeReporter {
  private readonly options: NodeReporterOptions;
  private lastWritten = '';
  private lastWriteAt = 0;
  private debounce: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private created = false;
  /** Told the networks usable on the node each time the report is computed (the DRA driver listens). */
  onUsable: ((networks: UsableNetwork[]) => void) | undefined;

  constructor(options: NodeReporterOptions) {
    this.options = options;
  }

  private get path(): string {
    return nodeStatePath(this.options.nodeName);
  }

  /** The status the node would report now. */
  async compute(): Promise<NodeNetworkStateStatus> {
    const o = this.options;
    const [inventory, scan, facts] = await Promise.all([
      readInventory(o.fs, o.binDirs, o.sysClassNet ?? '/sys/class/net'),
      o.scan(),
      o.facts?.().catch((err: unknown) => {
        o.log.warn('cannot read the shim and conf-dir facts for the report', { error: errorMessage(err) });
        return {};
      }),
    ]);
    const held = o.store.all();
    const resources = await this.resourceCounts(held.map((s) => s.resourceName));
    const problems = nodeProblems(o.store, inventory, scan, o.confDir);
    this.onUsable?.(usableNetworks(o.store, problems, scan));
    return {
      nodeName: o.nodeName,
      agentVersion: o.agentVersion,
      heartbeatTime: (o.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      cniBinDirs: [...o.binDirs],
      defaultNetwork: scan.files[0]?.path ?? '',
      networkCount: held.length,
      digests: bucketDigests(held.map((s) => ({ key: networkKey(s.namespace, s.name), hash: s.configHash }))),
      problems,
      ...(resources ? { resources } : {}),
      ...facts,
    };
  }

  /** The node's allocatable count of each resource the NADs name (one GET of the Node), sorted by name. */
  private async resourceCounts(
    names: ReadonlyArray<string | undefined>,
  ): Promise<NodeResourceCount[] | undefined> {
    const wanted = [...new Set(names.filter((n): n is string => n !== undefined))].sort();
    if (wanted.length === 0) return undefined;
    let allocatable: Readonly<Record<string, unknown>>;
    try {
      const node = await this.options.client.request<{ status?: { allocatable?: Record<string, unknown> } }>({
        method: 'GET',
        path: `/api/v1/nodes/${encodeURIComponent(this.options.nodeName)}`,
      });
      allocatable = node.status?.allocatable ?? {};
    } catch (err) {
      this.options.log.warn("cannot read the node's allocatable resources", { error: errorMessage(err) });
      return undefined;
    }
    return wanted.map((name) => ({ name, allocatable: wholeQuantity(allocatable[name]) ?? 0 }));
  }

  /** Writes the report if it changed or the heartbeat is due; serialized, never concurrent. */
  report(force = false): Promise<void> {
    this.running = this.running
      .then(() => this.write(force))
      .catch((err: unknown) => {
        this.options.log.warn('cannot write the NodeNetworkState', { error: errorMessage(err) });
      });
    return this.running;
  }

  /** Reports soon (debounced): after NAD or conf-dir changes. */
  trigger(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => void this.report(), this.options.debounceMs);
    this.debounce.unref();
  }

  start(): void {
    void this.report(true);
    this.heartbeat = setInterval(() => void this.report(), this.options.heartbeatMs);
    this.heartbeat.unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.debounce);
    clearInterval(this.heartbeat);
    await this.running;
  }

  private async write(force: boolean): Promise<void> {
    const status = await this.compute();
    const { heartbeatTime: _heartbeat, ...comparable } = status;
    const key = JSON.stringify(comparable);
    const heartbeatDue = Date.now() - this.lastWriteAt >= this.options.heartbeatMs - 1000;
    if (!force && key === this.lastWritten && !heartbeatDue) return;
    await this.ensureObject();
    await this.options.client.request({
      method: 'PATCH',
      path: `${this.path}/status`,
      // A merge patch: resources: null removes counts an earlier report had.
      body: { status: { resources: null, ...status } },
      contentType: contentTypes.mergePatch,
      ignoreResponse: true,
    });
    this.lastWritten = key;
    this.lastWriteAt = Date.now();
  }

  private async ensureObject(): Promise<void> {
    if (this.created) return;
    try {
      await this.options.client.request({ method: 'GET', path: this.path, ignoreResponse: true });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.options.client
        .request({
          method: 'POST',
          path: `/apis/${nodeStateGroup}/${nodeStateVersion}/${nodeStatePlural}`,
          body: {
            apiVersion: nodeStateApiVersion,
            kind: nodeStateKind,
            metadata: {
              name: this.options.nodeName,
              labels: { 'app.kubernetes.io/managed-by': 'multinet-agent' },
            },
            spec: {},
          },
        })
        .catch((createErr: unknown) => {
          if (!isAlreadyExists(createErr)) throw createErr;
        });
    }
    this.created = true;
  }
}
