/**
 * A de-duplicating keyed work queue, as client-go's workqueue: a key is queued at most once however
 * often it is added, is never handed to two workers at once (added while in progress, it is queued
 * again when the worker calls done), may be delayed (addAfter), and retried with per-key exponential
 * backoff plus an overall rate limit (addRateLimited; forget resets the key's backoff).
 *
 *   for (let key; (key = await queue.get()) !== undefined; ) {
 *     try { await reconcile(key); queue.forget(key); } catch { queue.addRateLimited(key); }
 *     finally { queue.done(key); }
 *   }
 */
import { backoffDelay } from '../lib/backoff.ts';
import type { Scheduler } from '../lib/ports.ts';
import { realScheduler } from '../platform/nodejs/clock.ts';
import { TokenBucket } from '../platform/kube/token-bucket.ts';

export interface WorkQueueOptions {
  /** First retry delay of a failing key; doubles with each failure. Default 100 ms. */
  readonly baseDelayMs?: number;
  /** Largest retry delay of one key. Default 5 minutes. */
  readonly maxDelayMs?: number;
  /** Overall rate of retries (all keys together). Default 10 a second, burst 100 (client-go's default). */
  readonly retryQps?: number;
  readonly retryBurst?: number;
  readonly scheduler?: Scheduler;
  /** Observers for metrics. */
  readonly onAdd?: () => void;
  readonly onRetry?: () => void;
  /** How long a key waited between being queued and being handed out. */
  readonly onWait?: (ms: number) => void;
}

interface Delayed<K> {
  readonly key: K;
  readyAt: number;
}

