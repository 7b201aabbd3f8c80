/**
 * The NAD status controller. Informer events keep two indexes current (what every node should hold,
 * and what the nodes report) and queue the NADs whose status may have changed; while this replica
 * leads, workers take keys from a de-duplicating queue and run the level-triggered `reconcile(key)`:
 * read the NAD and the node reports from the caches, compute the status (nad-status.ts), and write it
 * through the status subresource only when it changed, with a resourceVersion precondition and, on a
 * conflict, a fresh read and a recompute. Failures requeue the key with exponential backoff.
 *
 * Scale (5,000 NADs x 500 nodes): a node report requeues only the NADs of the buckets whose digest
 * moved and those whose problems changed; node reports are coalesced for nodeBatchMs; a status that
 * only makes progress (Propagating 3/20 -> 7/20) is written at most every progressIntervalMs; and the
 * controller's own writes, echoed back by the watch, do not requeue anything.
 */
import type { Logger } from 'winston';
import type { EventRecorder, ObjectReference } from '../platform/kube/events.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { contentTypes, isConflict, isNotFound, type KubeRequester } from '../platform/kube/rest.ts';
import { errorMessage } from '../lib/errors.ts';
import { nadApiVersion, nadGroup, nadKind, nadPlural, nadVersion } from '../lib/nad.ts';
import {
  bucketOf,
  configHash,
  networkKey,
  splitNetworkKey,
  type NodeNetworkState,
} from '../lib/node-state.ts';
import { VerdictCache } from './config-verdict.ts';
import type { ControllerMetrics } from './metrics.ts';
import {
  computeNadStatus,
  findCondition,
  progressOnly,
  statusUpToDate,
  type NadStatus,
} from './nad-status.ts';
import { NetworkIndex } from './network-index.ts';
import { NodeIndex, type NodeChange } from './node-index.ts';
import { statusEvents } from './status-events.ts';
import { WorkQueue, realScheduler, type Scheduler } from './work-queue.ts';

/** The controller's view of the NAD informer cache. */
export interface NadCache {
  get(name: string, namespace?: string): NadObject | undefined;
  list(): readonly NadObject[];
}

export interface NadControllerOptions {
  /** A node whose heartbeat is older is not eligible (and named in the Ready message). */
  readonly staleAfterMs: number;
  /** Reconciles running at once. */
  readonly workers: number;
  /** Reconcile only NADs in these namespaces (all when empty). Node digests still cover every NAD. */
  readonly namespaces?: ReadonlySet<string>;
  /** Progress-only status changes of one NAD are written at most this often. Default 5 s. */
  readonly progressIntervalMs?: number;
  /** Every NAD is requeued this often, as a safety net. Default 10 minutes. */
  readonly resyncIntervalMs?: number;
  /** Node report changes are coalesced this long before requeueing. Default 250 ms. */
  readonly nodeBatchMs?: number;
  /** Status writes retried after a conflict (fresh read and recompute) before requeueing. Default 3. */
  readonly conflictRetries?: number;
  /**
   * A NAD created less than this long ago whose only news is that nodes are still picking it up gets
   * its first status when they have (straight to Ready), or once this time has passed. Default 2 s.
   */
  readonly initialGraceMs?: number;
}

export interface NadControllerDeps {
  readonly nads: NadCache;
  readonly rest: KubeRequester;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly metrics?: ControllerMetrics | undefined;
  /** Wall clock (ms since the epoch). */
  readonly now?: () => number;
  readonly scheduler?: Scheduler;
}

export type ReconcileResult = 'unchanged' | 'written' | 'deferred' | 'deleted' | 'out-of-scope';

interface Written {
  readonly resourceVersion: string;
  readonly status: NadStatus;
  readonly at: number;
}

/** The queue key of a NAD. */
export function nadKey(namespace: string | undefined, name: string): string {
  return networkKey(namespace ?? 'default', name);
}

/** How long a record of the controller's own write is trusted over a cache that has not caught up. */
const writtenTtlMs = 60_000;

