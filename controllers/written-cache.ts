/**
 * The NAD informer cache, with the controller's own status writes laid over it until the watch delivers
 * them: the one place that knows the cache lags behind the controller's writes. A reconcile that runs
 * between a write and its echo sees what was written (not a status it would write again, only to meet a
 * resourceVersion conflict), and the echo itself is recognised as nothing new. An overlay whose echo never
 * comes (a missed watch event) is trusted for a minute at most. The reconciler only writes with
 * resourceVersion preconditions and recomputes on a conflict, so a wrong overlay costs a retry, never a
 * lost update.
 */
import type { NadObject } from '../platform/kube/informers.ts';
import { networkKey } from '../lib/node-state.ts';

/** The reconciler's view of the NADs. */
export interface NadCache {
  get(name: string, namespace?: string): NadObject | undefined;
  list(): readonly NadObject[];
}

interface Written {
  readonly resourceVersion: string;
  readonly status: unknown;
  readonly at: number;
}

/** How long a record of an own write is trusted over a cache that has not caught up. */
const writtenTtlMs = 60_000;

export class WrittenCache implements NadCache {
  private readonly cache: NadCache;
  private readonly now: () => number;
  private readonly written = new Map<string, Written>();

  constructor(cache: NadCache, now: () => number) {
    this.cache = cache;
    this.now = now;
  }

  private static key(nad: NadObject): string {
    return networkKey(nad.metadata.namespace ?? 'default', nad.metadata.name);
  }

  get(name: string, namespace?: string): NadObject | undefined {
    const cached = this.cache.get(name, namespace);
    return cached && this.overlay(cached);
  }

  list(): readonly NadObject[] {
    return this.written.size === 0 ? this.cache.list() : this.cache.list().map((nad) => this.overlay(nad));
  }

  /** The controller wrote `nad`'s status (the API's answer to the write). */
  wrote(nad: NadObject): void {
    this.written.set(WrittenCache.key(nad), {
      resourceVersion: nad.metadata.resourceVersion ?? '',
      status: nad.status,
      at: this.now(),
    });
  }

  /** The write of `key` failed (a conflict): what the cache holds is all there is to trust. */
  drop(key: string): void {
    this.written.delete(key);
  }

  /** True when a watch event delivers the controller's own last write; the overlay goes once the cache has it. */
  isEcho(nad: NadObject): boolean {
    const key = WrittenCache.key(nad);
    const own = this.written.get(key);
    if (!own || own.resourceVersion !== nad.metadata.resourceVersion) return false;
    this.written.delete(key);
    return true;
  }

  private overlay(cached: NadObject): NadObject {
    const key = WrittenCache.key(cached);
    const own = this.written.get(key);
    if (!own) return cached;
    if (cached.metadata.resourceVersion === own.resourceVersion || this.now() - own.at > writtenTtlMs) {
      this.written.delete(key);
      return cached;
    }
    return {
      ...cached,
      metadata: { ...cached.metadata, resourceVersion: own.resourceVersion },
      status: own.status as NadObject['status'],
    };
  }
}
