/**
 * An informer that stays up (client-go's reflector + store, on platform/kube/rest.ts): it lists a
 * collection in pages, then watches from the list's resourceVersion with bookmarks, and
 *
 * - after a watch ends or fails, watches again from the last resourceVersion it saw (no relist), with
 *   exponential backoff (1 s to 30 s) while the API server is away;
 * - after 410 Gone (the resourceVersion was compacted away), lists again and reports what changed
 *   meanwhile as add/update/delete;
 * - passes every object through `transform` before it is cached or handed to a handler (as client-go's
 *   TransformFunc), so the cache holds only the fields its users read.
 *
 * One map holds the objects (by namespace/name); nothing is copied per index.
 */
import type { Logger } from 'winston';
import { Backoff } from '../../lib/backoff.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Clock } from '../../lib/ports.ts';
import { systemClock } from '../nodejs/clock.ts';
import { isGone, KubeApiError, metadataOnly, type KubeClient, type WatchEvent } from './rest.ts';

export type InformerEvent = 'add' | 'update' | 'delete';

/** The fields an informer needs of every object. */
export interface KubeObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly resourceVersion?: string;
  };
}

/** The read side of an informer's cache (client-node's ObjectCache has the same shape). */
export interface ObjectCache<T> {
  get(name: string, namespace?: string): T | undefined;
  list(namespace?: string): T[];
}

export interface InformerOptions<T extends KubeObject> {
  readonly client: KubeClient;
  /** The collection path, e.g. /apis/k8s.cni.cncf.io/v1/network-attachment-definitions. */
  readonly path: string;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** Ask for PartialObjectMetadata (metadata only: no spec, no status) instead of whole objects. */
  readonly metadataOnly?: boolean;
  /** Trims an object as it arrives (may change it in place); the cache keeps what this returns. */
  readonly transform?: ((object: T) => T) | undefined;
  readonly log: Logger;
  /** Objects per list page (default 500): a list of 5,000 NADs never sits in memory as one string. */
  readonly pageSize?: number;
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** The server ends each watch after a random time in [min, 2 min) seconds (default 300, as client-go). */
  readonly watchTimeoutSeconds?: number;
  /** Backoff waits (tests pass a manual clock). */
  readonly clock?: Clock;
}

interface ListPage<T> {
  readonly metadata?: { readonly resourceVersion?: string; readonly continue?: string };
  readonly items?: T[];
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

function objectKey(object: KubeObject): string {
  return keyOf(object.metadata.namespace, object.metadata.name);
}

export class ResilientInformer<T extends KubeObject> implements ObjectCache<T> {
  private readonly options: InformerOptions<T>;
  private readonly objects = new Map<string, T>();
  private readonly handlers: Record<InformerEvent, Array<(object: T) => void>> = {
    add: [],
    update: [],
    delete: [],
  };
  private resourceVersion = '';
  private readonly backoff: Backoff;
  private hasSynced = false;
  private readonly syncWaiters: Array<() => void> = [];
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;
  /** How many times the informer watched or listed again after an error. */
  restarts = 0;
  /** How many full lists it made (the first, and one after each 410 Gone). */
  lists = 0;

  constructor(options: InformerOptions<T>) {
    this.options = options;
    this.backoff = new Backoff({
      baseMs: options.minBackoffMs ?? 1000,
      maxMs: options.maxBackoffMs ?? 30_000,
    });
  }

