/**
 * Kubernetes Events (core/v1), as client-go's EventRecorder writes them, for every component:
 *
 *   const recorder = new KubeEventRecorder({ rest, component: 'multinet-controller', host, log });
 *   recorder.event(ref, 'Warning', 'InvalidConfig', 'spec.config.ipam.rangeEnd: ...');
 *   ...
 *   await recorder.stop(5000); // flushes what is pending
 *
 * `event()` never throws and never waits: events go to a bounded in-memory queue that one sender
 * drains within an overall rate limit. Repeats of the same event (same object, type, reason and
 * message) are aggregated: a repeat within the aggregation window patches count and lastTimestamp of
 * the Event already written instead of creating another (identical events still queued are merged
 * before they are sent). A per-object token bucket (client-go's spam filter: 25 at once, then one
 * every 5 minutes) keeps one flapping object from flooding the API server; what is dropped is counted.
 */
import type { Logger } from 'winston';
import { errorMessage } from '../../lib/errors.ts';
import { remember } from '../../lib/lru.ts';
import { contentTypes, isAlreadyExists, isNotFound, type KubeRequester } from './rest.ts';
import { TokenBucket } from './token-bucket.ts';

/** core/v1 ObjectReference: the object an Event is about. */
export interface ObjectReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** Empty or undefined for cluster-scoped objects (their Events go to the "default" namespace). */
  readonly namespace?: string | undefined;
  readonly uid?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly fieldPath?: string | undefined;
}

export type EventType = 'Normal' | 'Warning';

/** What components depend on: record an Event, fire and forget. */
export interface EventRecorder {
  event(object: ObjectReference, type: EventType, reason: string, message: string): void;
}

export interface EventRecorderStats {
  /** Events created. */
  created: number;
  /** Repeats written as a patch of count/lastTimestamp, or merged into a queued event. */
  aggregated: number;
  /** Dropped by the per-object spam filter or because the queue was full. */
  dropped: number;
  /** Writes that failed (logged at debug level; an Event is best effort). */
  failed: number;
}

export interface KubeEventRecorderOptions {
  readonly rest: KubeRequester;
  /** source.component and reportingComponent, e.g. "multinet-controller". */
  readonly component: string;
  /** source.host (the node name, for agents). */
  readonly host?: string | undefined;
  /** reportingInstance (e.g. the pod name); default host, else component. */
  readonly instance?: string | undefined;
  readonly log: Logger;
  /** Events written per second, all objects together. Default 5, burst 25. */
  readonly qps?: number;
  readonly burst?: number;
  /** Per involved object: this many at once, then one per refill interval. Default 25 and 5 minutes. */
  readonly perObjectBurst?: number;
  readonly perObjectRefillMs?: number;
  /** Events waiting to be written at most; more are dropped. Default 1000. */
  readonly maxPending?: number;
  /** A repeat within this time updates the existing Event. Default 10 minutes. */
  readonly aggregateWindowMs?: number;
  /** How many distinct events and objects are remembered for aggregation and spam filtering. Default 4096. */
  readonly cacheSize?: number;
  readonly now?: () => number;
  /** Called after each outcome (for metrics). */
  readonly onOutcome?: (outcome: keyof EventRecorderStats) => void;
}

interface Pending {
  readonly key: string;
  readonly object: ObjectReference;
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
  count: number;
  firstAt: number;
  lastAt: number;
}

interface Written {
  readonly namespace: string;
  readonly name: string;
  count: number;
  readonly firstAt: number;
  lastAt: number;
}

/** Kubernetes caps an Event's message at 1 KiB (events.k8s.io note). */
const maxMessageBytes = 1024;