export class WorkQueue<K extends string = string> {
  private readonly options: WorkQueueOptions;
  private readonly scheduler: Scheduler;
  private readonly retryBucket: TokenBucket;
  private readonly order: K[] = [];
  private head = 0;
  /** Keys that need processing (queued, or added again while in progress). */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly queuedAt = new Map<K, number>();
  private readonly failures = new Map<K, number>();
  /** Delayed keys: a min-heap on readyAt, and the entry of each key (a key waits once, at its earliest time). */
  private readonly heap: Delayed<K>[] = [];
  private readonly delayed = new Map<K, Delayed<K>>();
  private timer: { cancel(): void; at: number } | undefined;
  private readonly getters: Array<(key: K | undefined) => void> = [];
  private readonly drainers: Array<() => void> = [];
  private readonly idlers: Array<() => void> = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.options = options;
    this.scheduler = options.scheduler ?? realScheduler;
    this.retryBucket = new TokenBucket(
      options.retryQps ?? 10,
      options.retryBurst ?? 100,
      this.scheduler.now(),
    );
  }

  /** Keys waiting to be handed out (not counting delayed or in-progress ones). */
  get length(): number {
    return this.order.length - this.head;
  }

  /** Keys waiting for their delay to pass. */
  get delayedCount(): number {
    return this.delayed.size;
  }

  get inProgress(): number {
    return this.processing.size;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: K): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.options.onAdd?.();
    this.dirty.add(key);
    this.queuedAt.set(key, this.scheduler.now());
    if (this.processing.has(key)) return;
    this.push(key);
  }

  private push(key: K): void {
    const getter = this.getters.shift();
    if (getter) this.handOut(key, getter);
    else this.order.push(key);
  }

  private handOut(key: K, to: (key: K | undefined) => void): void {
    this.dirty.delete(key);
    this.processing.add(key);
    const since = this.queuedAt.get(key);
    this.queuedAt.delete(key);
    if (since !== undefined) this.options.onWait?.(this.scheduler.now() - since);
    to(key);
  }

  /** Adds the key once `ms` have passed (at once when ms <= 0); an earlier pending time wins. */
  addAfter(key: K, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const readyAt = this.scheduler.now() + ms;
    const existing = this.delayed.get(key);
    if (existing) {
      if (existing.readyAt <= readyAt) return;
      existing.readyAt = readyAt;
      this.heapify();
    } else {
      const entry = { key, readyAt };
      this.delayed.set(key, entry);
      this.heapPush(entry);
    }
    this.arm();
  }

  /** The delay the next addRateLimited(key) would use, without taking it. */
  backoffFor(key: K): number {
    return backoffDelay(this.failures.get(key) ?? 0, {
      baseMs: this.options.baseDelayMs ?? 100,
      maxMs: this.options.maxDelayMs ?? 300_000,
    });
  }

  /** Re-adds a key that failed: after its exponential backoff, and within the overall retry rate. */
  addRateLimited(key: K): void {
    if (this.shuttingDown) return;
    const delay = Math.max(this.backoffFor(key), this.retryBucket.reserve(this.scheduler.now()));
    this.failures.set(key, (this.failures.get(key) ?? 0) + 1);
    this.options.onRetry?.();
    this.addAfter(key, delay);
  }

  /** Clears the key's failure count (call after it was processed successfully). */
  forget(key: K): void {
    this.failures.delete(key);
  }

  /** How many times the key was retried since it last succeeded. */
  retries(key: K): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process; undefined once the queue is shut down. */
  get(): Promise<K | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    if (this.length > 0) {
      const key = this.order[this.head]!;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.order.length) {
        this.order.splice(0, this.head);
        this.head = 0;
      }
      return new Promise((resolve) => this.handOut(key, resolve));
    }
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks a key handed out by get() as finished; it is queued again if it was added meanwhile. */
  done(key: K): void {
    this.processing.delete(key);
    if (!this.shuttingDown && this.dirty.has(key)) this.push(key);
    if (this.processing.size === 0) for (const resolve of this.drainers.splice(0)) resolve();
    if (this.processing.size === 0 && this.length === 0)
      for (const resolve of this.idlers.splice(0)) resolve();
  }

  /**
   * Stops the queue: queued and delayed keys are dropped, waiting and later get() calls return
   * undefined, adds are ignored. Keys in progress finish; drain() resolves when they have.
   */
  shutDown(): void {
    this.shuttingDown = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.order.length = 0;
    this.head = 0;
    this.dirty.clear();
    this.queuedAt.clear();
    this.delayed.clear();
    this.heap.length = 0;
    for (const getter of this.getters.splice(0)) getter(undefined);
    if (this.processing.size === 0) for (const resolve of this.drainers.splice(0)) resolve();
    for (const resolve of this.idlers.splice(0)) resolve();
  }

  /**
   * Resolves once no key is queued or in progress (keys waiting for a delay do not count: they wait for
   * time, not for work).
   */
  idle(): Promise<void> {
    if (this.shuttingDown || (this.processing.size === 0 && this.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idlers.push(resolve));
  }

  /** Resolves once no key is in progress. */
  drain(): Promise<void> {
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainers.push(resolve));
  }

  private arm(): void {
    const next = this.heap[0];
    if (!next) return;
    if (this.timer && this.timer.at <= next.readyAt) return;
    this.timer?.cancel();
    const at = next.readyAt;
    const handle = this.scheduler.setTimer(
      () => {
        this.timer = undefined;
        this.releaseDue();
      },
      Math.max(0, at - this.scheduler.now()),
    );
    this.timer = { cancel: () => handle.cancel(), at };
  }

  private releaseDue(): void {
    const now = this.scheduler.now();
    while (this.heap.length > 0 && this.heap[0]!.readyAt <= now) {
      const entry = this.heapPop()!;
      this.delayed.delete(entry.key);
      this.add(entry.key);
    }
    this.arm();
  }

  private heapPush(entry: Delayed<K>): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (heap[parent]!.readyAt <= heap[i]!.readyAt) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  private heapPop(): Delayed<K> | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  private siftDown(start: number): void {
    const heap = this.heap;
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let smallest = i;
      if (l < heap.length && heap[l]!.readyAt < heap[smallest]!.readyAt) smallest = l;
      if (r < heap.length && heap[r]!.readyAt < heap[smallest]!.readyAt) smallest = r;
      if (smallest === i) return;
      [heap[smallest], heap[i]] = [heap[i]!, heap[smallest]!];
      i = smallest;
    }
  }

  private heapify(): void {
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }
}