  /** The cache (this informer itself: get and list). */
  get cache(): ObjectCache<T> {
    return this;
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  get size(): number {
    return this.objects.size;
  }

  latestResourceVersion(): string {
    return this.resourceVersion;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  list(namespace?: string): T[] {
    const all = [...this.objects.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  on(event: InformerEvent, callback: (object: T) => void): void {
    this.handlers[event].push(callback);
  }

  /** Starts listing and watching; resolves once the first list has filled the cache (or on stop). */
  async start(): Promise<void> {
    if (!this.loop) {
      const abort = new AbortController();
      this.abort = abort;
      this.loop = this.run(abort.signal);
    }
    if (!this.hasSynced) await new Promise<void>((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.abort?.abort(new Error('informer stopped'));
    await this.loop;
    this.loop = undefined;
    this.abort = undefined;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  private emit(event: InformerEvent, object: T): void {
    for (const handler of this.handlers[event]) {
      try {
        handler(object);
      } catch (err) {
        this.options.log.error('informer handler failed', {
          path: this.options.path,
          event,
          error: errorMessage(err),
        });
      }
    }
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return this.clock.sleep(ms, signal).catch(() => undefined);
  }

  private get selectors(): Record<string, string | undefined> {
    return { labelSelector: this.options.labelSelector, fieldSelector: this.options.fieldSelector };
  }

  private async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
        }
        const started = this.clock.now();
        const events = await this.watchOnce(signal);
        // The server ended the watch (its timeout): watch again at once from where it ended, unless
        // it ends at once again and again (then back off as after an error).
        if (events > 0 || this.clock.now() - started >= 1000) this.backoff.reset();
        else await this.sleep(this.backoff.next(), signal);
      } catch (err) {
        if (signal.aborted) break;
        if (isGone(err)) {
          this.options.log.info('informer: resourceVersion too old; listing again', {
            path: this.options.path,
            resourceVersion: this.resourceVersion,
          });
          needList = true;
          this.restarts++;
          continue;
        }
        const delay = this.backoff.next();
        this.options.log.warn('informer: watch failed; retrying', {
          path: this.options.path,
          error: errorMessage(err),
          retryInMs: delay,
        });
        this.restarts++;
        await this.sleep(delay, signal);
      }
    }
  }

  /** Lists the collection page by page and replaces the cache, reporting the differences. */
  private async relist(signal: AbortSignal): Promise<void> {
    const fresh = new Map<string, T>();
    let resourceVersion = '';
    let continueToken: string | undefined;
    do {
      const page = await this.options.client.request<ListPage<T>>({
        method: 'GET',
        path: this.options.path,
        query: {
          ...this.selectors,
          limit: String(this.options.pageSize ?? 500),
          ...(continueToken ? { continue: continueToken } : {}),
        },
        ...(this.options.metadataOnly ? { accept: metadataOnly.list } : {}),
        signal,
      });
      for (const item of page.items ?? []) {
        const object = this.options.transform ? this.options.transform(item) : item;
        fresh.set(objectKey(object), object);
      }
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken);
    this.lists++;
    const previous = new Map(this.objects);
    this.objects.clear();
    for (const [key, object] of fresh) this.objects.set(key, object);
    this.resourceVersion = resourceVersion;
    for (const [key, object] of fresh) {
      const old = previous.get(key);
      if (!old) this.emit('add', object);
      else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) this.emit('update', object);
    }
    for (const [key, old] of previous) if (!fresh.has(key)) this.emit('delete', old);
    this.backoff.reset();
    if (!this.hasSynced) {
      this.hasSynced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
  }

  /** One watch from the current resourceVersion until the server ends it; returns how many events came. */
  private async watchOnce(signal: AbortSignal): Promise<number> {
    const base = this.options.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(base * (1 + Math.random()));
    let failure: Error | undefined;
    let events = 0;
    const watch = new AbortController();
    const stop = AbortSignal.any([signal, watch.signal]);
    try {
      await this.options.client.watch<T>(
        this.options.path,
        {
          ...this.selectors,
          resourceVersion: this.resourceVersion,
          allowWatchBookmarks: 'true',
          timeoutSeconds: String(timeoutSeconds),
        },
        (event) => {
          if (failure) return;
          events++;
          try {
            this.apply(event);
          } catch (err) {
            failure = err instanceof Error ? err : new Error(String(err));
            watch.abort(failure);
          }
        },
        stop,
        this.options.metadataOnly ? metadataOnly.object : undefined,
      );
    } catch (err) {
      if (failure) throw failure;
      throw err;
    }
    if (failure) throw failure;
    return events;
  }

  private apply(event: WatchEvent<T>): void {
    if (event.type === 'ERROR') throw KubeApiError.fromStatus(500, event.object);
    const rv = event.object.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    const object = this.options.transform ? this.options.transform(event.object) : event.object;
    const key = objectKey(object);
    if (event.type === 'DELETED') {
      this.objects.delete(key);
      this.emit('delete', object);
    } else {
      const existed = this.objects.has(key);
      this.objects.set(key, object);
      this.emit(existed ? 'update' : 'add', object);
    }
    if (rv) this.resourceVersion = rv;
  }
}
