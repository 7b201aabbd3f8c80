/**
 * The NAD status controller, wired as controller-runtime wires one: watches (informer events) keep two
 * indexes current (what every node should hold, and what the nodes report) and enqueue the NADs whose
 * status may have changed; a ControllerRunner (runner.ts) runs the NadReconciler (nad.reconciler.ts)
 * over them while this replica leads.
 *
 * Scale (5,000 NADs x 500 nodes): a node report enqueues only the NADs of the buckets whose digest
 * moved and those whose problems changed; node reports are coalesced for nodeBatchMs; a timer wakes up
 * when the next node's heartbeat turns stale; and the reconciler's own writes, echoed back by the
 * watch, do not enqueue anything.
 */
import type { Logger } from 'winston';
import type { EventRecorder } from '../platform/kube/events.ts';
import type { NadObject, NodeObject } from '../platform/kube/informers.ts';
import { resourceNameAnnotation } from '../lib/annotations/keys.ts';
import type { KubeRequester } from '../platform/kube/rest.ts';
import type { NodeNetworkState } from '../lib/node-state.ts';
import type { ControllerMetrics } from './metrics.ts';
import { NadReconciler, nadKey, type NadReconcilerOptions } from './nad.reconciler.ts';
import { WrittenCache, type NadCache } from './written-cache.ts';
import { NetworkIndex } from './network-index.ts';
import { NodeIndex, type NodeChange } from './node-index.ts';
import { ResourceIndex } from './resource-index.ts';
import { ControllerRunner } from './runner.ts';
import type { Scheduler } from '../lib/ports.ts';
import { realScheduler } from '../platform/nodejs/clock.ts';

export interface NadControllerOptions extends NadReconcilerOptions {
  /** Reconciles running at once. */
  readonly workers: number;
  /** Every NAD is requeued this often, as a safety net. Default 10 minutes. */
  readonly resyncIntervalMs?: number;
  /** Node report changes are coalesced this long before requeueing. Default 250 ms. */
  readonly nodeBatchMs?: number;
}

export interface NadControllerDeps {
  readonly nads: NadCache;
  readonly rest: KubeRequester;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly metrics?: ControllerMetrics | undefined;
  /** Time and timers (the work queue's, the node batch's and the stale timer's). */
  readonly scheduler?: Scheduler;
}

export class NadController {
  private readonly options: NadControllerOptions;
  private readonly log: Logger;
  private readonly scheduler: Scheduler;
  readonly networks = new NetworkIndex();
  readonly nodes: NodeIndex;
  readonly resources = new ResourceIndex();
  readonly reconciler: NadReconciler;
  /** The informer's cache with the reconciler's own writes laid over it until the watch delivers them. */
  private readonly nads: WrittenCache;
  readonly runner: ControllerRunner;
  private pendingNodes: { all: boolean; buckets: Set<number>; keys: Set<string> } | undefined;
  private nodeBatchTimer: { cancel(): void } | undefined;
  private staleTimer: { cancel(): void } | undefined;

  constructor(options: NadControllerOptions, deps: NadControllerDeps) {
    this.options = options;
    this.log = deps.log;
    this.scheduler = deps.scheduler ?? realScheduler;
    this.nodes = new NodeIndex(options.staleAfterMs);
    const now = (): number => this.scheduler.now();
    this.nads = new WrittenCache(deps.nads, now);
    this.reconciler = new NadReconciler(options, {
      nads: this.nads,
      networks: this.networks,
      nodes: this.nodes,
      resources: this.resources,
      rest: deps.rest,
      events: deps.events,
      log: deps.log,
      metrics: deps.metrics,
      now,
    });
    this.runner = new ControllerRunner(this.reconciler, {
      kind: 'nad',
      workers: options.workers,
      ...(options.resyncIntervalMs !== undefined ? { resyncIntervalMs: options.resyncIntervalMs } : {}),
      keys: () => this.networks.keys(),
      accepts: (key) => this.reconciler.inScope(key),
      log: deps.log,
      metrics: deps.metrics,
      scheduler: this.scheduler,
    });
  }

  /** Keys waiting in the work queue (0 while not leading). */
  get queueDepth(): number {
    return this.runner.queueDepth;
  }

  get leading(): boolean {
    return this.runner.running;
  }

  /** NAD counts by Ready status, for the metrics. */
  countByReady(): Record<string, number> {
    return this.reconciler.countByReady();
  }

  /** Reconciles until `signal` aborts (see ControllerRunner.run). */
  run(signal: AbortSignal): Promise<void> {
    return this.runner.run(signal);
  }

