/**
 * One Kubernetes collection in memory behind the KubeClient port, for informer unit tests (not used by
 * the product): paged lists (limit/continue), watches from a resourceVersion that replay what
 * happened since, bookmarks, compaction (a watch or list continuation from before it gets 410 Gone),
 * and knobs to fail or end watches.
 *
 *   const pods = new MemoryCollection('/api/v1/pods');
 *   pods.upsert({ metadata: { name: 'a', namespace: 'ns' } });
 *   const informer = new ResilientInformer({ client: pods, path: '/api/v1/pods', ... });
 */
import {
  KubeApiError,
  type KubeClient,
  type KubeRequest,
  type WatchEvent,
  type WatchEventType,
} from '../../platform/kube/rest.ts';

interface Stored {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

interface Watcher {
  readonly onEvent: (event: WatchEvent) => void;
  readonly end: (err?: Error) => void;
}

const key = (o: Stored): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class MemoryCollection implements KubeClient {
  readonly path: string;
  private readonly objects = new Map<string, Stored>();
  private readonly history: Array<{ rv: number; event: WatchEvent<Stored> }> = [];
  private readonly watchers = new Set<Watcher>();
  private version = 1;
  /** Watches from before this resourceVersion get 410 Gone. */
  private compactedBefore = 0;
  /** Requests seen, as "LIST limit=.. continue=.." and "WATCH rv=..". */
  readonly log: string[] = [];
  /** The next n watch requests fail with this error. */
  private failures: Array<() => Error> = [];

  constructor(path: string) {
    this.path = path;
  }

  get resourceVersion(): string {
    return String(this.version);
  }

  get activeWatches(): number {
    return this.watchers.size;
  }

  private record(type: WatchEventType, object: Stored): void {
    const event = { type, object: structuredClone(object) };
    this.history.push({ rv: this.version, event });
    for (const watcher of this.watchers) watcher.onEvent(structuredClone(event));
  }

  upsert<T extends Stored>(object: T): T {
    const stored = structuredClone(object);
    stored.metadata.resourceVersion = String(++this.version);
    const existed = this.objects.has(key(stored));
    this.objects.set(key(stored), stored);
    this.record(existed ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  remove(namespace: string | undefined, name: string): void {
    const k = `${namespace ?? ''}/${name}`;
    const stored = this.objects.get(k);
    if (!stored) return;
    this.objects.delete(k);
    ++this.version;
    this.record('DELETED', {
      ...stored,
      metadata: { ...stored.metadata, resourceVersion: String(this.version) },
    });
  }

  /** Forgets history up to now: older resourceVersions are Gone. */
  compact(): void {
    this.compactedBefore = this.version;
    this.history.length = 0;
  }

  /** Sends a bookmark at the current resourceVersion to every watch. */
  bookmark(): void {
    for (const watcher of this.watchers)
      watcher.onEvent({ type: 'BOOKMARK', object: { metadata: { resourceVersion: String(this.version) } } });
  }

  /** Ends every watch as the server does after timeoutSeconds. */
  endWatches(): void {
    for (const watcher of [...this.watchers]) watcher.end();
  }

  /** Breaks every watch (a connection reset). */
  breakWatches(): void {
    for (const watcher of [...this.watchers])
      watcher.end(new KubeApiError(0, 'Unreachable', 'connection reset'));
  }

  /** Sends an ERROR event with this Status to every watch (the API server's 410 inside a stream). */
  errorEvent(code: number, reason: string): void {
    for (const watcher of this.watchers)
      watcher.onEvent({ type: 'ERROR', object: { kind: 'Status', code, reason, message: reason } });
  }

  /** The next `count` watch requests fail with `error`. */
  failWatches(count: number, error: () => Error): void {
    for (let i = 0; i < count; i++) this.failures.push(error);
  }

  request<T = unknown>(request: KubeRequest): Promise<T> {
    if (request.method !== 'GET' || request.path !== this.path)
      return Promise.reject(new KubeApiError(405, 'MethodNotAllowed', `${request.method} ${request.path}`));
    const limit = Number(request.query?.limit ?? 0) || Infinity;
    const token = request.query?.continue;
    this.log.push(`LIST limit=${request.query?.limit ?? ''} continue=${token ?? ''}`);
    let start = 0;
    let rv = this.version;
    if (token) {
      const [at, from] = token.split(':').map(Number) as [number, number];
      if (at < this.compactedBefore)
        return Promise.reject(new KubeApiError(410, 'Expired', 'the continue token has expired'));
      start = from;
      rv = at;
    }
    const all = [...this.objects.values()].sort((a, b) => (key(a) < key(b) ? -1 : 1));
    const items = all.slice(start, start + limit).map((o) => structuredClone(o));
    const more = start + items.length < all.length;
    return Promise.resolve({
      metadata: {
        resourceVersion: String(rv),
        ...(more ? { continue: `${rv}:${start + items.length}` } : {}),
      },
      items,
    } as T);
  }

  watch<T = unknown>(
    path: string,
    query: Readonly<Record<string, string | undefined>>,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    this.log.push(`WATCH rv=${query.resourceVersion ?? ''}`);
    return new Promise<void>((resolve, reject) => {
      const failure = this.failures.shift();
      if (path !== this.path) return reject(new KubeApiError(404, 'NotFound', path));
      // Answers arrive on a later turn of the event loop, as from a server.
      setImmediate(() => {
        if (failure) return reject(failure());
        const from = Number(query.resourceVersion ?? 0);
        if (from < this.compactedBefore)
          return reject(new KubeApiError(410, 'Expired', `too old resource version: ${from}`));
        const watcher: Watcher = {
          onEvent: (event) => onEvent(event as WatchEvent<T>),
          end: (err) => {
            this.watchers.delete(watcher);
            if (err) reject(err);
            else resolve();
          },
        };
        signal.addEventListener('abort', () => watcher.end(new Error('aborted')), { once: true });
        if (signal.aborted) return watcher.end(new Error('aborted'));
        for (const { rv, event } of this.history) if (rv > from) watcher.onEvent(structuredClone(event));
        this.watchers.add(watcher);
      });
    });
  }
}