function truncate(message: string): string {
  if (Buffer.byteLength(message) <= maxMessageBytes) return message;
  let cut = message.slice(0, maxMessageBytes - 3);
  while (Buffer.byteLength(cut) > maxMessageBytes - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class KubeEventRecorder implements EventRecorder {
  private readonly options: KubeEventRecorderOptions;
  private readonly now: () => number;
  private readonly bucket: TokenBucket;
  private readonly pending: Pending[] = [];
  private readonly pendingByKey = new Map<string, Pending>();
  private readonly written = new Map<string, Written>();
  private readonly spamFilters = new Map<string, TokenBucket>();
  private sending: Promise<void> | undefined;
  private stopped = false;
  private sequence = 0;
  private readonly idle: Array<() => void> = [];
  readonly stats: EventRecorderStats = { created: 0, aggregated: 0, dropped: 0, failed: 0 };

  constructor(options: KubeEventRecorderOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
    this.bucket = new TokenBucket(options.qps ?? 5, options.burst ?? 25, this.now());
  }

  private count(outcome: keyof EventRecorderStats): void {
    this.stats[outcome]++;
    this.options.onOutcome?.(outcome);
  }

  event(object: ObjectReference, type: EventType, reason: string, message: string): void {
    try {
      if (this.stopped) return;
      const now = this.now();
      const text = truncate(message);
      const objectKey = object.uid || `${object.kind}/${object.namespace ?? ''}/${object.name}`;
      const key = `${objectKey}\0${type}\0${reason}\0${text}`;
      const queued = this.pendingByKey.get(key);
      if (queued) {
        queued.count++;
        queued.lastAt = now;
        this.count('aggregated');
        return;
      }
      let filter = this.spamFilters.get(objectKey);
      if (!filter) {
        const refillMs = this.options.perObjectRefillMs ?? 300_000;
        filter = new TokenBucket(1000 / refillMs, this.options.perObjectBurst ?? 25, now);
      }
      remember(this.spamFilters, objectKey, filter, this.options.cacheSize ?? 4096);
      if (!filter.tryTake(now) || this.pending.length >= (this.options.maxPending ?? 1000)) {
        this.count('dropped');
        return;
      }
      const entry: Pending = {
        key,
        object,
        type,
        reason,
        message: text,
        count: 1,
        firstAt: now,
        lastAt: now,
      };
      this.pending.push(entry);
      this.pendingByKey.set(key, entry);
      this.sending ??= this.drain().finally(() => {
        this.sending = undefined;
        for (const resolve of this.idle.splice(0)) resolve();
      });
    } catch (err) {
      this.options.log.debug('could not queue an Event', { reason, error: errorMessage(err) });
    }
  }

  private async drain(): Promise<void> {
    for (let entry = this.pending.shift(); entry; entry = this.pending.shift()) {
      const delay = this.bucket.reserve(this.now());
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      this.pendingByKey.delete(entry.key);
      try {
        await this.write(entry);
      } catch (err) {
        this.count('failed');
        this.options.log.debug('could not write an Event', {
          object: `${entry.object.kind} ${entry.object.namespace ?? ''}/${entry.object.name}`,
          reason: entry.reason,
          error: errorMessage(err),
        });
      }
    }
  }

  private async write(entry: Pending): Promise<void> {
    const previous = this.written.get(entry.key);
    const window = this.options.aggregateWindowMs ?? 600_000;
    if (previous && entry.lastAt - previous.lastAt <= window) {
      try {
        previous.count += entry.count;
        previous.lastAt = entry.lastAt;
        await this.options.rest.request({
          method: 'PATCH',
          path: `/api/v1/namespaces/${previous.namespace}/events/${previous.name}`,
          contentType: contentTypes.mergePatch,
          body: { count: previous.count, lastTimestamp: timestamp(entry.lastAt) },
          ignoreResponse: true,
        });
        this.count('aggregated');
        return;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        // The Event expired (the API server keeps them an hour by default): write a new one.
      }
    }
    await this.create(entry);
  }

  private async create(entry: Pending): Promise<void> {
    const namespace = entry.object.namespace || 'default';
    const { component, host, instance } = this.options;
    for (let attempt = 0; ; attempt++) {
      const name = `${entry.object.name}.${(entry.firstAt * 1000 + (this.sequence++ % 1000)).toString(16)}`;
      const body = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name, namespace },
        involvedObject: { ...entry.object },
        type: entry.type,
        reason: entry.reason,
        message: entry.message,
        source: { component, ...(host ? { host } : {}) },
        reportingComponent: component,
        reportingInstance: instance ?? host ?? component,
        firstTimestamp: timestamp(entry.firstAt),
        lastTimestamp: timestamp(entry.lastAt),
        count: entry.count,
      };
      try {
        await this.options.rest.request({
          method: 'POST',
          path: `/api/v1/namespaces/${namespace}/events`,
          body,
          ignoreResponse: true,
        });
      } catch (err) {
        if (isAlreadyExists(err) && attempt < 2) continue;
        throw err;
      }
      remember(
        this.written,
        entry.key,
        { namespace, name, count: entry.count, firstAt: entry.firstAt, lastAt: entry.lastAt },
        this.options.cacheSize ?? 4096,
      );
      this.count('created');
      return;
    }
  }

  /** Resolves once every queued Event was written (or failed), or after timeoutMs. */
  async flush(timeoutMs: number): Promise<void> {
    if (!this.sending) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.idle.push(resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  /** Stops taking Events and flushes those queued (waiting at most timeoutMs). */
  async stop(timeoutMs: number): Promise<void> {
    this.stopped = true;
    await this.flush(timeoutMs);
    this.pending.length = 0;
    this.pendingByKey.clear();
  }
}