  // ---- watches ---------------------------------------------------------------------------------

  nadChanged(nad: NadObject): void {
    const key = nadKey(nad.metadata.namespace, nad.metadata.name);
    const specChanged = this.networks.upsert(key, nad.spec?.config);
    if (specChanged) this.caughtUp(key);
    // The watch echoes the reconciler's own status write: nothing new to react to.
    if (this.nads.isEcho(nad) && !specChanged) return;
    this.runner.enqueue(key);
  }

  nadDeleted(nad: NadObject): void {
    const key = nadKey(nad.metadata.namespace, nad.metadata.name);
    const bucket = this.networks.bucketOf(key);
    this.networks.remove(key);
    this.reconciler.forget(key);
    if (bucket !== undefined) this.caughtUpBucket(bucket);
  }

  /**
   * After the cache moved a bucket on: a node whose report was ahead of the cache (its NAD watch was
   * faster than the controller's) now matches, so the bucket's NADs may have become present there.
   */
  private caughtUp(key: string): void {
    const bucket = this.networks.bucketOf(key);
    if (bucket !== undefined) this.caughtUpBucket(bucket);
  }

  private caughtUpBucket(bucket: number): void {
    if (!this.runner.running) return;
    const digest = this.networks.expectedDigest(bucket);
    if (!this.nodes.eligible().some((node) => node.digests[bucket] === digest)) return;
    for (const other of this.networks.keysInBucket(bucket)) this.runner.enqueue(other);
  }

  nodeChanged(state: NodeNetworkState): void {
    this.addNodeChange(this.nodes.upsert(state, this.scheduler.now()));
  }

  nodeDeleted(state: NodeNetworkState): void {
    this.addNodeChange(this.nodes.remove(state.metadata.name));
  }

  /** A Node's advertised resources changed: the NADs of resources now advertised nowhere (or again somewhere). */
  kubeNodeChanged(node: NodeObject): void {
    this.resourcesFlipped(this.resources.upsert(node));
  }

  kubeNodeDeleted(node: NodeObject): void {
    this.resourcesFlipped(this.resources.remove(node.metadata.name));
  }

  private resourcesFlipped(resources: ReadonlySet<string>): void {
    if (resources.size === 0 || !this.runner.running) return;
    for (const nad of this.nads.list()) {
      const resource = nad.metadata.annotations?.[resourceNameAnnotation];
      if (resource !== undefined && resources.has(resource))
        this.runner.enqueue(nadKey(nad.metadata.namespace, nad.metadata.name));
    }
  }

  private addNodeChange(change: NodeChange): void {
    this.armStaleTimer();
    if (!change.all && change.buckets.size === 0 && change.keys.size === 0) return;
    const pending = (this.pendingNodes ??= { all: false, buckets: new Set(), keys: new Set() });
    pending.all ||= change.all;
    for (const b of change.buckets) pending.buckets.add(b);
    for (const k of change.keys) pending.keys.add(k);
    this.nodeBatchTimer ??= this.scheduler.setTimer(() => {
      this.nodeBatchTimer = undefined;
      this.flushNodeChanges();
    }, this.options.nodeBatchMs ?? 250);
  }

  private flushNodeChanges(): void {
    const pending = this.pendingNodes;
    this.pendingNodes = undefined;
    if (!pending || !this.runner.running) return;
    if (pending.all) {
      this.runner.enqueueAll();
      return;
    }
    for (const bucket of pending.buckets)
      for (const key of this.networks.keysInBucket(bucket)) this.runner.enqueue(key);
    for (const key of pending.keys) if (this.networks.hashOf(key) !== undefined) this.runner.enqueue(key);
  }

  /** Wakes up when the next eligible node's heartbeat turns stale. */
  private armStaleTimer(): void {
    this.staleTimer?.cancel();
    this.staleTimer = undefined;
    const next = this.nodes.nextExpiry();
    if (next === undefined) return;
    this.staleTimer = this.scheduler.setTimer(
      () => {
        this.staleTimer = undefined;
        if (this.nodes.refresh(this.scheduler.now())) {
          this.log.info('the set of eligible nodes changed', { stale: this.nodes.stale() });
          this.addNodeChange({ all: true, buckets: new Set(), keys: new Set() });
        } else this.armStaleTimer();
      },
      Math.max(0, next - this.scheduler.now()),
    );
  }

  /** Stops the timers (after run() has returned). */
  dispose(): void {
    this.nodeBatchTimer?.cancel();
    this.staleTimer?.cancel();
    this.nodeBatchTimer = undefined;
    this.staleTimer = undefined;
    this.pendingNodes = undefined;
  }
}
