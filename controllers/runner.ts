/**
 * A generic controller runner, as controller-runtime's: a de-duplicating work queue, workers that call
 * a level-triggered `reconcile(key, signal)`, backoff for failures, a periodic resync, metrics, and a
 * graceful shutdown. It knows nothing about what it reconciles.
 *
 * A reconcile returns a result: done, or `requeueAfterMs` (look at the key again later). It throws to
 * be retried with per-key exponential backoff, or throws a TerminalError to give the key up until
 * something enqueues it again. The signal given to run() reaches every reconcile: when it aborts
 * (leadership lost, or shutdown) the queue stops handing out keys, reconciles in flight see their
 * signal abort at once (their requests are cancelled, nothing more is written), and run() resolves
 * once they returned.
 */
import type { Logger } from 'winston';
import { errorMessage } from '../lib/errors.ts';
import type { Scheduler } from '../lib/ports.ts';
import { realScheduler } from '../platform/nodejs/clock.ts';
import { WorkQueue, type WorkQueueOptions } from './work-queue.ts';

export interface ReconcileResult {
  /** What happened, for logs and the reconcile-duration metric's `result` label ("written", ...). */
  readonly outcome: string;
  /** Reconcile the key again after this long (controller-runtime's RequeueAfter); 0 = at once. */
  readonly requeueAfterMs?: number;
}

export interface Reconciler<K extends string = string> {
  reconcile(key: K, signal: AbortSignal): Promise<ReconcileResult>;
}

/** A failure that retrying cannot fix: logged and counted, the key is not requeued. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'TerminalError';
  }
}

/** The runner's metrics (prom-client counters and histograms fit). */
export interface RunnerMetrics {
  readonly queueAdds: { inc(): void };
  readonly queueRetries: { inc(): void };
  /** Seconds a key waited in the queue before a worker took it. */
  readonly queueWait: { observe(seconds: number): void };
  /** Seconds per reconcile, by result (the reconciler's outcome, "error", "terminal" or "aborted"). */
  readonly reconcileDuration: { observe(labels: { result: string }, seconds: number): void };
  readonly reconcileErrors: { inc(): void };
}

export interface RunnerOptions<K extends string> {
  /** What a key names, in log lines ("nad"). */
  readonly kind: string;
  /** Reconciles running at once. */
  readonly workers: number;
  /** Every key is enqueued when run() starts and again this often (a safety net). Default 10 minutes. */
  readonly resyncIntervalMs?: number;
  /** The keys of every object, for the initial run and the resync. */
  readonly keys: () => Iterable<K>;
  /** Keys enqueue() ignores (out of scope); default all are accepted. */
  readonly accepts?: (key: K) => boolean;
  readonly log: Logger;
  readonly metrics?: RunnerMetrics | undefined;
  readonly scheduler?: Scheduler;
  /** Backoff and retry rate of failing keys (the work queue's defaults: 100 ms doubling to 5 min). */
  readonly backoff?: Pick<WorkQueueOptions, 'baseDelayMs' | 'maxDelayMs' | 'retryQps' | 'retryBurst'>;
  /** A failing key is logged at error level once it failed this often (warn before). Default 5. */
  readonly errorAfterRetries?: number;
}

export class ControllerRunner<K extends string = string> {
  private readonly options: RunnerOptions<K>;
  private readonly reconciler: Reconciler<K>;
  private readonly scheduler: Scheduler;
  private queue: WorkQueue<K> | undefined;

  constructor(reconciler: Reconciler<K>, options: RunnerOptions<K>) {
    this.reconciler = reconciler;
    this.options = options;
    this.scheduler = options.scheduler ?? realScheduler;
  }

  /** True between run() starting and its signal aborting. */
  get running(): boolean {
    return this.queue !== undefined;
  }

  /** Keys waiting to be handed out (0 while not running). */
  get queueDepth(): number {
    return this.queue?.length ?? 0;
  }

  /** Resolves once no key is queued or being reconciled (at once while not running). */
  idle(): Promise<void> {
    return this.queue?.idle() ?? Promise.resolve();
  }

  /** Queues a key (ignored while not running, or when out of scope). */
  enqueue(key: K): void {
    if (this.queue && (this.options.accepts?.(key) ?? true)) this.queue.add(key);
  }

  /** Queues every key. */
  enqueueAll(): void {
    if (!this.queue) return;
    for (const key of this.options.keys()) this.enqueue(key);
  }

  /** Runs the workers until signal aborts; resolves once the reconciles in flight returned. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.queue) throw new Error(`the ${this.options.kind} controller is already running`);
    if (signal.aborted) return;
    const { log, metrics } = this.options;
    const queue = new WorkQueue<K>({
      ...this.options.backoff,
      scheduler: this.scheduler,
      onAdd: () => metrics?.queueAdds.inc(),
      onRetry: () => metrics?.queueRetries.inc(),
      onWait: (ms) => metrics?.queueWait.observe(ms / 1000),
    });
    this.queue = queue;
    this.enqueueAll();
    log.info('reconciling', { [`${this.options.kind}s`]: queue.length, workers: this.options.workers });
    let resync: { cancel(): void } | undefined;
    const armResync = (): void => {
      resync = this.scheduler.setTimer(() => {
        this.enqueueAll();
        armResync();
      }, this.options.resyncIntervalMs ?? 600_000);
    };
    armResync();
    const workers = Array.from({ length: Math.max(1, this.options.workers) }, () => this.work(queue, signal));
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    resync?.cancel();
    queue.shutDown();
    this.queue = undefined;
    await Promise.all(workers);
    log.info('stopped reconciling');
  }

  private async work(queue: WorkQueue<K>, signal: AbortSignal): Promise<void> {
    const { log, metrics } = this.options;
    for (let key = await queue.get(); key !== undefined; key = await queue.get()) {
      const started = performance.now();
      let outcome: string;
      try {
        const result = await this.reconciler.reconcile(key, signal);
        outcome = result.outcome;
        queue.forget(key);
        if (result.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        if (signal.aborted) {
          outcome = 'aborted';
        } else if (err instanceof TerminalError) {
          outcome = 'terminal';
          metrics?.reconcileErrors.inc();
          queue.forget(key);
          log.error('reconcile failed; not retrying', { [this.options.kind]: key, error: errorMessage(err) });
        } else {
          outcome = 'error';
          metrics?.reconcileErrors.inc();
          const retries = queue.retries(key);
          log.log(
            retries >= (this.options.errorAfterRetries ?? 5) ? 'error' : 'warn',
            'reconcile failed; retrying with backoff',
            {
              [this.options.kind]: key,
              retries,
              retryInMs: queue.backoffFor(key),
              error: errorMessage(err),
            },
          );
          queue.addRateLimited(key);
        }
      } finally {
        queue.done(key);
      }
      metrics?.reconcileDuration.observe({ result: outcome }, (performance.now() - started) / 1000);
    }
  }
}
