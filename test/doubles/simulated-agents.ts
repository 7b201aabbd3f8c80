/**
 * Simulated node agents for the controller's cluster tests and benchmark (not used by the product):
 * each writes a NodeNetworkState the way the real agent does, with digests over every NAD it holds
 * (lib/node-state.ts) and problems for the plugins and interfaces its node lacks.
 *
 *   const agents = new SimulatedAgents(rest, log);
 *   const nodeA = agents.node('test-a-1234', { labels, plugins: new Set(['bridge']) });
 *   await agents.start(); // follows every NAD in the cluster and reports after each change
 */
import type { Logger } from 'winston';
import { nadInformer, type NadObject } from '../../platform/kube/informers.ts';
import type { ResilientInformer } from '../../platform/kube/informer.ts';
import {
  contentTypes,
  isAlreadyExists,
  isNotFound,
  type KubeClient,
  type KubeRequester,
} from '../../platform/kube/rest.ts';
import { checkNad } from '../../lib/nad.ts';
import {
  bucketDigests,
  problemOnNode,
  sortProblems,
  configHash,
  networkKey,
  nodeStateApiVersion,
  nodeStateGroup,
  nodeStateKind,
  nodeStatePlural,
  nodeStateVersion,
  type NodeNetworkProblem,
  type NodeNetworkStateStatus,
} from '../../lib/node-state.ts';

export interface SimulatedNodeOptions {
  readonly labels?: Record<string, string>;
  /** Plugin binaries the node has; every plugin when undefined. */
  plugins?: ReadonlySet<string> | undefined;
  /** Host interfaces the node has; every interface when undefined. */
  interfaces?: ReadonlySet<string> | undefined;
  /** The heartbeat written with each report (default: now). */
  heartbeat?: (() => Date) | undefined;
}

const path = `/apis/${nodeStateGroup}/${nodeStateVersion}/${nodeStatePlural}`;

/** The digests of a node that holds exactly these NADs. */
function heldDigests(nads: readonly NadObject[]): string[] {
  return bucketDigests(
    nads.map((nad) => ({
      key: networkKey(nad.metadata.namespace ?? 'default', nad.metadata.name),
      hash: configHash(nad.spec?.config),
    })),
  );
}

/** The report a node with these plugins and interfaces writes for these NADs. */
export function simulatedStatus(
  name: string,
  nads: readonly NadObject[],
  options: SimulatedNodeOptions,
  now: Date,
  /** bucketDigests of `nads`, when the caller computed them already. */
  digests?: string[],
): NodeNetworkStateStatus {
  const problems: NodeNetworkProblem[] = [];
  const checkProblems = options.plugins !== undefined || options.interfaces !== undefined;
  for (const nad of checkProblems ? nads : []) {
    const namespace = nad.metadata.namespace ?? 'default';
    const check = checkNad(nad, namespace);
    // the controller reports invalid configs on the NAD itself
    if (!check.accepted) continue;
    // The real agent's rule (lib/node-state.ts), on a node whose conf dir holds no config of that name.
    const subject = { namespace, name: nad.metadata.name, configHash: configHash(nad.spec?.config) };
    const problem = problemOnNode(subject, check.config, options, '/etc/cni/net.d');
    if (problem) problems.push(problem);
  }
  return {
    nodeName: name,
    agentVersion: 'simulated',
    heartbeatTime: (options.heartbeat?.() ?? now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    cniBinDirs: ['/opt/cni/bin'],
    defaultNetwork: '',
    networkCount: nads.length,
    digests: digests ?? heldDigests(nads),
    problems: sortProblems(problems),
  };
}

export class SimulatedNode {
  readonly name: string;
  readonly options: SimulatedNodeOptions;
  private readonly rest: KubeRequester;
  private created = false;
  /** Reports written. */
  reports = 0;

  constructor(rest: KubeRequester, name: string, options: SimulatedNodeOptions = {}) {
    this.rest = rest;
    this.name = name;
    this.options = { ...options };
  }

  /** Writes the node's report for `nads` (creating the object first). */
  async report(nads: readonly NadObject[], digests?: string[]): Promise<void> {
    if (!this.created) {
      try {
        await this.rest.request({
          method: 'POST',
          path,
          body: {
            apiVersion: nodeStateApiVersion,
            kind: nodeStateKind,
            metadata: { name: this.name, labels: this.options.labels ?? {} },
            spec: {},
          },
        });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
      this.created = true;
    }
    await this.rest.request({
      method: 'PATCH',
      path: `${path}/${this.name}/status`,
      contentType: contentTypes.mergePatch,
      body: { status: simulatedStatus(this.name, nads, this.options, new Date(), digests) },
    });
    this.reports++;
  }

  async delete(): Promise<void> {
    try {
      await this.rest.request({ method: 'DELETE', path: `${path}/${this.name}` });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    this.created = false;
  }
}

/**
 * A set of simulated nodes that follow every NAD in the cluster and report after changes, at most
 * once per `intervalMs` (as the agent throttles its reports while NADs keep changing).
 */
export class SimulatedAgents {
  private readonly rest: KubeRequester;
  private readonly informer: ResilientInformer<NadObject>;
  private readonly intervalMs: number;
  readonly nodes: SimulatedNode[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(rest: KubeClient, log: Logger, intervalMs = 100) {
    this.rest = rest;
    this.intervalMs = intervalMs;
    this.informer = nadInformer(rest, log);
    const changed = (): void => this.schedule();
    this.informer.on('add', changed);
    this.informer.on('update', changed);
    this.informer.on('delete', changed);
  }

  node(name: string, options: SimulatedNodeOptions = {}): SimulatedNode {
    const node = new SimulatedNode(this.rest, name, options);
    this.nodes.push(node);
    return node;
  }

  /** The NADs the agents hold now. */
  nads(): readonly NadObject[] {
    return this.informer.cache.list();
  }

  async start(): Promise<void> {
    await this.informer.start();
    await this.reportNow();
  }

  /** Every node reports now (serialized with other reports). */
  reportNow(): Promise<void> {
    this.running = this.running
      .catch(() => undefined)
      .then(async () => {
        if (this.stopped) return;
        const nads = this.informer.cache.list();
        const digests = heldDigests(nads);
        await Promise.all(this.nodes.map((node) => node.report(nads, digests)));
      });
    return this.running;
  }

  private schedule(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reportNow().catch(() => undefined);
    }, this.intervalMs);
  }

  /** Calls back on every NAD the agents see added or changed. */
  onNad(callback: (nad: NadObject) => void): void {
    this.informer.on('add', callback);
    this.informer.on('update', callback);
  }

  /** Stops following NADs and deletes the nodes' NodeNetworkStates. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.informer.stop();
    await this.running.catch(() => undefined);
    await Promise.all(this.nodes.map((node) => node.delete()));
  }
}