export class NadController {
  private readonly options: NadControllerOptions;
  private readonly deps: NadControllerDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly scheduler: Scheduler;
  readonly networks = new NetworkIndex();
  readonly nodes: NodeIndex;
  private readonly verdicts = new VerdictCache();
  /** The controller's own status writes until the informer cache shows them. */
  private readonly written = new Map<string, Written>();
  private readonly lastWriteAt = new Map<string, number>();
  private queue: WorkQueue | undefined;
  private pendingNodes: { all: boolean; buckets: Set<number>; keys: Set<string> } | undefined;
  private nodeBatchTimer: { cancel(): void } | undefined;
  private staleTimer: { cancel(): void } | undefined;

  constructor(options: NadControllerOptions, deps: NadControllerDeps) {
    this.options = options;
    this.deps = deps;
    this.log = deps.log;
    this.now = deps.now ?? Date.now;
    this.scheduler = deps.scheduler ?? realScheduler;
    this.nodes = new NodeIndex(options.staleAfterMs);
  }

  /** Keys waiting in the work queue (0 while not leading). */
  get queueDepth(): number {
    return this.queue?.length ?? 0;
  }

  get leading(): boolean {
    return this.queue !== undefined;
  }

  private inScope(key: string): boolean {
    const namespaces = this.options.namespaces;
    return !namespaces || namespaces.size === 0 || namespaces.has(splitNetworkKey(key).namespace);
  }

  private enqueue(key: string): void {
    if (this.queue && this.inScope(key)) this.queue.add(key);
  }

  private enqueueAll(): void {
    if (!this.queue) return;
    for (const key of this.networks.keys()) this.enqueue(key);
  }

  // ---- informer events -------------------------------------------------------------------------

  nadChanged(nad: NadObject): void {
    const key = nadKey(nad.metadata.namespace, nad.metadata.name);
    const specChanged = this.networks.upsert(key, nad.spec?.config);
    if (specChanged) this.caughtUp(key);
    const own = this.written.get(key);
    if (own && own.resourceVersion === nad.metadata.resourceVersion) {
      // The watch echoes the controller's own status write: nothing new to react to.
      this.written.delete(key);
      if (!specChanged) return;
    }
    this.enqueue(key);
  }

  nadDeleted(nad: NadObject): void {
    const key = nadKey(nad.metadata.namespace, nad.metadata.name);
    const bucket = this.networks.bucketOf(key);
    this.networks.remove(key);
    this.forget(key);
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
    if (!this.queue) return;
    const digest = this.networks.expectedDigest(bucket);
    if (!this.nodes.eligible().some((node) => node.digests[bucket] === digest)) return;
    for (const other of this.networks.keysInBucket(bucket)) this.enqueue(other);
  }

  nodeChanged(state: NodeNetworkState): void {
    this.addNodeChange(this.nodes.upsert(state, this.now()));
  }

