/**
 * The NAD status reconciler: level-triggered `reconcile(key, signal)`. It reads the NAD from the
 * informer cache and what the nodes report from the indexes, computes the status (nad-status.ts), and
 * writes it through the status subresource only when it changed, with a resourceVersion precondition
 * and, on a conflict, a fresh read and a recompute. It returns what it did and when to look again
 * (`requeueAfterMs`: a brand-new NAD's grace period, a progress-only change held back); it throws to
 * be retried with backoff. The signal (leadership, shutdown) cancels its requests: a replica that lost
 * its Lease writes nothing more.
 *
 * A status that only makes progress (Propagating 3/20 -> 7/20) is written at most every
 * progressIntervalMs. The cache it reads lays its own writes over the informer's until the watch
 * delivers them (written-cache.ts); the reconciler tells it what it wrote.
 */
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import { resourceNameAnnotation } from '../lib/annotations/keys.ts';
import { nadApiVersion, nadGroup, nadKind, nadPlural, nadVersion } from '../lib/nad.ts';
import { bucketOf, configHash, networkKey, splitNetworkKey } from '../lib/node-state.ts';
import type { EventRecorder, ObjectReference } from '../platform/kube/events.ts';
import type { NadObject } from '../platform/kube/informers.ts';
import { contentTypes, isConflict, isNotFound, type KubeRequester } from '../platform/kube/rest.ts';
import { VerdictCache } from './config-verdict.ts';
import type { NadCache } from './written-cache.ts';
import type { ControllerMetrics } from './metrics.ts';
import {
  computeNadStatus,
  findCondition,
  progressOnly,
  statusUpToDate,
  type NadStatus,
} from './nad-status.ts';
import type { NetworkIndex } from './network-index.ts';
import type { NodeIndex } from './node-index.ts';
import type { ResourceIndex } from './resource-index.ts';
import type { ReconcileResult, Reconciler } from './runner.ts';
import { statusEvents } from './status-events.ts';

/** The reconciler's cache: the informer's, told of the reconciler's own status writes (WrittenCache). */
export interface NadStatusCache extends NadCache {
  /** A status write succeeded: `nad` is the API's answer. */
  wrote(nad: NadObject): void;
  /** A status write of `key` conflicted: nothing of it is to be trusted. */
  drop(key: string): void;
}

export interface NadReconcilerOptions {
  /** A node whose heartbeat is older is not eligible (and named in the Ready message). */
  readonly staleAfterMs: number;
  /** Reconcile only NADs in these namespaces (all when empty). */
  readonly namespaces?: ReadonlySet<string>;
  /** Progress-only status changes of one NAD are written at most this often. Default 5 s. */
  readonly progressIntervalMs?: number;
  /** Status writes retried after a conflict (fresh read and recompute) before failing. Default 3. */
  readonly conflictRetries?: number;
  /**
   * A NAD created less than this long ago whose only news is that nodes are still picking it up gets
   * its first status when they have (straight to Ready), or once this time has passed. Default 2 s.
   */
  readonly initialGraceMs?: number;
}

export interface NadReconcilerDeps {
  readonly nads: NadStatusCache;
  /** What every node should hold and what the nodes report (kept current by the controller's watches). */
  readonly networks: NetworkIndex;
  readonly nodes: NodeIndex;
  /** Which nodes advertise which extended resources (device networks); none: not watched. */
  readonly resources?: ResourceIndex;
  readonly rest: KubeRequester;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly metrics?: Pick<ControllerMetrics, 'statusWrites'> | undefined;
  /** Wall clock (ms since the epoch). */
  readonly now: () => number;
}

/** What a reconcile did: the `outcome` of its ReconcileResult. */
export type NadOutcome = 'unchanged' | 'written' | 'deferred' | 'deleted' | 'out-of-scope';

export interface NadReconcileResult extends ReconcileResult {
  readonly outcome: NadOutcome;
}

/** The queue key of a NAD. */
export function nadKey(namespace: string | undefined, name: string): string {
  return networkKey(namespace ?? 'default', name);
}

const result = (outcome: NadOutcome, requeueAfterMs?: number): NadReconcileResult =>
  requeueAfterMs === undefined ? { outcome } : { outcome, requeueAfterMs };

export class NadReconciler implements Reconciler {
  private readonly options: NadReconcilerOptions;
  private readonly deps: NadReconcilerDeps;
  private readonly verdicts = new VerdictCache();
  private readonly lastWriteAt = new Map<string, number>();

  constructor(options: NadReconcilerOptions, deps: NadReconcilerDeps) {
    this.options = options;
    this.deps = deps;
  }

  inScope(key: string): boolean {
    const namespaces = this.options.namespaces;
    return !namespaces || namespaces.size === 0 || namespaces.has(splitNetworkKey(key).namespace);
  }