  nodeDeleted(state: NodeNetworkState): void {
    this.addNodeChange(this.nodes.remove(state.metadata.name));
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
    if (!pending || !this.queue) return;
    if (pending.all) {
      this.enqueueAll();
      return;
    }
    for (const bucket of pending.buckets)
      for (const key of this.networks.keysInBucket(bucket)) this.enqueue(key);
    for (const key of pending.keys) if (this.networks.hashOf(key) !== undefined) this.enqueue(key);
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
        if (this.nodes.refresh(this.now())) {
          this.log.info('the set of eligible nodes changed', { stale: this.nodes.stale() });
          this.addNodeChange({ all: true, buckets: new Set(), keys: new Set() });
        } else this.armStaleTimer();
      },
      Math.max(0, next - this.now()),
    );
  }

  private forget(key: string): void {
    this.verdicts.delete(key);
    this.written.delete(key);
    this.lastWriteAt.delete(key);
  }

  // ---- reconcile -------------------------------------------------------------------------------

  /** The cached NAD, with the controller's own newer status write laid over it. */
  private current(key: string, cached: NadObject): NadObject {
    const own = this.written.get(key);
    if (!own) return cached;
    if (cached.metadata.resourceVersion === own.resourceVersion || this.now() - own.at > writtenTtlMs) {
      this.written.delete(key);
      return cached;
    }
    return {
      ...cached,
      metadata: { ...cached.metadata, resourceVersion: own.resourceVersion },
      status: own.status as unknown as NadObject['status'],
    };
  }

  /** The status the NAD should have now. */
  desiredStatus(key: string, nad: NadObject): NadStatus {
    const bucket = this.networks.bucketOf(key) ?? bucketOf(key);
    const eligible = this.nodes.eligible();
    const hash = configHash(nad.spec?.config);
    // A NAD read fresh after a conflict may be newer than the cache: nodes cannot be known to hold it yet.
    const current = this.networks.hashOf(key) === hash;
    return computeNadStatus({
      generation: nad.metadata.generation ?? 0,
      previous: nad.status,
      verdict: this.verdicts.get(key, nad),
      hash,
      nodes: eligible.map((node) => ({
        name: node.name,
        holds: current && this.networks.holds(key, node.digests[bucket]),
      })),
      problems: this.nodes.problemsFor(key),
      staleNodes: this.nodes.stale(),
      staleAfterMs: this.options.staleAfterMs,
      now: new Date(this.now()),
    });
  }

  /** Brings one NAD's status up to date; safe to repeat. Throws on failures (the caller requeues). */
  async reconcile(key: string): Promise<ReconcileResult> {
    if (!this.inScope(key)) return 'out-of-scope';
    const { namespace, name } = splitNetworkKey(key);
    const cached = this.deps.nads.get(name, namespace);
    if (!cached) {
      this.forget(key);
      return 'deleted';
    }
    let nad = this.current(key, cached);
    const retries = this.options.conflictRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      const next = this.desiredStatus(key, nad);
      if (statusUpToDate(nad.status, next)) return 'unchanged';
      const now = this.now();
      const wait = this.initialWait(nad, next, now);
      if (wait > 0) {
        this.queue?.addAfter(key, wait);
        return 'deferred';
      }
      const last = this.lastWriteAt.get(key);
      const interval = this.options.progressIntervalMs ?? 5000;
      if (last !== undefined && now - last < interval && progressOnly(nad.status, next)) {
        this.queue?.addAfter(key, interval - (now - last));
        return 'deferred';
      }
      try {
        const written = await this.writeStatus(namespace, name, nad.metadata.resourceVersion, next);
        this.deps.metrics?.statusWrites.inc({ result: 'ok' });
        this.written.set(key, {
          resourceVersion: written.metadata.resourceVersion ?? '',
          status: next,
          at: now,
        });
        this.lastWriteAt.set(key, now);
        this.announce(written, nad.status, next);
        return 'written';
      } catch (err) {
        if (isNotFound(err)) {
          this.deps.metrics?.statusWrites.inc({ result: 'gone' });
          this.forget(key);
          return 'deleted';
        }
        if (!isConflict(err)) throw err;
        this.deps.metrics?.statusWrites.inc({ result: 'conflict' });
        this.written.delete(key);
        if (attempt >= retries)
          throw new Error(`status write conflicted ${attempt + 1} times: ${errorMessage(err)}`, {
            cause: err,
          });
        try {
          nad = await this.read(namespace, name);
        } catch (readErr) {
          if (!isNotFound(readErr)) throw readErr;
          this.forget(key);
          return 'deleted';
        }
      }
    }
  }

  /** How long a brand-new NAD that is merely propagating may wait for its first status (0 = write now). */
  private initialWait(nad: NadObject, next: NadStatus, now: number): number {
    const grace = this.options.initialGraceMs ?? 2000;
    if (grace <= 0 || findCondition(nad.status, 'Ready') !== undefined) return 0;
    if (findCondition(next, 'Ready')?.reason !== 'Propagating') return 0;
    const created = Date.parse((nad.metadata as { creationTimestamp?: string }).creationTimestamp ?? '');
    if (!Number.isFinite(created)) return 0;
    return Math.min(grace, created + grace - now);
  }

  private path(namespace: string, name: string): string {
    return `/apis/${nadGroup}/${nadVersion}/namespaces/${namespace}/${nadPlural}/${name}`;
  }

  private read(namespace: string, name: string): Promise<NadObject> {
    return this.deps.rest.request<NadObject>({ method: 'GET', path: this.path(namespace, name) });
  }

  private writeStatus(
    namespace: string,
    name: string,
    resourceVersion: string | undefined,
    status: NadStatus,
  ): Promise<NadObject> {
    return this.deps.rest.request<NadObject>({
      method: 'PATCH',
      path: `${this.path(namespace, name)}/status`,
      contentType: contentTypes.mergePatch,
      body: { metadata: resourceVersion ? { resourceVersion } : {}, status },
    });
  }

  private announce(nad: NadObject, previous: unknown, next: NadStatus): void {
    const events = statusEvents(previous, next);
    const ready = findCondition(next, 'Ready');
    if (findCondition(previous, 'Ready')?.status !== ready?.status || events.length > 0) {
      this.log.debug('NAD status changed', {
        nad: nadKey(nad.metadata.namespace, nad.metadata.name),
        ready: ready?.status,
        reason: ready?.reason,
        nodes: next.nodes,
      });
    }
    if (events.length === 0) return;
    const ref: ObjectReference = {
      apiVersion: nadApiVersion,
      kind: nadKind,
      namespace: nad.metadata.namespace,
      name: nad.metadata.name,
      uid: nad.metadata.uid,
      resourceVersion: nad.metadata.resourceVersion,
    };
    for (const event of events) this.deps.events.event(ref, event.type, event.reason, event.message);
  }

  /** NAD counts by Ready status, for the metrics. */
  countByReady(): Record<string, number> {
    const counts: Record<string, number> = { True: 0, False: 0, Unknown: 0 };
    for (const nad of this.deps.nads.list()) {
      const key = nadKey(nad.metadata.namespace, nad.metadata.name);
      if (!this.inScope(key)) continue;
      const status = this.written.get(key)?.status ?? nad.status;
      const ready = findCondition(status, 'Ready')?.status ?? 'Unknown';
      counts[ready] = (counts[ready] ?? 0) + 1;
    }
    return counts;
  }

  // ---- leading ---------------------------------------------------------------------------------

  /**
   * Reconciles until `signal` aborts: queues every NAD, runs the workers and a periodic resync. On
   * abort the queue stops handing out keys and run() resolves once the reconciles in flight finished.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.queue) throw new Error('the controller is already running');
    const metrics = this.deps.metrics;
    const queue = new WorkQueue({
      scheduler: this.scheduler,
      onAdd: () => metrics?.queueAdds.inc(),
      onRetry: () => metrics?.queueRetries.inc(),
      onWait: (ms) => metrics?.queueWait.observe(ms / 1000),
    });
    this.queue = queue;
    this.enqueueAll();
    this.log.info('reconciling', { nads: queue.length, workers: this.options.workers });
    const resync = setInterval(() => this.enqueueAll(), this.options.resyncIntervalMs ?? 600_000);
    resync.unref();
    const workers = Array.from({ length: Math.max(1, this.options.workers) }, () => this.work(queue));
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    clearInterval(resync);
    queue.shutDown();
    this.queue = undefined;
    await Promise.all(workers);
    this.log.info('stopped reconciling');
  }

  private async work(queue: WorkQueue): Promise<void> {
    const metrics = this.deps.metrics;
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      const started = performance.now();
      let result: ReconcileResult | 'error';
      try {
        result = await this.reconcile(key);
        queue.forget(key);
      } catch (err) {
        result = 'error';
        metrics?.reconcileErrors.inc();
        const retries = queue.retries(key);
        this.log.log(retries >= 5 ? 'error' : 'warn', 'reconcile failed; retrying with backoff', {
          nad: key,
          retries,
          retryInMs: queue.backoffFor(key),
          error: errorMessage(err),
        });
        queue.addRateLimited(key);
      } finally {
        queue.done(key);
      }
      metrics?.reconcileDuration.observe({ result }, (performance.now() - started) / 1000);
    }
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