  /** Drops what the reconciler remembers of a NAD (it was deleted). */
  forget(key: string): void {
    this.verdicts.delete(key);
    this.deps.nads.drop(key);
    this.lastWriteAt.delete(key);
  }

  /** The status the NAD should have now. */
  desiredStatus(key: string, nad: NadObject): NadStatus {
    const { networks, nodes } = this.deps;
    const bucket = networks.bucketOf(key) ?? bucketOf(key);
    const hash = configHash(nad.spec?.config);
    // A NAD read fresh after a conflict may be newer than the cache: nodes cannot be known to hold it yet.
    const current = networks.hashOf(key) === hash;
    const resourceName = nad.metadata.annotations?.[resourceNameAnnotation];
    const resources = this.deps.resources;
    return computeNadStatus({
      ...(resourceName && resources
        ? { resource: { name: resourceName, advertisedBy: resources.advertisedBy(resourceName) } }
        : {}),
      generation: nad.metadata.generation ?? 0,
      previous: nad.status,
      verdict: this.verdicts.get(key, nad),
      hash,
      nodes: nodes.eligible().map((node) => ({
        name: node.name,
        holds: current && networks.holds(key, node.digests[bucket]),
      })),
      problems: nodes.problemsFor(key),
      staleNodes: nodes.stale(),
      staleAfterMs: this.options.staleAfterMs,
      now: new Date(this.deps.now()),
    });
  }

  /** Brings one NAD's status up to date; safe to repeat. Throws on failures (the runner retries). */
  async reconcile(key: string, signal: AbortSignal): Promise<NadReconcileResult> {
    if (!this.inScope(key)) return result('out-of-scope');
    const { namespace, name } = splitNetworkKey(key);
    const cached = this.deps.nads.get(name, namespace);
    if (!cached) {
      this.forget(key);
      return result('deleted');
    }
    const metrics = this.deps.metrics;
    let nad = cached;
    const retries = this.options.conflictRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      const next = this.desiredStatus(key, nad);
      if (statusUpToDate(nad.status, next)) return result('unchanged');
      const now = this.deps.now();
      const wait = this.initialWait(nad, next, now);
      if (wait > 0) return result('deferred', wait);
      const last = this.lastWriteAt.get(key);
      const interval = this.options.progressIntervalMs ?? 5000;
      if (last !== undefined && now - last < interval && progressOnly(nad.status, next))
        return result('deferred', interval - (now - last));
      signal.throwIfAborted();
      try {
        const written = await this.writeStatus(namespace, name, nad.metadata.resourceVersion, next, signal);
        metrics?.statusWrites.inc({ result: 'ok' });
        this.deps.nads.wrote(written);
        this.lastWriteAt.set(key, now);
        this.announce(written, nad.status, next);
        return result('written');
      } catch (err) {
        if (isNotFound(err)) {
          metrics?.statusWrites.inc({ result: 'gone' });
          this.forget(key);
          return result('deleted');
        }
        if (!isConflict(err)) throw err;
        metrics?.statusWrites.inc({ result: 'conflict' });
        this.deps.nads.drop(key);
        if (attempt >= retries)
          throw new Error(`status write conflicted ${attempt + 1} times: ${errorMessage(err)}`, {
            cause: err,
          });
        try {
          nad = await this.read(namespace, name, signal);
        } catch (readErr) {
          if (!isNotFound(readErr)) throw readErr;
          this.forget(key);
          return result('deleted');
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

  private read(namespace: string, name: string, signal: AbortSignal): Promise<NadObject> {
    return this.deps.rest.request<NadObject>({ method: 'GET', path: this.path(namespace, name), signal });
  }

  private writeStatus(
    namespace: string,
    name: string,
    resourceVersion: string | undefined,
    status: NadStatus,
    signal: AbortSignal,
  ): Promise<NadObject> {
    return this.deps.rest.request<NadObject>({
      method: 'PATCH',
      path: `${this.path(namespace, name)}/status`,
      contentType: contentTypes.mergePatch,
      body: { metadata: resourceVersion ? { resourceVersion } : {}, status },
      signal,
    });
  }

  private announce(nad: NadObject, previous: unknown, next: NadStatus): void {
    const events = statusEvents(previous, next);
    const ready = findCondition(next, 'Ready');
    if (findCondition(previous, 'Ready')?.status !== ready?.status || events.length > 0) {
      this.deps.log.debug('NAD status changed', {
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
      const status = nad.status;
      const ready = findCondition(status, 'Ready')?.status ?? 'Unknown';
      counts[ready] = (counts[ready] ?? 0) + 1;
    }
    return counts;
  }
}
